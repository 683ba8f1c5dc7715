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
        # importar.js sends one file per request: the progress bar and the live table fill in.
        page.wait_for_selector("#progreso-texto:has-text('Listo')")
        assert page.locator("#resultado-vivo .pill-imported").count() == 1
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
        page.wait_for_selector("svg.chart-aging rect", state="attached")
        assert page.locator("svg.chart-aging rect").count() == 5
        assert "MXN" in page.inner_text(".kpis")
        page.screenshot(path=str(ARTIFACTS / "07-tablero.png"), full_page=True)

        page.set_viewport_size({"width": 420, "height": 900})
        page.screenshot(path=str(ARTIFACTS / "08-tablero-movil.png"), full_page=True)
        browser.close()
    assert external == []
    assert csp_errors == []


def test_payment_rep_flow(live_server, sandbox_env, tmp_path):
    """Upload the corpus invoice and two generated PPD invoices, register the CSD, register a
    settlement with two payment forms, apply it, issue the REP, download its PDF, see the dashboard."""
    import rep_support

    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    generated = []
    for name, xml, _uuid in rep_support.ppd_invoices(sandbox_env):
        path = tmp_path / name
        path.write_bytes(xml)
        generated.append(str(path))
    statement = tmp_path / "estado.csv"
    statement.write_text("fecha;concepto;ref;importe;moneda\n"
                         "2026-11-18;SPEI RECIBIDO RFC URE180429TM6 PAGO FACTURA F102;F102;1820.00;MXN\n",
                         encoding="utf-8")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="es-MX", accept_downloads=True)
        page = context.new_page()
        external: list[str] = []
        page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server) else None)
        console_errors: list[str] = []
        page.on("console", lambda m: console_errors.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text else None)
        failed: list[str] = []  # any 4xx/5xx but the favicon the browser asks for on its own
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)

        page.goto(live_server + "/login")
        page.fill("input[name=username]", "administrador")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(live_server + "/")

        # Import the corpus invoice and the generated PPD invoices in one batch.
        page.click("nav.sidenav >> text=Importar")
        page.set_input_files("input[name=archivos]", [str(REAL_XML), *generated])
        page.click("form >> text=Importar")
        page.wait_for_selector("#progreso-texto:has-text('Listo')")
        assert page.locator("#resultado-vivo .pill-imported").count() == 3, page.inner_text("#resultado-vivo")

        # Register the CSD of the generated invoices' issuer.
        page.click("nav.sidenav >> text=Configuración")
        form = page.locator(f"#empresa-{rep_support.ISSUER_RFC} form.csd-form")
        form.locator("input[name=cer]").set_input_files(str(rep_support.CER))
        form.locator("input[name=key]").set_input_files(str(rep_support.KEY))
        form.locator("input[name=password]").fill(rep_support.CSD_PASSWORD)
        form.locator("button[type=submit]").click()
        page.wait_for_selector(".alert-ok")
        assert "CSD" in page.inner_text(".alert-ok") and rep_support.CSD_PASSWORD not in page.content()
        page.screenshot(path=str(ARTIFACTS / "10-configuracion-csd.png"), full_page=True)

        # Register a settlement paid with two payment forms (the second row added by JavaScript).
        page.click("nav.sidenav >> text=Pagos")
        page.click("#nuevo-pago")
        value = page.locator("#cliente option", has_text=rep_support.CUSTOMER_RFC).get_attribute("value")
        page.select_option("#cliente", value=value)
        page.click("#agregar-forma")
        assert page.locator("fieldset.pay-row").count() == 2
        rows = page.locator("fieldset.pay-row")
        rows.nth(0).locator("select[name=forma_pago]").select_option("03")
        rows.nth(0).locator("input[name=monto]").fill("1,000.00")
        rows.nth(0).locator("input[name=num_operacion]").fill("SPEI-778812")
        rows.nth(1).locator("select[name=forma_pago]").select_option("01")
        rows.nth(1).locator("input[name=monto]").fill("500.00")
        page.screenshot(path=str(ARTIFACTS / "11-pago-registro.png"), full_page=True)
        page.click("#registrar-pago")
        page.wait_for_selector("#form-aplicar")
        amounts = page.locator("#tabla-abiertos input[name=importe]")
        assert amounts.nth(0).input_value() == "1000.00"  # oldest first, suggested
        page.screenshot(path=str(ARTIFACTS / "12-pago-aplicar.png"), full_page=True)
        page.click("#aplicar-pago")
        page.wait_for_selector("#tabla-aplicaciones .pill-imported")
        assert "Pago aplicado" in page.inner_text(".alert-ok")
        page.screenshot(path=str(ARTIFACTS / "13-pago-aplicado.png"), full_page=True)

        # Bancos: a deposit with its ranked suggestions.
        page.click("nav.sidenav >> text=Bancos")
        page.select_option("#formato", "generico")
        page.set_input_files("#form-estado input[name=archivo]", str(statement))
        page.click("#form-estado summary")
        page.fill("input[name=col_fecha]", "fecha")
        page.fill("input[name=col_descripcion]", "concepto")
        page.fill("input[name=col_referencia]", "ref")
        page.fill("input[name=col_importe]", "importe")
        page.click("#form-estado button[type=submit]")
        page.wait_for_selector("#resultado-estado")
        assert page.locator("#tabla-depositos .score").count() >= 1
        page.screenshot(path=str(ARTIFACTS / "14-bancos.png"), full_page=True)

        # REP: the pending payment with its countdown, issue, download the PDF.
        page.click("nav.sidenav >> text=REP")
        page.wait_for_selector("#tabla-pendientes")
        assert "días" in page.inner_text("#tabla-pendientes")
        page.screenshot(path=str(ARTIFACTS / "15-rep-pendientes.png"), full_page=True)
        page.locator("#tabla-pendientes input[name=pago]").first.check()
        page.click("#emitir-seleccionados")
        page.wait_for_selector("#aviso-sandbox")
        assert "SIN VALIDEZ FISCAL" in page.inner_text("#aviso-sandbox")
        page.screenshot(path=str(ARTIFACTS / "16-rep-timbrado.png"), full_page=True)
        with page.expect_download() as info:
            page.click("#descargar-pdf")
        pdf = tmp_path / "rep.pdf"
        info.value.save_as(str(pdf))
        assert pdf.read_bytes().startswith(b"%PDF")
        (ARTIFACTS / "17-rep.pdf").write_bytes(pdf.read_bytes())
        page.click("nav.sidenav >> text=REP")
        page.wait_for_selector("#tabla-reps")
        page.screenshot(path=str(ARTIFACTS / "18-rep-lista.png"), full_page=True)

        # Tablero: aging chart and REP compliance.
        page.click("nav.sidenav >> text=Tablero")
        page.wait_for_selector("svg.chart-aging rect", state="attached")
        assert page.locator("svg.chart-aging rect").count() == 5
        assert "pagos sin REP" in page.inner_text("#cumplimiento-rep")
        page.screenshot(path=str(ARTIFACTS / "19-tablero-rep.png"), full_page=True)
        browser.close()
    assert external == []
    assert console_errors == []
    assert failed == []


