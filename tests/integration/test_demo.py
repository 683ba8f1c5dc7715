"""The demo seed goes through the real paths and leaves a portfolio worth looking at."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from cfdi_cobranza.db.models import Document, Payment, Rep
from cfdi_cobranza.db.models.users import User
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.aging import AgingBuckets, days_overdue
from cfdi_cobranza.services.demo import seed_demo


def test_demo_seed(sqlite_engine, settings):
    now = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    out = seed_demo(sqlite_engine, settings, clock=lambda: now).to_dict()
    assert out["creados"] >= 40 and not out["rechazados"]
    assert {u["rol"] for u in out["usuarios"]} == {"administrador", "facturacion", "contabilidad", "cobranza", "consulta"}
    assert (settings.instance_path / "demo-usuarios.txt").stat().st_mode & 0o777 == 0o600
    with transaction(sqlite_engine) as s:
        docs = s.scalars(select(Document).where(Document.tipo == "I", Document.saldo > 0)).all()
        buckets = AgingBuckets.parse(None)
        labels = {buckets.index_for(days_overdue(d.vencimiento, now.date())) for d in docs}
        assert len(labels) == 5, labels  # every aging bucket has documents
        assert s.scalar(select(func.count(Payment.id))) == 3
        assert s.scalar(select(Rep.status)) == "timbrado"
        assert s.scalar(select(func.count(User.id))) == 5
        from cfdi_cobranza.db.models.collections import FollowUp

        assert s.scalar(select(func.count(FollowUp.id))) == 4
    with transaction(sqlite_engine) as s:
        from cfdi_cobranza.services.followups import promise_outcomes

        broken = promise_outcomes(s, now.date(), only_broken=True)
        assert len(broken) == 1 and broken[0].promise.rfc == "TNO160830RT4"
    again = seed_demo(sqlite_engine, settings, clock=lambda: now).to_dict()
    assert again["creados"] == 0  # never seeds twice


def test_dashboard_counts_match_the_document_list(engine, settings):
    """open_counts (one aggregate query) agrees with the per-document list at two fechas de corte."""
    from datetime import date

    from cfdi_cobranza.services.collection_reports import open_counts
    from cfdi_cobranza.services.ledger import list_documents

    now = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    seed_demo(engine, settings, clock=lambda: now)
    for as_of in (date(2026, 11, 22), date(2026, 11, 19)):
        with transaction(engine) as s:
            rows = list_documents(s, open_only=True, as_of=as_of)
            overdue, customers = open_counts(s, as_of)
        expected: dict[str, int] = {}
        for r in rows:
            if r.vencimiento < as_of:
                expected[r.moneda] = expected.get(r.moneda, 0) + 1
        assert overdue == expected
        assert customers == len({r.customer_rfc for r in rows})
