"""Uploads: real CFDI, duplicates, hostile files each get their own refusal; audit entries."""

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

XXE = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _upload(client, token, files):
    # Encoded in memory: the test client would spool a big body to a temp file it never closes.
    fields = MultiDict([("csrf_token", token)] + [("archivos", FileStorage(io.BytesIO(b), n)) for n, b in files])
    boundary, body = encode_multipart(fields)
    return client.post("/importar/", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_upload_real_then_duplicate_and_audit(client, login, engine):
    token = login(client, "facturacion")
    resp = _upload(client, token, [("cfdi40-real.xml", REAL_XML.read_bytes())])
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Importado" in html and REAL_UUID in html
    resp = _upload(client, token, [("otra-vez.xml", REAL_XML.read_bytes())])
    assert "Duplicado" in resp.get_data(as_text=True) and "DUPLICADO" in resp.get_data(as_text=True)
    with transaction(engine) as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.entity == "importacion").order_by(AuditEntry.id)))
    # One entry per upload (issue 14), its outcomes in the detail.
    assert [(a.actor, a.action) for a in entries] == [("facturacion", "cfdi_importacion")] * 2
    first, second = (json.loads(a.detail) for a in entries)
    assert first["resultados"] == [["cfdi40-real.xml", "imported", REAL_UUID, None]]
    assert second["resultados"] == [["otra-vez.xml", "duplicate", REAL_UUID, "DUPLICADO"]]


def test_hostile_uploads_refused_per_file(client, login, count):
    token = login(client, "contabilidad")
    files = [
        ("nota.txt", b"esto no es un xml"),
        ("xxe.xml", XXE),
        ("traversal.zip", _zip({"../../etc/evil.xml": REAL_XML.read_bytes(), "ok/../../x.xml": b"<x/>"})),
        ("grande.xml", b"<a>" + b" " * (5 * 1024 * 1024 + 10) + b"</a>"),
        ("roto.zip", b"PK\x03\x04basura"),
        ("bueno.zip", _zip({"facturas/cfdi40-real.xml": REAL_XML.read_bytes()})),
    ]
    resp = _upload(client, token, files)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for code in ("XML_MAL_FORMADO", "XML_DTD_PROHIBIDO", "ZIP_RUTA_INSEGURA", "ARCHIVO_DEMASIADO_GRANDE", "ZIP_INVALIDO"):
        assert code in html, code
    assert html.count("pill-refused") >= 6
    assert "root:" not in html  # the XXE entity was never expanded
    assert count(Document) == 1  # only the good ZIP member


def test_request_over_limit_gets_spanish_413(app_config, count):
    from web_support import PASSWORD, csrf_of

    from web import create_app

    app = create_app({**app_config, "MAX_CONTENT_LENGTH": 64 * 1024})
    from cfdi_cobranza.services.users import add_user

    with transaction(app.extensions["cobranza_engine"]) as s:
        add_user(s, "fact", PASSWORD, "facturacion", hash_method="pbkdf2:sha256:1000")
    client = app.test_client()
    client.post("/login", data={"username": "fact", "password": PASSWORD, "csrf_token": csrf_of(client)})
    token = csrf_of(client)
    resp = _upload(client, token, [("enorme.xml", b"<a>" + b"x" * 200_000 + b"</a>")])
    assert resp.status_code == 413
    assert "superan el límite de 64 KB" in resp.get_data(as_text=True)


def test_empty_upload_is_a_spanish_message(client, login, count):
    token = login(client, "facturacion")
    before = count(AuditEntry)
    resp = client.post("/importar/", data={"csrf_token": token}, content_type="multipart/form-data")
    assert resp.status_code == 400 and "Seleccione al menos un archivo" in resp.get_data(as_text=True)
    assert count(AuditEntry) == before


def test_consulta_cannot_import(client, login, count):
    token = login(client, "consulta")
    resp = _upload(client, token, [("a.xml", REAL_XML.read_bytes())])
    assert resp.status_code == 403 and count(Document) == 0
