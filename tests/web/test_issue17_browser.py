"""Issue 17 in a real Chromium: the sale's branch form on the document page, the
salesperson on the follow-up form, downloads, and the letter logged in the history
with its PDF. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from web_support import PASSWORD
from werkzeug.serving import make_server

from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services import letters

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
RFC = "COSC8001137NA"


@pytest.fixture
def live_server(app):
    if not CHROMIUM.exists():
        print(f"SKIP: no existe {CHROMIUM}; la prueba de navegador necesita Chromium de Debian.")
        pytest.skip(f"{CHROMIUM} no está instalado")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def test_branch_form_salesperson_and_logged_letter(live_server, app, imported, engine, web_clock):
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with transaction(engine) as s:
        credit.set_conditions(s, RFC, actor="jefe", vendedor="Ana", sucursal="Norte", clock=web_clock)
        today = web_clock().date()
        batch = letters.letters_pdf(s, "confirmacion_saldos", today)
        letters.record_letters(s, batch, "confirmacion_saldos", today, actor="cobranza", clock=web_clock)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="es-MX", accept_downloads=True)
        page.goto(live_server + "/login")
        page.fill("input[name=username]", "cobranza")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(live_server + "/")
        page.goto(f"{live_server}/documentos/{imported}#asignacion")
        assert page.inner_text("#sucursal-venta") == "Norte"
        page.fill("#asignar-venta input[name=sucursal]", "Centro")
        page.fill("#asignar-venta input[name=vendedor]", "Carla")
        page.click("#asignar-venta button[type=submit]")
        page.wait_for_selector("#sucursal-venta:has-text('Centro')")
        assert page.inner_text("#vendedor-venta") == "Carla"
        page.locator("#asignacion").screenshot(path=str(ARTIFACTS / "17-asignar-venta.png"))
        page.goto(f"{live_server}/seguimiento/")
        page.select_option("#captura-seguimiento select[name=cliente]", RFC)
        page.fill("#captura-seguimiento input[name=vendedor]", "Zoe")
        page.click("#captura-seguimiento button[type=submit]")
        page.wait_for_selector("text=registrado para")
        page.screenshot(path=str(ARTIFACTS / "17-seguimiento.png"), full_page=True)
        page.goto(f"{live_server}/seguimiento/historial?cliente={RFC}&estado=todos")
        assert page.locator("#historial a.attachment").count() == 1
        page.screenshot(path=str(ARTIFACTS / "17-historial-carta.png"), full_page=True)
        with page.expect_download() as info:
            page.click("#historial a.attachment")
        path = info.value.path()
        assert Path(path).read_bytes().startswith(b"%PDF")
        with page.expect_download() as info:
            page.click("#descargas >> text=Excel")
        assert Path(info.value.path()).read_bytes().startswith(b"PK")
        browser.close()
