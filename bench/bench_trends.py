"""Cost of the payment trends (``domain.trends``) on a large generated history.

The Tablero computes the trend of every customer over the 9 months the rule reads; the
Reportes page over 24. Both are timed against ``domain.days_late.customer_days_late``
(what the customer summary already computes for every customer) on the same records,
in the same process: the ratio says how much heavier the trends are than the days-late
figures the application already pays for.

Then, through the database (``--db-n`` documents seeded like ``bench_web.py`` in a SQLite
file), the Tablero's sharply-worse list (``services.dashboard.worsening_customers``:
load the portfolio and compute the verdicts) against what the Tablero already computes
beside it: the summary (``dashboard_summary``, SQL aging) and the 12-week projection of
its follow-up panel (which loads the portfolio too), all uncached, in the same process.
The Tablero caches each per ledger version (``web.cache``).

    python bench/bench_trends.py [--customers 2000] [--rounds 3] [--db-n 20000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta

from gen_history import RATES, generate

from cfdi_cobranza.domain.days_late import customer_days_late
from cfdi_cobranza.domain.trends import payment_trends


def _median_ms(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db-n", type=int, default=20000, help="0 skips the database part")
    args = parser.parse_args()
    end = date(2026, 6, 30)
    h = generate(seed=7, customers=args.customers, start=date(2024, 7, 1), end=end)
    print(f"{len(h.docs)} documents, {len(h.applications)} applications, {args.customers} customers")
    base = _median_ms(lambda: customer_days_late(h.docs, h.applications, end, rates_to_mxn=RATES), args.rounds)
    tv = _median_ms(lambda: payment_trends(h.docs, h.applications, end, months=9, rates_to_mxn=RATES,
                                           with_months=False), args.rounds)
    t9 = _median_ms(lambda: payment_trends(h.docs, h.applications, end, months=9, rates_to_mxn=RATES), args.rounds)
    t24 = _median_ms(lambda: payment_trends(h.docs, h.applications, end, months=24, rates_to_mxn=RATES),
                     args.rounds)
    print(f"baseline customer_days_late: {base:8.1f} ms")
    print(f"verdicts only (Tablero):     {tv:8.1f} ms  ratio {tv / base:.2f}")
    print(f"trends, 9 months:            {t9:8.1f} ms  ratio {t9 / base:.2f}")
    print(f"trends, 24 months (Reportes): {t24:7.1f} ms  ratio {t24 / base:.2f}")
    if args.db_n:
        _through_the_database(args.db_n, args.rounds)


def _through_the_database(n: int, rounds: int) -> None:
    import tempfile
    from pathlib import Path

    from bench_web import seed

    from cfdi_cobranza.db.session import make_engine, session_factory
    from cfdi_cobranza.services.collection_reports import projection
    from cfdi_cobranza.services.dashboard import dashboard_summary, worsening_customers

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        seed(url, n)
        engine = make_engine(url)
        as_of = date(2026, 11, 1)
        with session_factory(engine)() as s:
            base = _median_ms(lambda: dashboard_summary(s, as_of), rounds)
            proj = _median_ms(lambda: projection(s, as_of, hasta=as_of + timedelta(weeks=12)), rounds)
            worse = _median_ms(lambda: worsening_customers(s, as_of), rounds)
            found = len(worsening_customers(s, as_of).clientes)
        engine.dispose()
    print(f"database: {n} documents (SQLite), {found} customers worsened sharply")
    print(f"baseline dashboard_summary:  {base:8.1f} ms")
    print(f"Tablero projection (12 wk):  {proj:8.1f} ms  ratio {proj / base:.2f}")
    print(f"worsening_customers:         {worse:8.1f} ms  ratio {worse / base:.2f}  (vs projection {worse / proj:.2f})")


if __name__ == "__main__":
    main()
