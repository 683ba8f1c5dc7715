"""The Tablero's figures come from aggregate SQL and survive a currency without a known rate."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import insert

from cfdi_cobranza.db.models import Company, Customer, Document
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services.dashboard import dashboard_summary


def test_dashboard_without_exchange_rate(engine):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with transaction(engine) as s:
        s.add(Company(rfc="EKU9003173C9", created_at=now))
        s.add(Customer(key="URE180429TM6", rfc="URE180429TM6", created_at=now, updated_at=now))
        s.flush()
        rows = []
        for i, (moneda, amount, due) in enumerate([("MXN", "100.00", date(2026, 3, 1)), ("USD", "50.00", date(2026, 1, 10)),
                                                   ("USD", "25.50", date(2026, 2, 20))]):
            rows.append({"uuid": f"{i:08d}-0000-4000-8000-000000000000", "company_id": 1, "customer_id": 1,
                         "version": "4.0", "tipo": "I", "fecha": datetime(2026, 1, 1), "fecha_timbrado": datetime(2026, 1, 1),
                         "moneda": moneda, "subtotal": Decimal(amount), "total": Decimal(amount),
                         "saldo": Decimal(amount), "vencimiento": due, "sello_sat": "verificado", "sha256": "0" * 64,
                         "xml": b"", "imported_at": now, "status": "vigente"})
        s.execute(insert(Document), rows)
    with transaction(engine) as s:
        summary = dashboard_summary(s, date(2026, 2, 1), buckets="0,30,60,90")
    by = {m.moneda: m for m in summary.monedas}
    assert by["MXN"].por_cobrar == Decimal("100.00") and by["MXN"].vencido == 0
    assert by["USD"].por_cobrar == Decimal("75.50") and by["USD"].vencido == Decimal("50.00")
    assert (by["USD"].documentos, by["USD"].documentos_vencidos) == (2, 1)
    assert summary.clientes_con_saldo == 1


def test_app_configured_only_from_the_environment(tmp_path, sqlite_template, monkeypatch):
    """As gunicorn runs it: create_app() with no config dict, everything from COBRANZA_* variables."""
    import shutil

    from cfdi_cobranza.services import users as users_service
    from web import create_app

    db = tmp_path / "env.db"
    shutil.copy(sqlite_template, db)
    monkeypatch.setenv("COBRANZA_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("COBRANZA_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("COBRANZA_SECRET_KEY", "clave-de-entorno")
    app = create_app()
    with transaction(app.extensions["cobranza_engine"]) as s:
        users_service.add_user(s, "administrador", "Clave-de-prueba-1", "administrador", hash_method="pbkdf2:sha256:1000")
    client = app.test_client()
    from web_support import csrf_of

    token = csrf_of(client)
    resp = client.post("/login", data={"username": "administrador", "password": "Clave-de-prueba-1", "csrf_token": token})
    assert resp.status_code == 302
    for path in ("/", "/documentos/", "/reportes/antiguedad", "/rep/", "/seguimiento/"):
        assert client.get(path).status_code == 200, path
    app.extensions["cobranza_engine"].dispose()
