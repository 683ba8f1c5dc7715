"""Patrones y tendencias on the web: Reportes page and downloads, the customer page, the
Tablero's sharply-worse list and the API, over a customer who used to pay on time and now
pays two months late (imported through the real import path)."""

from __future__ import annotations

import io
import sys
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from collections_data import CUSTOMERS, make_factory

from cfdi_cobranza.cfdi.factory import IVA16, Line, PaidDoc
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.db.models import Customer
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import users as users_service
from cfdi_cobranza.services.importing import Importer

WORSE = CUSTOMERS[1]  # DME980512KJ3
STEADY = CUSTOMERS[0]  # CAC070627H79: on time before and now


def _at(day: date) -> datetime:
    return datetime.combine(day, time(10, 0))


@pytest.fixture
def world(app, settings, clock, tmp_path) -> dict[str, Any]:
    """The web clock's today is 20/11/2026: recent window Sep-Nov 2026, previous Mar-Aug 2026."""
    factory = make_factory(tmp_path / "sandbox", seed=23)
    files = []
    folio = iter(range(1, 100))

    def sale(receptor, fecha: date, due_paid: tuple[date, date]) -> None:
        inv = factory.invoice([Line(Decimal("1000.00"))], receptor=receptor, folio=str(next(folio)),
                              fecha=_at(fecha), condiciones=f"Vence {due_paid[0]:%d/%m/%Y}")
        pay = factory.payment([PaidDoc(inv.uuid, 1, inv.total, inv.total, iva=IVA16)], receptor=receptor,
                              fecha_pago=_at(due_paid[1]), folio=str(next(folio)))
        files.extend([inv, pay])

    # Due dates come from the invoice date + 30 days (the importer's default terms).
    for receptor in (WORSE, STEADY):
        sale(receptor, date(2026, 3, 2), (date(2026, 4, 1), date(2026, 4, 1)))
        sale(receptor, date(2026, 4, 1), (date(2026, 5, 1), date(2026, 4, 28)))
    sale(WORSE, date(2026, 7, 1), (date(2026, 7, 31), date(2026, 10, 1)))  # 62 days late
    sale(WORSE, date(2026, 7, 2), (date(2026, 8, 1), date(2026, 10, 1)))  # 61 days late
    sale(STEADY, date(2026, 9, 15), (date(2026, 10, 15), date(2026, 10, 15)))
    sale(STEADY, date(2026, 9, 1), (date(2026, 10, 1), date(2026, 10, 1)))
    engine = app.extensions["cobranza_engine"]
    importer = Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir])
    result = importer.import_candidates([Candidate(f"t{i:02d}.xml", f.xml) for i, f in enumerate(files)])
    assert result.ok and result.summary["imported"] == len(files), result.to_dict()
    with transaction(engine) as s:
        token = users_service.create_token(s, "erp", "consulta", created_by="administrador")[1]
        ids = {k: i for k, i in s.execute(select(Customer.key, Customer.id))}
    return {"auth": {"Authorization": f"Bearer {token}"}, "ids": ids}


