"""Configuración → Empresas → PAC: administrador only, CSRF, secrets sealed and never echoed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from cfdi_cobranza.db.models import AuditEntry
from cfdi_cobranza.db.models.settings import PacSetting
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import users as users_service

URL = "/configuracion/empresas/pac"
PAGE = "/configuracion/empresas/"
SECRET = "Pw-Finkok-7c1e9a"
TOKEN = "tok-SW-5d2b8f0a"


def _state(engine):
    with transaction(engine) as s:
        return (s.scalar(select(func.count()).select_from(PacSetting)),
                s.scalar(select(func.count()).select_from(AuditEntry)))


def _form(csrf_value, **kw):
    data = {"csrf_token": csrf_value, "name": "finkok", "env": "test", "user": "cuenta@empresa.mx",
            "password": SECRET, "token": "", "url": ""}
    data.update(kw)
    return data


def test_admin_saves_and_password_is_never_echoed(client, login, engine, sandbox_env):
    token = login(client, "administrador")
    page = client.get(PAGE).get_data(as_text=True)
    assert 'id="pac-form"' in page and "SIN VALIDEZ FISCAL" in page and "Predeterminado" in page
    assert 'id="pac-entorno"' not in page

    resp = client.post(URL, data=_form(token), follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "PAC guardado: Finkok" in html
    assert SECRET not in html and 'id="pac-contrasena-guardada"' in html
    assert 'value="cuenta@empresa.mx"' in html and "Esta configuración" in html
    assert 'id="pac-sandbox"' not in html
    with transaction(engine) as s:
        row = s.get(PacSetting, 1)
        assert (row.name, row.env, row.user, row.updated_by) == ("finkok", "test", "cuenta@empresa.mx",
                                                                 "administrador")
        audit = s.scalar(select(AuditEntry).where(AuditEntry.action == "configurar_pac"))
        assert audit.actor == "administrador" and SECRET not in (audit.detail or "")
    with engine.connect() as conn:
        raw = bytes(conn.execute(text("SELECT password_sealed FROM pac_setting")).scalar_one())
    assert SECRET.encode() not in raw

    # An empty password keeps the stored one; a token can be added for SW.
    resp = client.post(URL, data=_form(token, name="sw", password="", token=TOKEN), follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "PAC guardado: SW Sapien" in html and TOKEN not in html and SECRET not in html
    assert 'id="pac-token-guardado"' in html and 'id="pac-contrasena-guardada"' in html
    with transaction(engine) as s:
        assert bytes(s.get(PacSetting, 1).password_sealed) == raw

    # Back to the sandbox: clearly without fiscal validity.
    resp = client.post(URL, data=_form(token, name="sandbox", user="", password=""), follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "SIN VALIDEZ FISCAL" in html and 'id="pac-sandbox"' in html


def test_environment_override_is_shown(client, login, engine, sandbox_env, monkeypatch):
    token = login(client, "administrador")
    monkeypatch.setenv("COBRANZA_PAC", "sandbox")
    resp = client.post(URL, data=_form(token, name="sw", user="", password="", token=TOKEN), follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "tiene prioridad" in html and 'id="pac-entorno"' in html
    assert "Variables de entorno del servidor" in html and "SIN VALIDEZ FISCAL" in html  # the env's sandbox


@pytest.mark.parametrize(("kw", "message"), [
    ({"password": ""}, "Finkok necesita el usuario y la contraseña"),
    ({"name": "sandbox", "env": "production", "password": ""}, "no tiene ambiente de producción"),
    ({"url": "ftp://pac.example.com"}, "La URL del PAC debe empezar con http"),
    ({"name": "quien-sabe"}, "Elija el PAC"),
])
def test_bad_input_spanish_message_nothing_written(client, login, engine, sandbox_env, kw, message):
    token = login(client, "administrador")
    before = _state(engine)
    resp = client.post(URL, data=_form(token, **kw))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="error-pac"' in html and message in html
    assert SECRET not in html
    assert _state(engine) == before == (0, before[1])


@pytest.mark.parametrize("role", [r for r in users_service.ROLES if r != "administrador"])
def test_other_roles_refused(client, login, engine, sandbox_env, role):
    token = login(client, role)
    before = _state(engine)
    resp = client.post(URL, data=_form(token))
    assert resp.status_code == 403
    assert _state(engine) == before
    page = client.get(PAGE)
    if page.status_code == 200:  # contabilidad sees the PAC in use, not the form
        html = page.get_data(as_text=True)
        assert 'id="pac-form"' not in html and "Solo un administrador" in html


def test_csrf_refused_writes_nothing(client, login, engine, sandbox_env):
    login(client, "administrador")
    before = _state(engine)
    data = _form("token-falso")
    assert client.post(URL, data=data).status_code == 400
    del data["csrf_token"]
    assert client.post(URL, data=data).status_code == 400
    assert _state(engine) == before


def test_a_company_gets_its_own_account_and_goes_back(client, login, engine, imported, sandbox_env):
    from cfdi_cobranza.db.models.settings import CompanyPacSetting

    token = login(client, "administrador")
    url = "/configuracion/empresas/ISD950921HE5/pac"
    resp = client.post(url, data=_form(token), follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "ISD950921HE5 timbra con su propia cuenta: Finkok" in html
    assert SECRET not in html and "Cuenta de PAC: <strong>propia</strong>" in html
    with transaction(engine) as s:
        row = s.scalar(select(CompanyPacSetting))
        assert row is not None and row.user == "cuenta@empresa.mx" and SECRET.encode() not in row.password_sealed
        assert s.scalar(select(func.count()).select_from(PacSetting)) == 0  # the installation's is untouched
    assert client.post("/configuracion/empresas/XAXX010101000/pac", data=_form(token)).status_code == 404
    resp = client.post(url, data={"csrf_token": token, "usar_instalacion": "1"}, follow_redirects=True)
    assert "ISD950921HE5 timbra con el PAC de la instalación." in resp.get_data(as_text=True)
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(CompanyPacSetting)) == 0
