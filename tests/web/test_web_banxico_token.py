"""Configuración › Cobranza keeps the Banxico SIE token sealed; the environment variable wins."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import AuditEntry
from cfdi_cobranza.db.models.sat import BanxicoSetting
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import ConfigurationError
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import rates

TOKEN = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0abcd"


def test_token_saved_sealed_used_and_cleared(client, login):
    engine = client.application.extensions["cobranza_engine"]
    box = SecretBox.for_instance(client.application.config["COBRANZA_SETTINGS"].instance_path)
    token = login(client, "contabilidad")
    assert "sin token" in client.get("/configuracion/cobranza").get_data(as_text=True)
    resp = client.post("/configuracion/cobranza/banxico", data={"csrf_token": token, "token": "corto"})
    assert resp.status_code == 400 and "token del SIE" in resp.get_data(as_text=True)
    resp = client.post("/configuracion/cobranza/banxico", data={"csrf_token": token, "token": TOKEN})
    assert resp.status_code == 302
    page = client.get("/configuracion/cobranza").get_data(as_text=True)
    assert "guardado" in page and TOKEN not in page
    with transaction(engine) as s:
        row = s.get(BanxicoSetting, 1)
        assert row is not None and TOKEN.encode() not in row.token_sealed
        audits = [a.detail for a in s.scalars(select(AuditEntry).where(AuditEntry.action == "token_banxico"))]
        assert audits == ['{"guardado": true}'] and all(TOKEN not in (d or "") for d in audits)
        assert rates.banxico_token(s, box, environ={}) == TOKEN
        assert rates.banxico_token(s, box, environ={"COBRANZA_BANXICO_TOKEN": "del-entorno"}) == "del-entorno"
    other = client.application.test_client()
    reader = login(other, "consulta")
    assert other.post("/configuracion/cobranza/banxico", data={"csrf_token": reader, "borrar": "1"}).status_code == 403
    token = login(client, "administrador")
    resp = client.post("/configuracion/cobranza/banxico", data={"csrf_token": token, "borrar": "1"})
    assert resp.status_code == 302
    with transaction(engine) as s:
        assert s.get(BanxicoSetting, 1) is None


def test_service_token_round_trip(sqlite_engine, tmp_path):
    box = SecretBox.for_instance(Settings(database_url="sqlite://", instance_path=tmp_path / "i").instance_path)
    with transaction(sqlite_engine) as s:
        with pytest.raises(ConfigurationError) as info:
            rates.banxico_token(s, box, environ={})
        assert info.value.code == "BANXICO_TOKEN_REQUERIDO"
        rates.set_banxico_token(s, TOKEN, box, actor="ana")
    with transaction(sqlite_engine) as s:
        assert rates.banxico_token(s, box, environ={}) == TOKEN
