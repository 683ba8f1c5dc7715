"""Benchmark: what logging each letter with its own PDF (issue 17) adds to a letter batch.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_letters_log.py [CUSTOMERS] [DOCS] [ROUNDS]``.
Baseline, same process: the batch PDF alone (what ``cobranza letters`` rendered before).
Now: the batch PDF plus one PDF per customer (what ``record_letters`` stores). Rounds
alternate the two and the medians are compared. The database insert is not timed here
(one row per customer, written in the same transaction).
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal

from cfdi_cobranza.domain.statement import Company
from cfdi_cobranza.pdf import letters as pdf_letters

AS_OF = date(2026, 10, 31)


def _letters(customers: int, docs: int) -> list[pdf_letters.LetterData]:
    out = []
    for c in range(customers):
        lines = tuple(pdf_letters.LetterDocument(
            serie_folio=f"A-{c * docs + d}", uuid=f"{c:08X}-0000-4000-8000-{d:012d}", fecha=AS_OF - timedelta(days=90),
            vencimiento=AS_OF - timedelta(days=30 + d), dias_vencidos=30 + d, moneda="MXN",
            total=Decimal("11600.00"), saldo=Decimal("5800.50")) for d in range(docs))
        out.append(pdf_letters.LetterData(
            company=Company(nombre="EMPRESA DEMO SA DE CV", rfc="EKU9003173C9"),
            customer=pdf_letters.Customer(nombre=f"CLIENTE {c} SA DE CV", rfc=f"XAXX{c:06d}000"),
            fecha=AS_OF, kind=pdf_letters.LetterKind.RECORDATORIO_1, documents=lines, fecha_corte=AS_OF))
    return out


def main() -> None:
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    docs = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    letters = _letters(customers, docs)
    pdf_letters.render_letters_batch(letters[:2])  # warm-up: fonts, templates
    before: list[float] = []
    after: list[float] = []
    stored = 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        pdf_letters.render_letters_batch(letters)
        before.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        pdf_letters.render_letters_batch(letters)
        stored = sum(len(pdf_letters.render_letters_batch([lt])) for lt in letters)
        after.append(time.perf_counter() - t0)
    b, a = statistics.median(before), statistics.median(after)
    print(f"{customers} clientes x {docs} documentos, {rounds} rondas alternadas (medianas)")
    print(f"  antes (solo el lote)           : {b * 1000:9.1f} ms")
    print(f"  ahora (lote + un PDF por carta): {a * 1000:9.1f} ms  (x{a / b:.2f})")
    print(f"  PDF guardados: {stored / 1024:.0f} KB en total, {stored / customers / 1024:.1f} KB por carta")


if __name__ == "__main__":
    main()
