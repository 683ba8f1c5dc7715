"""JSON API: Bearer tokens, errors as JSON in Spanish, OpenAPI in step with the routes."""

from __future__ import annotations

import io
import re

from sqlalchemy import select
from web_support import REAL_UUID, REAL_XML

from cfdi_cobranza.db.models.users import ApiToken
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import users as users_service


def _token(engine, role):
    with transaction(engine) as s:
        return users_service.create_token(s, f"sistema-{role}", role, created_by="administrador")[1]


def test_missing_and_invalid_token_401_json(client):
    resp = client.get("/api/v1/documents")
    assert resp.status_code == 401 and resp.json["error"]["code"] == "NO_AUTENTICADO"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = client.get("/api/v1/documents", headers={"Authorization": "Bearer cbz_inventado"})
    assert resp.status_code == 401 and resp.json["error"]["code"] == "TOKEN_INVALIDO"
    assert "token" in resp.json["error"]["message"]


def test_session_cookie_does_not_open_the_api(client, login):
    login(client, "administrador")
    assert client.get("/api/v1/customers").status_code == 401


def test_revoked_token_refused(client, engine):
    tok = _token(engine, "consulta")
    with transaction(engine) as s:
        token_id = s.scalar(select(ApiToken.id))
        users_service.revoke_token(s, token_id, actor="pruebas")
    assert client.get("/api/v1/customers", headers={"Authorization": f"Bearer {tok}"}).status_code == 401


def test_upload_and_read(client, engine):
    tok = _token(engine, "facturacion")
    headers = {"Authorization": f"Bearer {tok}"}
    resp = client.post("/api/v1/cfdi", headers=headers,
                       data={"archivo": [(io.BytesIO(REAL_XML.read_bytes()), "a.xml"), (io.BytesIO(b"nada"), "b.xml")]},
                       content_type="multipart/form-data")
    assert resp.status_code == 200
    assert resp.json["summary"]["imported"] == 1 and resp.json["summary"]["refused"] == 1
    resp = client.post("/api/v1/cfdi", headers=headers, data=REAL_XML.read_bytes(), content_type="application/xml")
    assert resp.json["results"][0]["status"] == "duplicate"
    docs = client.get("/api/v1/documents?estado=abiertos", headers=headers).json
    assert docs["total"] == 1 and docs["data"][0]["uuid"] == REAL_UUID and docs["data"][0]["saldo"] == "1000.00"
    detail = client.get(f"/api/v1/documents/{REAL_UUID.lower()}", headers=headers).json
    assert detail["uuid"] == REAL_UUID and detail["abonos"] == []
    customers = client.get("/api/v1/customers", headers=headers).json["data"]
    assert customers[0]["saldo"] == {"MXN": "1000.00"}


def test_api_errors_have_codes(client, engine):
    headers = {"Authorization": f"Bearer {_token(engine, 'consulta')}"}
    resp = client.get("/api/v1/documents/NO-EXISTE", headers=headers)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "DOCUMENTO_NO_ENCONTRADO"
    resp = client.get("/api/v1/documents?desde=31/02/2026", headers=headers)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "FECHA_INVALIDA"
    resp = client.post("/api/v1/cfdi", headers=headers, data=b"<x/>", content_type="application/xml")
    assert resp.status_code == 403 and resp.json["error"]["code"] == "PERMISO_DENEGADO"
    resp = client.get("/api/v1/nada", headers=headers)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "NO_ENCONTRADO"


def test_empty_api_upload(client, engine):
    headers = {"Authorization": f"Bearer {_token(engine, 'administrador')}"}
    resp = client.post("/api/v1/cfdi", headers=headers, data=b"", content_type="application/xml")
    assert resp.status_code == 400 and resp.json["error"]["code"] == "SIN_ARCHIVOS"


def test_openapi_matches_url_map(app, client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routed.add((path, method))
    assert documented == routed


def test_token_created_in_ui_shown_once_stored_hashed(client, login, engine):
    token = login(client, "administrador")
    resp = client.post("/configuracion/tokens", data={"csrf_token": token, "name": "ERP", "role": "facturacion"})
    html = resp.get_data(as_text=True)
    clear = re.search(r'id="token-nuevo">(cbz_[^<]+)<', html).group(1)
    assert clear not in client.get("/configuracion/tokens").get_data(as_text=True)
    with transaction(engine) as s:
        stored = s.scalar(select(ApiToken))
        assert stored.token_hash == users_service.hash_token(clear) and clear not in stored.token_hash
    assert client.get("/api/v1/customers", headers={"Authorization": f"Bearer {clear}"}).status_code == 200


def _second_admin(engine):
    with transaction(engine) as s:
        users_service.add_user(s, "jefa", "clave-de-prueba-123", "administrador", hash_method="pbkdf2:sha256:1000")


def _api_status(client, clear):
    return client.get("/api/v1/customers", headers={"Authorization": f"Bearer {clear}"}).status_code


def test_token_stops_when_its_creator_is_deactivated(client, engine):
    _second_admin(engine)
    with transaction(engine) as s:
        clear = users_service.create_token(s, "ERP", "facturacion", created_by="jefa")[1]
    assert _api_status(client, clear) == 200
    with transaction(engine) as s:
        users_service.set_active(s, "jefa", False, actor="administrador")
    assert _api_status(client, clear) == 401
    with transaction(engine) as s:  # active again: the token was never revoked, it answers again
        users_service.set_active(s, "jefa", True, actor="administrador")
    assert _api_status(client, clear) == 200


def test_token_stops_when_its_creator_loses_the_role(client, engine):
    _second_admin(engine)
    with transaction(engine) as s:
        admin_token = users_service.create_token(s, "ERP", "administrador", created_by="jefa")[1]
        billing_token = users_service.create_token(s, "ERP2", "facturacion", created_by="jefa")[1]
    assert _api_status(client, admin_token) == 200 and _api_status(client, billing_token) == 200
    with transaction(engine) as s:  # demoted to facturación: the admin token is worth nothing now
        users_service.set_role(s, "jefa", "facturacion", actor="administrador")
    assert _api_status(client, admin_token) == 401
    assert _api_status(client, billing_token) == 200  # a role the creator still holds
    with transaction(engine) as s:
        users_service.set_role(s, "jefa", "consulta", actor="administrador")
    assert _api_status(client, billing_token) == 401


def test_token_of_a_creator_from_before_user_id_is_matched_by_name(client, engine):
    _second_admin(engine)
    with transaction(engine) as s:
        row, clear = users_service.create_token(s, "ERP", "consulta", created_by="jefa")
        row.user_id = None  # as stored before tokens carried their creator's id
    assert _api_status(client, clear) == 200
    with transaction(engine) as s:
        users_service.set_active(s, "jefa", False, actor="administrador")
    assert _api_status(client, clear) == 401


def test_token_from_the_command_line_has_no_user(client, engine):
    with transaction(engine) as s:
        row, clear = users_service.create_token(s, "ERP", "consulta", created_by=users_service.CLI_CREATOR)
        assert row.user_id is None
    assert _api_status(client, clear) == 200
