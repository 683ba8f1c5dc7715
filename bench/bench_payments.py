"""Benchmark: applying payments and reading balances, on SQLite and PostgreSQL.

Creates N invoices (bulk insert, as the importer's bulk path does) for N/10
customers, registers N payments and applies each to one invoice through the real
service (one transaction per application, as an API call would), then times one
customer's balance with 10,000 documents. The baseline in the same run is a bare
``UPDATE document SET saldo = saldo - x`` per application: the floor of any
design that keeps a stored balance.

    .venv/bin/python bench/bench_payments.py --n 100000 [--pg URL] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, insert, text

from cfdi_cobranza.db.models import Company, Customer, Document, Payment, Settlement
from cfdi_cobranza.db.session import make_engine, migrate, session_factory
from cfdi_cobranza.services import payments as svc
from cfdi_cobranza.services.ledger import customer_balance
from cfdi_cobranza.services.payments import Allocation

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def seed(engine: Engine, n: int, big_customer_docs: int) -> tuple[list[str], list[int], int]:
    customers = max(1, n // 10)
    with session_factory(engine)() as s, s.begin():
        s.add(Company(rfc="EKU9003173C9", nombre="ESCUELA KEMPER URGATE SA DE CV", created_at=NOW))
        s.flush()
        s.execute(insert(Customer), [{"key": f"CUST{i:06d}", "rfc": f"CUST{i:06d}", "created_at": NOW,
                                      "updated_at": NOW} for i in range(customers + 1)])
    with engine.connect() as c:
        cust_ids = [r[0] for r in c.execute(text("select id from customer order by id"))]
    big = cust_ids[-1]
    uuids = []
    batch: list[dict[str, object]] = []
    total_docs = n + big_customer_docs
    with session_factory(engine)() as s, s.begin():
        for i in range(total_docs):
            uuid = f"{i:08X}-0000-4000-8000-{i:012X}"
            cid = big if i >= n else cust_ids[i % customers]
            amount = Decimal(1000 + i % 5000) + Decimal("0.16")
            batch.append({"uuid": uuid, "company_id": 1, "customer_id": cid, "version": "4.0", "tipo": "I",
                          "fecha": datetime(2025, 1 + i % 12, 1 + i % 28), "fecha_timbrado": datetime(2025, 1, 1),
                          "moneda": "MXN", "subtotal": amount, "total": amount, "saldo": amount,
                          "metodo_pago": "PPD", "sello_sat": "verificado", "sha256": "0" * 64, "xml": b"",
                          "imported_at": NOW, "status": "vigente"})
            if i < n:
                uuids.append(uuid)
            if len(batch) == 5000:
                s.execute(insert(Document), batch)
                batch = []
        if batch:
            s.execute(insert(Document), batch)
        # One payment per invoice, registered in bulk: the benchmark times applying.
        s.execute(insert(Settlement), [{"customer_id": cust_ids[i % customers], "fecha": datetime(2026, 1, 2),
                                        "created_at": NOW} for i in range(n)])
    with engine.connect() as c:
        settlement_ids = [r[0] for r in c.execute(text("select id from settlement order by id"))]
    with session_factory(engine)() as s, s.begin():
        rows = [{"settlement_id": settlement_ids[i], "company_id": 1, "customer_id": cust_ids[i % customers],
                 "fecha_pago": datetime(2026, 1, 2, 12), "forma_pago": "03", "moneda": "MXN",
                 "tipo_cambio": Decimal(1), "monto": Decimal(500), "aplicado": Decimal(0), "status": "activo",
                 "created_at": NOW} for i in range(n)]
        for k in range(0, n, 5000):
            s.execute(insert(Payment), rows[k:k + 5000])
        if engine.dialect.name == "postgresql":
            s.execute(text("ANALYZE"))
    with engine.connect() as c:
        payment_ids = [r[0] for r in c.execute(text("select id from payment order by id"))]
    return uuids, payment_ids, big


def run(label: str, engine: Engine, n: int) -> None:
    migrate(engine)
    t = time.perf_counter()
    uuids, payment_ids, big = seed(engine, n, 10_000)
    print(f"[{label}] seeded {n:,} invoices + 10,000 for one customer, {n:,} payments in {time.perf_counter() - t:.1f} s")
    factory = session_factory(engine)
    t = time.perf_counter()
    for pid, uuid in zip(payment_ids, uuids, strict=True):
        with factory() as s, s.begin():
            svc.apply_payment(s, pid, [Allocation(uuid, "500.00")], actor="bench")
    apply_s = time.perf_counter() - t
    # Baseline: the bare minimum a stored-balance design writes per application.
    t = time.perf_counter()
    with engine.connect() as c:
        for uuid in uuids:
            with c.begin():
                c.execute(text("UPDATE document SET saldo = saldo - 1 WHERE uuid = :u"), {"u": uuid})
    base_s = time.perf_counter() - t
    with factory() as s:
        customer_balance(s, big)  # warm
        reps = 200
        t = time.perf_counter()
        for _ in range(reps):
            bal = customer_balance(s, big)
        bal_ms = (time.perf_counter() - t) / reps * 1000
    print(f"[{label}] applications: {n / apply_s:,.0f}/s ({apply_s / n * 1000:.2f} ms each); "
          f"bare UPDATE baseline {n / base_s:,.0f}/s -> ratio {apply_s / base_s:.1f}x")
    print(f"[{label}] balance of one customer with 10,000 documents: {bal_ms:.2f} ms ({bal})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test",
                    help="admin URL; a scratch database is created and dropped")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
            run("SQLite", engine, args.n)
            engine.dispose()
    if not args.no_pg:
        admin = make_engine(args.pg, isolation_level="AUTOCOMMIT")
        name = "cobranza_bench_payments"
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
        engine = make_engine(args.pg.rsplit("/", 1)[0] + f"/{name}")
        try:
            run("PostgreSQL", engine, args.n)
        finally:
            engine.dispose()
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
