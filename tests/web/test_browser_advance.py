"""In Chromium: a payment received before its invoice is flagged on its page and the
button confirms it (screenshots in ``test-artifacts/``)."""

from __future__ import annotations

from datetime import datetime

import pytest
import rep_support
from test_browser import ARTIFACTS, CHROMIUM, live_server  # noqa: F401  (fixture)
from web_support import PASSWORD

from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.payments import ReceiptInput
from cfdi_cobranza.services import payments as pay


def test_payment_page_flag_and_confirm_button(live_server, app, engine, sandbox_env):  # noqa: F811
    sync_api = pytest.importorskip("playwright.sync_api")
    files = rep_support.ppd_invoices(sandbox_env)  # issued 2026-09-01 and 02
    rep_support.import_files(app, files)
    with transaction(engine) as s:
        pid = pay.register_settlement(s, [ReceiptInput(rep_support.CUSTOMER_RFC, "", datetime(2026, 8, 28, 12, 0), "03", "MXN", "1160.00")], actor="t").payments[0].id
        pay.apply_payment(s, pid, [pay.Allocation(files[0][2], "1160.00")], actor="t")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="es-MX")
        page.goto(live_server + "/login")
        page.fill("input[name=username]", "facturacion")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(live_server + "/")
        page.goto(f"{live_server}/pagos/{pid}")
        assert page.is_visible("#pago-anterior") and page.is_visible("#confirmar-anticipo")
        assert page.locator("#tabla-aplicaciones").inner_text().count("Por confirmar") == 1
        page.screenshot(path=str(ARTIFACTS / "20-pago-anterior-por-confirmar.png"), full_page=True)
        page.fill("#form-confirmar-anticipo input[name=nota]", "pedido 77 con precio pactado")
        page.click("#confirmar-anticipo")
        page.wait_for_url(f"{live_server}/pagos/{pid}")
        assert not page.is_visible("#confirmar-anticipo")
        assert "Pago anterior confirmado por facturacion" in page.locator("#tabla-aplicaciones").inner_text()
        page.screenshot(path=str(ARTIFACTS / "21-pago-anterior-confirmado.png"), full_page=True)
        browser.close()
