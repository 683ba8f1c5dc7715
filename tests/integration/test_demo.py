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
    out = seed_demo(sqlite_engine, settings, clock=lambda: now)
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
    again = seed_demo(sqlite_engine, settings, clock=lambda: now)
    assert again["creados"] == 0  # never seeds twice
