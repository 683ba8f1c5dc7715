"""Balance queries read an index, never the whole document table."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import insert, text

from cfdi_cobranza.db.models import Company, Customer, Document
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services.ledger import balance_query_plan, customer_balance


def _seed(engine, n_customers=50, per_customer=40):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with transaction(engine) as s:
        s.add(Company(rfc="EKU9003173C9", created_at=now))
        s.flush()
        s.execute(insert(Customer), [{"key": f"C{i}", "rfc": f"C{i}", "created_at": now, "updated_at": now}
                                     for i in range(n_customers)])
        cust_ids = [r[0] for r in s.execute(text("select id from customer order by id"))]
        rows = []
        for ci, cid in enumerate(cust_ids):
            for j in range(per_customer):
                amount = Decimal(100 + j) + Decimal("0.25")
                rows.append({"uuid": f"{ci:08d}-0000-0000-0000-{j:012d}", "company_id": 1, "customer_id": cid,
                             "version": "4.0", "tipo": "I", "fecha": datetime(2026, 1, 1), "fecha_timbrado": datetime(2026, 1, 1),
                             "moneda": "USD" if j % 5 == 0 else "MXN", "subtotal": amount, "total": amount,
                             "saldo": amount if j % 2 else Decimal(0), "sello_sat": "verificado", "sha256": "0" * 64,
                             "xml": b"", "imported_at": now, "status": "vigente"})
        s.execute(insert(Document), rows)
        if engine.dialect.name == "postgresql":
            s.execute(text("ANALYZE document"))
        return cust_ids


def test_customer_balance_is_exact_and_indexed(engine):
    cust_ids = _seed(engine)
    with transaction(engine) as s:
        bal = customer_balance(s, cust_ids[3])
        # odd j are open: j in 1..39 step 2; USD when j % 5 == 0 (j = 5, 15, 25, 35)
        usd = sum(Decimal(100 + j) + Decimal("0.25") for j in range(1, 40, 2) if j % 5 == 0)
        mxn = sum(Decimal(100 + j) + Decimal("0.25") for j in range(1, 40, 2) if j % 5 != 0)
        assert bal == {"MXN": mxn, "USD": usd}
        plan = balance_query_plan(s, cust_ids[3]).lower()
    if engine.dialect.name == "sqlite":
        assert "search document using" in plan and "index" in plan, plan
    else:
        with transaction(engine) as s:
            s.execute(text("SET LOCAL enable_seqscan = off"))
            forced = balance_query_plan(s, cust_ids[3]).lower()
        assert "index" in forced, forced
        assert "seq scan on document" not in forced, forced