def test_collections_reports_and_follow_up(live_server, app):
    """Aging report with its chart, projected income, a follow-up captured, the customer's file."""
    from cfdi_cobranza.services.uploads import import_uploads

    import_uploads(app.extensions["cobranza_engine"], app.config["COBRANZA_SETTINGS"],
                   [("cfdi40-real.xml", REAL_XML.read_bytes())], actor="pruebas")
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
        page.goto(live_server + "/login")
        page.fill("input[name=username]", "cobranza")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(live_server + "/")

        page.click("nav.sidenav >> text=Reportes")
        page.wait_for_selector(".report-grid")
        page.screenshot(path=str(ARTIFACTS / "20-reportes.png"), full_page=True)
        page.click(".report-card >> text=Antigüedad de saldos")
        page.wait_for_selector("#graficas-antiguedad svg.chart-aging rect", state="attached")
        assert page.locator("#graficas-antiguedad svg.chart-aging rect").count() == 5
        assert "COSC8001137NA" in page.inner_text(".report-table")
        page.screenshot(path=str(ARTIFACTS / "21-reporte-antiguedad.png"), full_page=True)
        page.fill("input[name=rangos]", "60,30")
        page.click("#filtros >> text=Ver reporte")
        page.wait_for_selector("#error-reporte")
        page.screenshot(path=str(ARTIFACTS / "22-reporte-error.png"), full_page=True)

        page.goto(live_server + "/reportes/proyeccion")
        page.wait_for_selector("#grafica-proyeccion rect", state="attached")
        page.screenshot(path=str(ARTIFACTS / "23-proyeccion.png"), full_page=True)

        page.click("nav.sidenav >> text=Seguimiento")
        page.select_option("select[name=cliente]", "COSC8001137NA")
        page.select_option("select[name=tipo]", "llamada")
        page.fill("textarea[name=notas]", "Habló con tesorería; promete transferencia.")
        page.fill("input[name=promesa_fecha]", "27/11/2026")
        page.fill("input[name=promesa_importe]", "1500.00")
        page.fill("input[name=proxima_fecha]", "20/11/2026")
        page.click("#captura-seguimiento button[type=submit]")
        page.wait_for_selector(".alert-ok, #error-seguimiento")
        assert page.locator("#error-seguimiento").count() == 0, page.inner_text("#error-seguimiento")
        assert "promete transferencia" in page.inner_text("#tareas-hoy")
        page.screenshot(path=str(ARTIFACTS / "24-seguimiento.png"), full_page=True)

        page.click("nav.sidenav >> text=Clientes")
        page.click("#tabla-clientes tbody a >> nth=0")
        page.wait_for_selector("#resumen")
        page.screenshot(path=str(ARTIFACTS / "25-cliente-expediente.png"), full_page=True)

        page.click("nav.sidenav >> text=Tablero")
        page.wait_for_selector("#grafica-proyeccion", state="attached")
        assert "promete transferencia" in page.inner_text("#seguimiento-hoy")
        page.screenshot(path=str(ARTIFACTS / "26-tablero-seguimiento.png"), full_page=True)
        browser.close()
    assert external == []


