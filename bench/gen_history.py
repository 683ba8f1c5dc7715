"""Seeded generator of a receivables history with varied payment behaviour.

Customers follow one profile each (punctual, early, ~15 days late, ~45 days late,
erratic, pays in two parts, new with little history); invoices in MXN and USD with
terms of 0-60 days; some credit notes; promises de pago, most kept and some broken.
Nothing is paid after ``end`` (that is "today"), so the last documents stay open.

    python bench/gen_history.py --seed 7      # prints a summary
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from cfdi_cobranza.domain.forecast import History
from cfdi_cobranza.domain.promises import Promise
from cfdi_cobranza.domain.receivables import Application, ApplicationKind, Receivable

RATES = {"USD": Decimal("17.50")}
TERMS = (0, 15, 30, 30, 30, 45, 60)

Delay = Callable[[random.Random], int]
PROFILES: dict[str, Delay] = {
    "puntual": lambda r: r.randint(-2, 2),
    "anticipado": lambda r: r.randint(-9, -4),
    "tarde_15": lambda r: 15 + r.randint(-3, 3),
    "lento_45": lambda r: 45 + r.randint(-8, 8),
    "erratico": lambda r: r.randint(-5, 5) if r.random() < 0.5 else r.randint(20, 75),
    "parcial": lambda r: r.randint(0, 6),  # first half; the rest ~30 days later
    "nuevo": lambda r: 20 + r.randint(-4, 4),
}
WEIGHTS = {
    "puntual": 4,
    "anticipado": 1,
    "tarde_15": 4,
    "lento_45": 2,
    "erratico": 3,
    "parcial": 2,
    "nuevo": 1,
}


def _cents(rng: random.Random, median: float) -> Decimal:
    # lognormal amounts; floats are only the random source, money is built from integer cents
    return Decimal(int(rng.lognormvariate(0, 0.8) * median * 100)).scaleb(-2)


def generate(
    seed: int = 7,
    customers: int = 80,
    start: date = date(2025, 1, 1),
    end: date = date(2026, 6, 30),
) -> History:
    rng = random.Random(seed)
    docs: list[Receivable] = []
    apps: list[Application] = []
    promises: list[Promise] = []
    names = list(PROFILES)
    weights = [WEIGHTS[n] for n in names]
    for c in range(customers):
        profile = rng.choices(names, weights)[0]
        delay = PROFILES[profile]
        rfc = f"CLI{c:03d}0101AA{c % 10}"
        moneda = "USD" if rng.random() < 0.15 else "MXN"
        median = 1500.0 if moneda == "USD" else 25000.0
        term = rng.choice(TERMS)
        first = start + timedelta(days=rng.randint(0, 60))
        if profile == "nuevo":
            first = end - timedelta(days=rng.randint(60, 150))
        day = first
        n = 0
        while day <= end:
            n += 1
            doc_id = f"{rfc}-{n:04d}"
            total = _cents(rng, median)
            due = day + timedelta(days=term)
            docs.append(
                Receivable(
                    doc_id=doc_id,
                    rfc=rfc,
                    nombre=f"Cliente {c:03d} ({profile})",
                    moneda=moneda,
                    total=total,
                    fecha=day,
                    vencimiento=due,
                    referencia=f"A{n}",
                    vendedor=f"V{c % 5}",
                    zona=f"Z{c % 3}",
                )
            )
            owed = total
            if rng.random() < 0.05:
                note = (total * Decimal("0.10")).quantize(Decimal("0.01"))
                nc_day = day + timedelta(days=rng.randint(1, 10))
                if note > 0 and nc_day <= end:
                    apps.append(Application(doc_id, nc_day, note, ApplicationKind.NOTA_CREDITO))
                    owed -= note
            pay_day = due + timedelta(days=delay(rng))
            pay_day = max(pay_day, day)  # nobody pays before the invoice exists
            parts: list[tuple[date, Decimal]]
            if profile == "parcial":
                half = (owed / 2).quantize(Decimal("0.01"))
                parts = [
                    (pay_day, half),
                    (pay_day + timedelta(days=rng.randint(25, 35)), owed - half),
                ]
            else:
                parts = [(pay_day, owed)]
            last_day = parts[-1][0]
            for k, (when, amount) in enumerate(parts):
                if when <= end and amount > 0:
                    apps.append(Application(doc_id, when, amount, payment_id=f"P-{doc_id}-{k}"))
            # Collectors call late payers a few days after the due date.
            call = due + timedelta(days=5)
            if last_day - due > timedelta(days=10) and rng.random() < 0.3 and call < last_day:
                if rng.random() < 0.75:  # kept: paid on or before the promised day
                    promised = last_day - timedelta(days=rng.randint(-3, 0))
                else:  # broken: promised a day well before paying
                    promised = max(call, last_day - timedelta(days=rng.randint(7, 20)))
                if call <= end:
                    promises.append(
                        Promise(
                            f"PR-{doc_id}",
                            rfc,
                            call,
                            promised,
                            owed if profile != "parcial" else owed - parts[0][1],
                            moneda,
                            (doc_id,),
                        )
                    )
            day += timedelta(days=rng.randint(5, 30))
    return History(tuple(docs), tuple(apps), tuple(promises))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=80)
    args = parser.parse_args()
    history = generate(args.seed, args.customers)
    profiles = Counter(
        d.nombre.split("(")[1].rstrip(")") for d in {d.rfc: d for d in history.docs}.values()
    )
    print(
        f"documentos: {len(history.docs)}  aplicaciones: {len(history.applications)}  "
        f"promesas: {len(history.promises)}"
    )
    print("perfiles:", dict(sorted(profiles.items())))


if __name__ == "__main__":
    main()
