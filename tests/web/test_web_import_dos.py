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
        secret = users_service.create_token(s, "lote", "facturacion", created_by=users_service.CLI_CREATOR)[1]
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


def test_browser_shows_what_was_exceeded(app):
    """The importer page (importar.js, one XHR) with 1,001 files: the user reads that the
    limit is the number of parts, not 50 MB."""
    import threading
    from pathlib import Path

    import pytest
    from werkzeug.serving import make_server

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        print(f"SKIP: no existe {chromium}; la prueba de navegador necesita Chromium de Debian.")
        pytest.skip(f"{chromium} no está instalado")
    sync_api = pytest.importorskip("playwright.sync_api")
    from web_support import PASSWORD

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(chromium),
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="es-MX")
            page.goto(base + "/login")
            page.fill("input[name=username]", "facturacion")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            page.goto(base + "/importar/")
            hint = page.inner_text("form#form-importar + p, #form-importar ~ p.muted")
            files = [{"name": f"f{i}.xml", "mimeType": "application/xml", "buffer": b"<x/>"} for i in range(1001)]
            page.set_input_files("input[name=archivos]", files)
            page.click("form >> text=Importar")
            page.wait_for_selector(".alert-error")
            text = page.inner_text(".alert-error")
            page.screenshot(path=str(artifacts / "importdos-demasiadas-partes.png"))  # the top: the message
            browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert "1,000 partes" in text and "ZIP" in text and "50 MB" not in text
    assert "50 MB y 999 archivos" in hint  # the form says both limits (the CSRF field is a part)
