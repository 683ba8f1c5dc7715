"""The session-level company boundary (``db.scope``) on both databases: two sessions
limited to different companies, alternating, never see each other's rows (SQLAlchemy
caches the statements: the company ids must be parameters, not frozen in the SQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from cfdi_cobranza.db.models import Company, Customer, Document, FollowUp, Payment, Settlement
from cfdi_cobranza.db.scope import company_ids, limit_to_companies
from cfdi_cobranza.db.session import session_factory, transaction


def _world(engine):
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with transaction(engine) as s:
        a = Company(rfc="AAA010101AAA", nombre="A", created_at=now)
        b = Company(rfc="BBB010101BBB", nombre="B", created_at=now)
        ca = Customer(key="CAA010101AAA", rfc="CAA010101AAA", nombre="Cliente de A", created_at=now, updated_at=now)
        cb = Customer(key="CBB010101BBB", rfc="CBB010101BBB", nombre="Cliente de B", created_at=now, updated_at=now)
        s.add_all([a, b, ca, cb])
        s.flush()
        for i, (company, customer) in enumerate([(a, ca), (b, cb)]):
            s.add(Document(uuid=f"00000000-0000-0000-0000-00000000000{i}", company_id=company.id,
                           customer_id=customer.id, version="4.0", tipo="I", fecha=now.replace(tzinfo=None),
                           fecha_timbrado=now.replace(tzinfo=None), moneda="MXN", subtotal=Decimal("100.00"),
                           total=Decimal("100.00"), saldo=Decimal("100.00"), metodo_pago="PPD",
                           vencimiento=date(2026, 12, 1), sello_sat="verificado", sha256=str(i) * 64, xml=b"<x/>",
                           imported_at=now))
        return a.id, b.id


def test_alternating_limited_sessions_see_only_their_company(engine):
    a, b = _world(engine)
    factory = session_factory(engine)
    for _round in range(3):
        for mine, theirs in ((a, b), (b, a)):
            with factory() as s:
                limit_to_companies(s, [mine])
                assert company_ids(s) == (mine,)
                assert [c.id for c in s.scalars(select(Company))] == [mine]
                docs = s.scalars(select(Document)).all()
                assert {d.company_id for d in docs} == {mine}
                assert s.scalar(select(func.sum(Document.saldo))) == Decimal("100.00")
                assert len(s.scalars(select(Customer)).all()) == 1
                other_doc = s.scalar(select(Document.id).where(Document.company_id == theirs))
                assert other_doc is None
                alias = aliased(Document)
                assert s.scalar(select(func.count()).select_from(alias)) == 1
    with factory() as s:  # unlimited
        assert s.scalar(select(func.count()).select_from(Document)) == 2
        assert len(s.scalars(select(Customer)).all()) == 2


def test_get_and_updates_respect_the_boundary(engine):
    a, b = _world(engine)
    with transaction(engine) as s:
        other = s.scalar(select(Document.id).where(Document.company_id == b))
    factory = session_factory(engine)
    with factory() as s:
        limit_to_companies(s, [a])
        assert s.get(Document, other) is None
        from sqlalchemy import update
        s.execute(update(Document).values(saldo=Decimal("0")).execution_options(synchronize_session=False))
        s.commit()
    with transaction(engine) as s:
        rows = dict(s.execute(select(Document.company_id, Document.saldo)).all())
        assert rows == {a: Decimal("0.00"), b: Decimal("100.00")}


def test_unused_models_are_importable():
    assert FollowUp and Payment and Settlement
