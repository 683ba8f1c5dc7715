"""Issue 14 on the web: one audit entry per upload, the 413 that says what was exceeded,
uploads read from the spooled file."""

from __future__ import annotations

import io
import json
import zipfile

from sqlalchemy import select
from web_support import REAL_UUID, REAL_XML
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from cfdi_cobranza.db.models import AuditEntry, Document
from cfdi_cobranza.db.session import transaction


def _post(client, url, token, files, field="archivos"):
    fields = MultiDict([("csrf_token", token)] + [(field, FileStorage(io.BytesIO(b), n)) for n, b in files])
    boundary, body = encode_multipart(fields)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def _audit(engine) -> list[AuditEntry]:
    with transaction(engine) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.actor == "facturacion",
                                                       AuditEntry.action != "sesion_iniciada")))


def test_a_zip_of_many_members_is_one_audit_entry(client, login, engine, count):
    token = login(client, "facturacion")
    members = {f"n{i:04d}.txt": b"nota" for i in range(1500)} | {"cfdi.xml": REAL_XML.read_bytes()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    before = count(AuditEntry)
    resp = _post(client, "/importar/json", token, [("paquete.zip", buf.getvalue())])
    assert resp.status_code == 200, resp.data
    assert resp.get_json()["summary"] == {"imported": 1, "duplicate": 0, "refused": 0, "ignored": 1500,
                                          "total": 1501}
    assert count(AuditEntry) == before + 1
    (entry,) = [a for a in _audit(engine) if a.action == "cfdi_importacion"]
    detail = json.loads(entry.detail)
    assert entry.entity == "importacion" and len(entry.entity_id) == 36
    assert detail["resumen"]["ignored"] == 1500 and detail["resumen"]["imported"] == 1
    assert ["paquete.zip!cfdi.xml", "imported", REAL_UUID, None] in detail["resultados"]
    assert len(detail["resultados"]) == 1501
    assert count(Document) == 1


def test_too_many_parts_says_parts_not_megabytes(client, login, count):
    token = login(client, "facturacion")
    files = [(f"f{i}.xml", b"<x/>") for i in range(1001)]  # ~200 KB, far under 50 MB
    resp = _post(client, "/importar/", token, files)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 413
    assert "DEMASIADAS_PARTES" in html and "1,000 partes" in html and "MB" not in html.split("partes")[1][:200]
    assert "superan el límite de 50 MB" not in html
    resp = _post(client, "/importar/json", token, files)
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "DEMASIADAS_PARTES"
    assert count(Document) == 0


def test_too_many_parts_on_the_api(client, app, engine):
    from cfdi_cobranza.services import users as users_service

    with transaction(engine) as s:
        secret = users_service.create_token(s, "lote", "facturacion", created_by="pruebas")[1]
    fields = MultiDict([("archivo", FileStorage(io.BytesIO(b"<x/>"), f"{i}.xml")) for i in range(1001)])
    boundary, body = encode_multipart(fields)
    resp = client.post("/api/v1/cfdi", data=body, content_type=f"multipart/form-data; boundary={boundary}",
                       headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "DEMASIADAS_PARTES"


def test_body_over_the_limit_still_says_megabytes(app_config):
    from web_support import PASSWORD, csrf_of

    from cfdi_cobranza.services.users import add_user
    from web import create_app

    app = create_app({**app_config, "MAX_CONTENT_LENGTH": 64 * 1024, "MAX_FORM_MEMORY_SIZE": 64 * 1024})
    with transaction(app.extensions["cobranza_engine"]) as s:
        add_user(s, "fact", PASSWORD, "facturacion", hash_method="pbkdf2:sha256:1000")
    client = app.test_client()
    client.post("/login", data={"username": "fact", "password": PASSWORD, "csrf_token": csrf_of(client)})
    resp = _post(client, "/importar/", csrf_of(client), [("a.xml", b"<a>" + b"x" * 100_000 + b"</a>")])
    assert resp.status_code == 413 and "superan el límite de 64 KB" in resp.get_data(as_text=True)
    app.extensions["cobranza_engine"].dispose()
