"""The company printed on a customer's estado de cuenta: one rule for the CLI and the web."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import insert

from cfdi_cobranza.db.models import Company, Customer, Document
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services.ledger import statement_letterhead

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _invoices(session, customer_id: int, company_ids: list[int]) -> None:
    start = session.query(Document).count()
    session.execute(insert(Document), [
        {"uuid": f"{start + i:08d}-0000-4000-8000-000000000000", "company_id": company_id,
         "customer_id": customer_id, "version": "4.0", "tipo": "I", "fecha": datetime(2026, 1, 1),
         "fecha_timbrado": datetime(2026, 1, 1), "moneda": "MXN", "subtotal": Decimal(10), "total": Decimal(10),
         "saldo": Decimal(10), "vencimiento": date(2026, 2, 1), "sello_sat": "verificado", "sha256": "0" * 64,
         "xml": b"", "imported_at": NOW, "status": "vigente"}
        for i, company_id in enumerate(company_ids)
    ])


def test_letterhead_is_the_company_that_invoiced_most(engine):
    with transaction(engine) as s:
        assert statement_letterhead(s, 1).nombre == "Cuentas por cobrar"  # no company at all
        s.add_all([Company(rfc="AAA010101AAA", nombre="PRIMERA", created_at=NOW),
                   Company(rfc="EKU9003173C9", nombre="SEGUNDA", created_at=NOW),
                   Company(rfc="BBB010101BBB", created_at=NOW)])
        s.add_all([Customer(key=rfc, rfc=rfc, created_at=NOW, updated_at=NOW)
                   for rfc in ("URE180429TM6", "XIA190128J61", "MISC491214B86")])
        s.flush()
        _invoices(s, 1, [1, 2, 2])  # the second company invoiced it most
        _invoices(s, 2, [3, 1])  # a tie: the one that invoiced first
    with transaction(engine) as s:
        assert (statement_letterhead(s, 1).rfc, statement_letterhead(s, 1).nombre) == ("EKU9003173C9", "SEGUNDA")
        assert (statement_letterhead(s, 2).rfc, statement_letterhead(s, 2).nombre) == ("BBB010101BBB", "BBB010101BBB")
        assert statement_letterhead(s, 3).rfc == "AAA010101AAA"  # never invoiced: the first company