def test_reportes_page_chart_downloads_and_bad_months(client, login, world):
    login(client, "consulta")
    html = client.get("/reportes/tendencias").get_data(as_text=True)
    assert 'id="grafica-tendencia"' in html and "<polyline" in html
    assert "Patrones y tendencias" in html and WORSE.rfc in html and "Empeorando" in html
    one = client.get(f"/reportes/tendencias?cliente={WORSE.rfc}&meses=12").get_data(as_text=True)
    assert "Empeorando" in one and "2026-10" in one and "Por cliente y mes" not in one
    csv = client.get("/reportes/tendencias?formato=csv")
    assert csv.status_code == 200 and "Días ponderados" in csv.get_data(as_text=True)
    xlsx = client.get("/reportes/tendencias?formato=xlsx")
    assert {"Mensual", "Clientes"} <= set(openpyxl.load_workbook(io.BytesIO(xlsx.data)).sheetnames)
    pdf = client.get("/reportes/tendencias?formato=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    bad = client.get("/reportes/tendencias?meses=0")
    assert bad.status_code == 400 and "Meses debe estar entre 1 y 120" in bad.get_data(as_text=True)


def test_customer_page_and_dashboard(client, login, world):
    login(client, "consulta")
    page = client.get(f"/clientes/{world['ids'][WORSE.rfc]}").get_data(as_text=True)
    assert 'id="grafica-tendencia-cliente"' in page and "Empeorando" in page
    board = client.get("/").get_data(as_text=True)
    section = board.split('id="empeoran-fuerte"', 1)[1].split("</section>", 1)[0]
    assert WORSE.rfc in section and STEADY.rfc not in section


def test_api_report_and_customer_summary(client, world):
    rep = client.get("/api/v1/reports/trends?meses=12", headers=world["auth"]).json
    by_rfc = {c["rfc"]: c for c in rep["clientes"]}
    worse, steady = by_rfc[WORSE.rfc], by_rfc[STEADY.rfc]
    # Previous window (Mar-Aug): both paid on time (0 days). Recent (Sep-Nov 20): 61 and 62 days.
    assert worse["tendencia"] == "empeorando" and worse["empeora_fuerte"] is True
    assert worse["anterior"]["ponderado"] == "0.0" and worse["reciente"]["ponderado"] == "61.5"
    assert steady["tendencia"] == "estable" and steady["cambio_dias"] == "0.0"
    assert rep["empeoran_fuerte"] == [WORSE.rfc]
    oct_ = next(m for m in worse["meses"] if m["mes"] == "2026-10")
    assert oct_["cobrado"] == "2320.00" and oct_["pct_a_tiempo"] == "0.00" and oct_["documentos_pagados"] == 2
    summary = client.get(f"/api/v1/customers/{WORSE.rfc}/summary", headers=world["auth"]).json
    assert summary["tendencia"]["tendencia"] == "empeorando" and len(summary["tendencia"]["meses"]) == 24
    bad = client.get("/api/v1/reports/trends?meses=abc", headers=world["auth"])
    assert bad.status_code == 400 and bad.json["error"]["code"] == "NUMERO_INVALIDO"


def test_browser_pages_show_the_line_charts(app, world):
    """Reportes › Patrones y tendencias, the customer page and the Tablero in a real Chromium:
    the SVG charts draw under the CSP with nothing fetched from elsewhere (screenshots in
    ``test-artifacts/``)."""
    import threading

    from web_support import PASSWORD
    from werkzeug.serving import make_server

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        print(f"SKIP: no existe {chromium}; la prueba de navegador necesita Chromium de Debian.")
        pytest.skip(f"{chromium} no está instalado")
    sync_api = pytest.importorskip("playwright.sync_api")
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(chromium),
                                         args=["--headless", "--no-sandbox", "--disable-gpu",
                                               "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="es-MX")
            external: list[str] = []
            page.on("request", lambda r: external.append(r.url) if not r.url.startswith(base) else None)
            csp: list[str] = []
            page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(base + "/login")
            page.fill("input[name=username]", "consulta")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            page.locator("#empeoran-fuerte").screenshot(path=str(artifacts / "trends-tablero.png"))
            assert WORSE.rfc in page.inner_text("#empeoran-fuerte")
            page.goto(base + "/reportes/tendencias")
            box = page.locator("#grafica-tendencia").bounding_box()
            assert box is not None and box["width"] > 300
            assert page.locator("#grafica-tendencia polyline").count() >= 2
            page.screenshot(path=str(artifacts / "trends-reportes.png"), full_page=True)
            page.goto(f"{base}/clientes/{world['ids'][WORSE.rfc]}")
            page.locator("#tendencia").scroll_into_view_if_needed()
            page.locator("#tendencia").screenshot(path=str(artifacts / "trends-cliente.png"))
            assert "Empeorando" in page.inner_text("#tendencia")
            browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert not external and not csp
