"""Reportes, Seguimiento, the customer's collections file, Configuración → Cobranza and the collections API."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
from sqlalchemy import select
from web_support import REAL_XML

from cfdi_cobranza.db.models import AuditEntry, Customer
from cfdi_cobranza.db.models.collections import (
    AgingSetting,
    CreditCondition,
    CustomerNote,
    FollowUp,
    FollowUpClosure,
)
from cfdi_cobranza.db.models.payments import CashBox
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import users as users_service

RFC = "COSC8001137NA"
REPORT_URLS = ["/reportes/", "/reportes/antiguedad", "/reportes/vencimientos", "/reportes/movimiento",
               "/reportes/resumen", "/reportes/cobradores", "/reportes/proyeccion", "/reportes/estado-de-cuenta"]


def _customer_id(engine) -> int:
    with transaction(engine) as s:
        return int(s.scalar(select(Customer.id).where(Customer.rfc == RFC)))


def _capture(client, token, **extra):
    data = {"csrf_token": token, "cliente": RFC, "tipo": "llamada", "notas": "Promete pagar el viernes",
            "promesa_fecha": "27/11/2026", "promesa_importe": "1,000.00", "promesa_moneda": "MXN",
            "proxima_fecha": "20/11/2026", **extra}
    return client.post("/seguimiento/", data=data)


# --------------------------------------------------------------------------- reports


def test_every_report_renders_with_its_filters(client, login, imported):
    login(client, "consulta")
    for url in REPORT_URLS:
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert "Fecha de corte" in resp.get_data(as_text=True) or url in ("/reportes/", "/reportes/movimiento",
                                                                          "/reportes/resumen", "/reportes/cobradores",
                                                                          "/reportes/estado-de-cuenta")
    html = client.get("/reportes/antiguedad?corte=20/11/2026&agrupar=cliente&rangos=15,30,60,90,120").get_data(
        as_text=True)
    assert 'class="chart chart-aging"' in html and "Más de 120" in html and RFC in html
    assert html.count("<svg") == 1  # one currency (MXN): no separate "converted to MXN" chart
    for group in ("vendedor", "zona", "clasificacion", "sucursal", "empresa", "cartera"):
        assert client.get(f"/reportes/antiguedad?agrupar={group}").status_code == 200
    proj = client.get("/reportes/proyeccion?periodo=semana").get_data(as_text=True)
    assert 'id="grafica-proyeccion"' in proj and "Por comportamiento de pago" in proj
    st = client.get(f"/reportes/estado-de-cuenta?cliente={RFC}&desde=01/01/2025&hasta=20/11/2026")
    assert st.status_code == 200 and "Saldo final" in st.get_data(as_text=True)


def test_report_downloads_csv_xlsx_pdf(client, login, imported):
    login(client, "consulta")
    resp = client.get("/reportes/antiguedad?formato=csv&corte=20/11/2026")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[1][:3] == ["Cliente", "Clave", "Moneda"] and any(RFC in r for r in rows)
    for url in ("/reportes/antiguedad", "/reportes/vencimientos?desde=01/01/2025&hasta=31/12/2026",
                "/reportes/movimiento?desde=01/01/2025&hasta=20/11/2026", "/reportes/resumen",
                "/reportes/cobradores", "/reportes/proyeccion"):
        sep = "&" if "?" in url else "?"
        xlsx = client.get(f"{url}{sep}formato=xlsx")
        assert xlsx.status_code == 200, url
        book = openpyxl.load_workbook(io.BytesIO(xlsx.data))
        assert book.sheetnames, url
        pdf = client.get(f"{url}{sep}formato=pdf")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF"), url
    st = client.get(f"/reportes/estado-de-cuenta?cliente={RFC}&desde=01/01/2025&hasta=20/11/2026&formato=pdf")
    assert st.status_code == 200 and st.data.startswith(b"%PDF") and st.mimetype == "application/pdf"


def test_report_bad_input_is_refused_in_spanish(client, login, imported):
    login(client, "consulta")
    cases = {
        "/reportes/movimiento?desde=20/11/2026&hasta=01/01/2026": "posterior a la fecha final",
        "/reportes/vencimientos?desde=20/11/2026&hasta=01/11/2026": "posterior a la fecha final",
        "/reportes/antiguedad?rangos=60,30,90": "rango",
        "/reportes/antiguedad?rangos=30,30": "rango",
        "/reportes/antiguedad?limite=-5": "negativo",
        "/reportes/antiguedad?corte=31/02/2026": "no es una fecha válida",
        "/reportes/antiguedad?agrupar=planeta": "Agrupación desconocida",
        "/reportes/proyeccion?periodo=siglo": "Periodo desconocido",
        "/reportes/antiguedad?formato=docx": "Formato de descarga desconocido",
    }
    for url, words in cases.items():
        resp = client.get(url)
        assert resp.status_code == 400, url
        assert words.lower() in resp.get_data(as_text=True).lower(), (url, resp.get_data(as_text=True)[-600:])
    resp = client.get("/reportes/antiguedad?cliente=XAXX010101000")
    assert resp.status_code == 404 and "No hay ningún cliente" in resp.get_data(as_text=True)


# --------------------------------------------------------------------------- follow-ups


def test_follow_up_capture_tasks_close_history(client, login, imported, count, engine):
    token = login(client, "cobranza")
    resp = _capture(client, token)
    assert resp.status_code == 302, resp.get_data(as_text=True)[-800:]
    board = client.get("/seguimiento/").get_data(as_text=True)
    assert "Promete pagar el viernes" in board and "$1,000.00" in board
    assert 'id="tareas-hoy"' in board and board.split('id="tareas-hoy"')[1].split("</table>")[0].count("Promete pagar") == 1
    assert "Seguimiento de hoy" in client.get("/").get_data(as_text=True)
    assert count(FollowUp) == 1
    # Close the pending ones of the range: they move to the history, still readable.
    resp = client.post("/seguimiento/cerrar", data={"csrf_token": token, "desde": "01/11/2026",
                                                   "hasta": "20/11/2026", "cliente": RFC, "nota": "Atendido"})
    assert resp.status_code == 302 and count(FollowUpClosure) == 1
    hist = client.get("/seguimiento/historial").get_data(as_text=True)
    assert "Promete pagar el viernes" in hist and "Cerrado" in hist
    cid = _customer_id(engine)
    assert "Promete pagar el viernes" in client.get(f"/clientes/{cid}").get_data(as_text=True)


def test_follow_up_bad_input_writes_nothing(client, login, imported, count):
    token = login(client, "cobranza")
    bad = [
        ({"promesa_importe": "-100"}, "no puede ser negativo"),
        ({"promesa_importe": "abc"}, "no es un importe válido"),
        ({"promesa_fecha": "01/01/2020"}, "no puede ser anterior a hoy"),
        ({"promesa_fecha": ""}, "necesita fecha e importe"),
        ({"proxima_fecha": "32/13/2026"}, "no es una fecha válida"),
        ({"tipo": "telepatia"}, "Tipo de seguimiento desconocido"),
        ({"cliente": ""}, "Seleccione el cliente"),
    ]
    for extra, words in bad:
        resp = _capture(client, token, **extra)
        assert resp.status_code == 400, extra
        assert words in resp.get_data(as_text=True), extra
    assert _capture(client, token, cliente="XAXX010101000").status_code == 404
    assert count(FollowUp) == 0
    resp = client.post("/seguimiento/cerrar", data={"csrf_token": token, "desde": "20/11/2026", "hasta": "01/11/2026"})
    assert resp.status_code == 400 and "posterior a la fecha final" in resp.get_data(as_text=True)
    assert count(FollowUpClosure) == 0


def test_follow_ups_have_no_edit_or_delete_route(app, client, login, imported, count):
    for rule in app.url_map.iter_rules():
        words = f"{rule.rule} {rule.endpoint}".lower()
        if "seguimiento" in words or "followup" in words:
            assert not (rule.methods or set()) & {"PUT", "PATCH", "DELETE"}, rule.rule
            assert not re.search(r"edit|borrar|delete|eliminar|modificar", words), rule.rule
    token = login(client, "cobranza")
    assert _capture(client, token).status_code == 302
    for url in ("/seguimiento/1", "/seguimiento/1/editar", "/seguimiento/1/borrar", "/api/v1/followups/1"):
        assert client.post(url, data={"csrf_token": token}).status_code in (404, 405)
    assert client.delete("/seguimiento/", headers={"X-CSRF-Token": token}).status_code == 405
    assert count(FollowUp) == 1


def test_follow_up_and_note_need_csrf_and_role(client, login, imported, count, engine):
    login(client, "cobranza")
    assert client.post("/seguimiento/", data={"cliente": RFC, "tipo": "llamada"}).status_code == 400
    cid = _customer_id(engine)
    assert client.post(f"/clientes/{cid}/notas", data={"texto": "x"}).status_code == 400
    assert count(FollowUp) == 0 and count(CustomerNote) == 0
    other = client.application.test_client()
    token = login(other, "consulta")
    assert _capture(other, token).status_code == 403
    page = other.get("/seguimiento/").get_data(as_text=True)
    assert "captura-seguimiento" not in page and "cerrar-seguimientos" not in page


def test_letters_pdf_one_customer_and_batch(client, login, imported):
    token = login(client, "cobranza")
    assert client.get("/seguimiento/cartas").status_code == 200
    for data in ({"tipo": "recordatorio_1", "cliente": RFC}, {"tipo": "confirmacion_saldos"}):
        resp = client.post("/seguimiento/cartas", data={"csrf_token": token, **data})
        assert resp.status_code == 200 and resp.data.startswith(b"%PDF"), resp.get_data(as_text=True)[-500:]
    resp = client.post("/seguimiento/cartas", data={"csrf_token": token, "tipo": "prejuridica", "dias_minimos": "-3"})
    assert resp.status_code == 400 and "negativos" in resp.get_data(as_text=True)
    resp = client.post("/seguimiento/cartas", data={"csrf_token": token, "tipo": "recordatorio_1", "zona": "Marte"})
    assert resp.status_code == 404 and "Ningún cliente" in resp.get_data(as_text=True)


# --------------------------------------------------------------------------- customer file


def test_customer_file_summary_conditions_check_notes(client, login, imported, engine, count):
    cid = _customer_id(engine)
    token = login(client, "cobranza")
    html = client.get(f"/clientes/{cid}").get_data(as_text=True)
    for words in ("Resumen financiero", "Días de atraso", "Hoja de notas", "Condiciones comerciales",
                  "Documentos adeudados", "Estado de cuenta (PDF)", "Guardar condiciones"):
        assert words in html, words
    before = count(AuditEntry)
    resp = client.post(f"/clientes/{cid}/condiciones", data={"csrf_token": token, "limite_MXN": "-5", "plazo": "30"})
    assert resp.status_code == 400 and "no puede ser negativo" in resp.get_data(as_text=True)
    resp = client.post(f"/clientes/{cid}/condiciones", data={"csrf_token": token, "plazo": "-1"})
    assert resp.status_code == 400 and count(CreditCondition) == 0 and count(AuditEntry) == before
    resp = client.post(f"/clientes/{cid}/condiciones", data={
        "csrf_token": token, "limite_MXN": "1000", "plazo": "30", "control": "autorizacion", "estatus": "activo",
        "tipo_cobranza": "normal", "tolerancia": "0", "vendedor": "Ana", "zona": "Norte"})
    assert resp.status_code == 302 and count(CreditCondition) == 1
    check = client.get(f"/clientes/{cid}?importe=50000&moneda=MXN&operacion=venta_credito").get_data(as_text=True)
    assert 'id="resultado-credito"' in check and "Solicitar autorización" in check
    assert client.get(f"/clientes/{cid}?importe=-3").status_code == 200  # the check shows the Spanish refusal
    assert "no puede ser negativo" in client.get(f"/clientes/{cid}?importe=-3").get_data(as_text=True)
    resp = client.post(f"/clientes/{cid}/notas", data={"csrf_token": token, "texto": "Llamar a tesorería"})
    assert resp.status_code == 302 and count(CustomerNote) == 1
    assert client.post(f"/clientes/{cid}/notas", data={"csrf_token": token, "texto": "  "}).status_code == 400
    assert count(CustomerNote) == 1
    # Authorization: facturación requests, cobranza (another user) decides.
    fact = client.application.test_client()
    ftoken = login(fact, "facturacion")
    resp = fact.post(f"/clientes/{cid}/autorizaciones", data={"csrf_token": ftoken, "importe": "50000",
                                                              "moneda": "MXN", "operacion": "venta_credito"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[-500:]
    assert "Guardar condiciones" not in fact.get(f"/clientes/{cid}").get_data(as_text=True)
    resp = client.post(f"/clientes/{cid}/autorizaciones/resolver", data={"csrf_token": token, "solicitud": "1",
                                                                          "decision": "denegar"})
    assert resp.status_code == 400 and "motivo" in resp.get_data(as_text=True)
    resp = client.post(f"/clientes/{cid}/autorizaciones/resolver", data={"csrf_token": token, "solicitud": "1",
                                                                          "decision": "autorizar"})
    assert resp.status_code == 302
    assert "Autorizada" in client.get(f"/clientes/{cid}").get_data(as_text=True)


# --------------------------------------------------------------------------- settings, imports, dashboard


def test_settings_cash_boxes_and_aging_buckets(client, login, imported, count):
    token = login(client, "contabilidad")
    assert client.get("/configuracion/cobranza").status_code == 200
    resp = client.post("/configuracion/cobranza/cajas", data={"csrf_token": token, "nombre": "BBVA 1234",
                                                              "tipo": "banco", "banco": "BBVA", "cuenta": "0123"})
    assert resp.status_code == 302 and count(CashBox) == 1
    resp = client.post("/configuracion/cobranza/cajas", data={"csrf_token": token, "nombre": "BBVA 1234"})
    assert resp.status_code == 400 and "Ya existe" in resp.get_data(as_text=True) and count(CashBox) == 1
    for spec in ("60,30", "30,30,60", "-5,30", "abc", ""):
        resp = client.post("/configuracion/cobranza/rangos", data={"csrf_token": token, "rangos": spec})
        assert resp.status_code == 400, spec
    resp = client.post("/configuracion/cobranza/rangos", data={"csrf_token": token, "rangos": "15,30,60,90"})
    assert resp.status_code == 302
    with transaction(client.application.extensions["cobranza_engine"]) as s:
        assert s.scalar(select(AgingSetting.spec).where(AgingSetting.is_default.is_(True))) == "0,15,30,60,90"
    assert "1-15" in client.get("/reportes/antiguedad").get_data(as_text=True)
    assert client.get("/").get_data(as_text=True).count("bucket-") >= 5


def test_import_json_for_the_progress_bar(client, login, count):
    token = login(client, "facturacion")
    resp = client.post("/importar/json", data={"archivos": (io.BytesIO(REAL_XML.read_bytes()), "f.xml")},
                       headers={"X-CSRF-Token": token}, content_type="multipart/form-data")
    assert resp.status_code == 200 and resp.json["results"][0]["status"] == "imported"
    assert resp.json["results"][0]["status_label"] == "Importado"
    again = client.post("/importar/json", data={"archivos": (io.BytesIO(REAL_XML.read_bytes()), "f.xml")},
                        headers={"X-CSRF-Token": token}, content_type="multipart/form-data")
    assert again.json["results"][0]["status"] == "duplicate"
    assert client.post("/importar/json", data={}, headers={"X-CSRF-Token": token}).status_code == 400
    assert client.post("/importar/json", data={}).status_code == 400  # no CSRF token
    page = client.get("/importar/").get_data(as_text=True)
    assert "importar.js" in page and 'id="form-importar"' in page


def test_dashboard_shows_follow_ups_and_projection(client, login, imported):
    token = login(client, "cobranza")
    _capture(client, token)
    html = client.get("/").get_data(as_text=True)
    assert "Seguimiento de hoy" in html and 'id="tablero-tareas"' in html
    assert 'id="grafica-proyeccion"' in html and "próximas 12 semanas" in html
    assert 'class="chart chart-aging"' in html and "Cumplimiento de REP" in html


# --------------------------------------------------------------------------- API


def _token(app, role):
    with transaction(app.extensions["cobranza_engine"]) as s:
        return users_service.create_token(s, f"erp-{role}", role, created_by="administrador")[1]


def test_api_collections(app, client, imported, count):
    read = {"Authorization": f"Bearer {_token(app, 'consulta')}"}
    aging = client.get("/api/v1/reports/aging?corte=2026-11-20&rangos=30,60,90", headers=read)
    assert aging.status_code == 200 and aging.json["reporte"] == "antiguedad" and aging.json["filas"]
    assert client.get("/api/v1/reports/aging?rangos=90,30", headers=read).json["error"]["code"]
    assert client.get("/api/v1/reports/due?desde=2025-01-01&hasta=2026-12-31", headers=read).json["lineas"]
    bad = client.get("/api/v1/reports/due?desde=2026-12-31&hasta=2025-01-01", headers=read)
    assert bad.status_code == 400 and bad.json["error"]["code"] == "RANGO_INVALIDO"
    assert client.get("/api/v1/reports/projection", headers=read).json["reporte"] == "proyeccion"
    summary = client.get(f"/api/v1/customers/{RFC}/summary", headers=read)
    assert summary.status_code == 200 and summary.json["rfc"] == RFC and summary.json["documentos"]
    assert client.get("/api/v1/customers/XAXX010101000/summary", headers=read).status_code == 404
    assert client.post("/api/v1/followups", json={"cliente": RFC, "tipo": "llamada"}, headers=read).status_code == 403
    write = {"Authorization": f"Bearer {_token(app, 'cobranza')}"}
    resp = client.post("/api/v1/followups", json={"cliente": RFC, "tipo": "correo", "notas": "Enviado estado de cuenta",
                                                 "promesa_fecha": "2026-11-30", "promesa_importe": "500.00"},
                       headers=write)
    assert resp.status_code == 201 and resp.json["seguimiento"]["contacto"] == "api:erp-cobranza"
    bad = client.post("/api/v1/followups", json={"cliente": RFC, "tipo": "correo", "promesa_importe": "-1",
                                                "promesa_fecha": "2026-11-30"}, headers=write)
    assert bad.status_code == 400 and "negativo" in bad.json["error"]["message"]
    assert client.post("/api/v1/followups", data="no json", headers=write).status_code == 400
    assert count(FollowUp) == 1
