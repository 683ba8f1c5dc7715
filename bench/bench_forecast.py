"""Backtest of the income projection: hide the last 90 days of a generated history.

For each seed, both projections are made at the cutoff (end - 90 days) with only what
was known then, and compared per ISO week and per month with the payments that really
arrived on the documents open at the cutoff. The baseline is the due-date-only
projection, measured in the same run; a ratio below 1 means the behavioural projection
errs less. Variants of the behavioural side:

* ``mediana``: each customer's median delay only;
* ``+condicional``: documents already later than the median use the median of the
  customer's later settlements (the default of ``forecast.delay_model``);
* ``+promesas``: the default plus promesas de pago overriding their documents.

    python bench/bench_forecast.py [--seeds 1-30] [--customers 80] [--detail 7]
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from decimal import Decimal

from gen_history import RATES, generate

from cfdi_cobranza.domain.forecast import BacktestResult, History, backtest
from cfdi_cobranza.domain.period import Granularity

VARIANTS = (
    ("mediana", False, False),
    ("+condicional", True, False),
    ("+promesas", True, True),
)


def _seeds(text: str) -> list[int]:
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(s) for s in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="1-30")
    parser.add_argument("--customers", type=int, default=80)
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--detail", type=int, default=7, help="seed whose weeks are printed")
    args = parser.parse_args()
    seeds = _seeds(args.seeds)
    started = time.perf_counter()
    results: dict[tuple[str, str], list[BacktestResult]] = {}
    detail: BacktestResult | None = None
    for seed in seeds:
        history = generate(seed, args.customers)
        cutoff = max(d.fecha for d in history.docs) - timedelta(days=args.horizon)
        bare = History(history.docs, history.applications)
        for gran in (Granularity.SEMANA, Granularity.MES):
            for name, conditional, promises in VARIANTS:
                res = backtest(
                    history if promises else bare,
                    cutoff,
                    horizon_days=args.horizon,
                    granularity=gran,
                    rates_to_mxn=RATES,
                    conditional=conditional,
                )
                results.setdefault((gran.value, name), []).append(res)
                if seed == args.detail and gran is Granularity.SEMANA and promises:
                    detail = res
    elapsed = time.perf_counter() - started

    print(
        f"{len(seeds)} historias x {args.customers} clientes, horizonte {args.horizon} días, "
        f"{elapsed:.1f} s"
    )
    print(
        f"{'periodo':<7} {'variante':<13} {'MAE comport.':>13} {'MAE vencim.':>12} "
        f"{'ratio':>6} {'WAPE comp.':>10} {'WAPE venc.':>10}"
    )
    for (gran, name), rows in results.items():
        n = len(rows)
        mae_b = sum((r.mae_comportamiento for r in rows), Decimal(0)) / n
        mae_d = sum((r.mae_vencimiento for r in rows), Decimal(0)) / n
        wape_b = sum((r.wape_comportamiento for r in rows), Decimal(0)) / n
        wape_d = sum((r.wape_vencimiento for r in rows), Decimal(0)) / n
        print(
            f"{gran:<7} {name:<13} {mae_b:>13,.0f} {mae_d:>12,.0f} {mae_b / mae_d:>6.3f} "
            f"{wape_b:>10.3f} {wape_d:>10.3f}"
        )
    if detail is not None:
        print(f"\nsemilla {args.detail}, corte {detail.corte}, por semana (MXN):")
        print(f"{'semana':<9} {'real':>12} {'comport.':>12} {'vencim.':>12}")
        for p in detail.periodos:
            print(
                f"{p.periodo.etiqueta:<9} {p.real:>12,.0f} {p.por_comportamiento:>12,.0f} "
                f"{p.por_vencimiento:>12,.0f}"
            )


if __name__ == "__main__":
    main()