def test_account_password_change_and_user_admin(live_server):
    """Mi cuenta from the header: change the password; the other browser is signed out, this one is not.
    Then the administrator's user list and one user's page (role, reset, activation)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    new = "clave-nueva-789"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )

        def signed_in(username: str, password: str, target: str):  # type: ignore[no-untyped-def]
            context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="es-MX")
            page = context.new_page()
            page.goto(f"{live_server}/login?next={target}")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(live_server + target)
            return page

        page = signed_in("cobranza", PASSWORD, "/reportes/")
        other = signed_in("cobranza", PASSWORD, "/reportes/")
        page.click("header .user-link")
        page.wait_for_url(live_server + "/cuenta")
        assert "Cambiar contraseña" in page.inner_text("#cambiar-contrasena")
        page.screenshot(path=str(ARTIFACTS / "30-mi-cuenta.png"), full_page=True)
        page.fill("input[name=actual]", PASSWORD)
        page.fill("input[name=nueva]", new)
        page.fill("input[name=nueva2]", new)
        page.click("#cambiar-contrasena button[type=submit]")
        page.wait_for_selector(".alert-ok")
        assert "Contraseña cambiada" in page.inner_text(".alert-ok")
        page.screenshot(path=str(ARTIFACTS / "31-mi-cuenta-cambiada.png"), full_page=True)
        other.reload()
        assert "/login" in other.url and "Su sesión terminó" in other.inner_text(".login-card")
        other.screenshot(path=str(ARTIFACTS / "32-otra-sesion-cerrada.png"), full_page=True)
        page.goto(live_server + "/cuenta")
        assert page.url == live_server + "/cuenta"

        admin = signed_in("administrador", PASSWORD, "/configuracion/usuarios")
        assert admin.locator("#tabla-usuarios tr").count() == 6
        admin.screenshot(path=str(ARTIFACTS / "33-usuarios.png"), full_page=True)
        admin.click("#tabla-usuarios >> text=Administrar >> nth=1")
        admin.wait_for_selector("#restablecer-contrasena")
        admin.select_option("#cambiar-rol select[name=role]", "consulta")
        admin.click("#cambiar-rol button[type=submit]")
        admin.wait_for_selector(".alert-ok")
        assert "Consulta" in admin.inner_text("#datos-usuario")
        admin.screenshot(path=str(ARTIFACTS / "34-usuario.png"), full_page=True)
        browser.close()
