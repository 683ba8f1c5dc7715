"""Money is exact in both databases: no float ever sneaks in."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cfdi_cobranza.db.models import Company, Credit, Customer, Document
from cfdi_cobranza.db.session import transaction


def _doc(company: Company, customer: Customer, uuid: str, total: Decimal) -> Document:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Document(
        uuid=uuid, company_id=company.id, customer_id=customer.id, version="4.0", tipo="I",
        fecha=datetime(2026, 1, 1, 10, 0), fecha_timbrado=datetime(2026, 1, 1, 10, 1), moneda="MXN",
        subtotal=total, total=total, saldo=total, sello_sat="verificado", sha256="0" * 64, xml=b"<x/>",
        imported_at=now,
    )


def _setup(session):  # type: ignore[no-untyped-def]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    company = Company(rfc="EKU9003173C9", created_at=now)
    customer = Customer(key="XAXX010101000|X", rfc="XAXX010101000", created_at=now, updated_at=now)
    session.add_all([company, customer])
    session.flush()
    return company, customer


def test_tenth_plus_fifth_is_exactly_three_tenths(engine):
    with transaction(engine) as session:
        company, customer = _setup(session)
        session.add(_doc(company, customer, "A" * 36, Decimal("0.10")))
        session.add(_doc(company, customer, "B" * 36, Decimal("0.20")))
    with transaction(engine) as session:
        total = session.execute(select(func.sum(Document.total))).scalar_one()
        assert isinstance(total, Decimal)
        assert total == Decimal("0.30")
        assert str(total.quantize(Decimal("0.01"))) == "0.30"
        values = sorted(session.scalars(select(Document.total)))
        assert values == [Decimal("0.10"), Decimal("0.20")]
        assert all(isinstance(v, Decimal) for v in values)


def test_two_million_pesos_with_centavos_survive(engine):
    amount = Decimal("2000000.01")
    with transaction(engine) as session:
        company, customer = _setup(session)
        doc = _doc(company, customer, "C" * 36, amount)
        session.add(doc)
        session.flush()
        session.add(Credit(kind="pago", target_uuid=doc.uuid, document_id=doc.id, amount=Decimal("1999999.99"),
                           fecha=datetime(2026, 1, 2)))
    with transaction(engine) as session:
        doc = session.scalar(select(Document))
        assert doc.total == amount
        paid = session.execute(select(func.sum(Credit.amount))).scalar_one()
        assert doc.total - paid == Decimal("0.02")


def test_more_decimals_than_the_column_holds_is_refused(engine):
    with pytest.raises(Exception, match="decimals"), transaction(engine) as session:
        company, customer = _setup(session)
        session.add(_doc(company, customer, "D" * 36, Decimal("1.0000001")))


def test_float_is_refused(engine):
    with pytest.raises(Exception, match="float"), transaction(engine) as session:
        company, customer = _setup(session)
        session.add(_doc(company, customer, "E" * 36, 0.1))  # type: ignore[arg-type]
