"""REP pages: pending with countdown, issue with the sandbox PAC, XML/PDF download, cancel; CSD upload."""

from __future__ import annotations

import rep_support
from lxml import etree
from sqlalchemy import select

from cfdi_cobranza.db.models import CompanyCsd, Rep
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import jobs


def test_pending_issue_download_and_cancel(client, login, rep_world, engine, web_clock):
    token = login(client, "contabilidad")
    html = client.get("/rep/").get_data(as_text=True)
    assert "Pagos sin REP" in html and "05/12/2026" in html and "15 días" in html
    assert "SIN VALIDEZ FISCAL" in html
    pid = rep_world["payment_id"]
    resp = client.post("/rep/emitir", data={"csrf_token": token, "pago": str(pid)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    uuid = resp.headers["Location"].rsplit("/", 1)[1]
    detail = client.get(f"/rep/{uuid}").get_data(as_text=True)
    assert "SIN VALIDEZ FISCAL" in detail and "Timbrado" in detail
    xml = client.get(f"/rep/{uuid}/xml")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert "attachment" in xml.headers["Content-Disposition"]
    root = etree.fromstring(xml.data)
    assert root.get("TipoDeComprobante") == "P"
    with transaction(engine) as s:
        assert s.scalar(select(Rep.stamped_xml).where(Rep.uuid == uuid)) == xml.data  # the stored bytes
    pdf = client.get(f"/rep/{uuid}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"
    # Cancel needs the confirmation box and a motive; motive 02 cancels without replacement.
    resp = client.post(f"/rep/{uuid}/cancelar", data={"csrf_token": token, "motivo": "02"})
    assert resp.status_code == 400 and "confirmación" in resp.get_data(as_text=True)
    resp = client.post(f"/rep/{uuid}/cancelar", data={"csrf_token": token, "motivo": "07", "confirmar": "1"})
    assert resp.status_code == 400
    resp = client.post(f"/rep/{uuid}/cancelar", data={"csrf_token": token, "motivo": "02", "confirmar": "1"})
    assert resp.status_code == 302
    assert "Cancelado" in client.get(f"/rep/{uuid}").get_data(as_text=True)


def test_cancel_01_substitutes(client, login, rep_world, engine):
    token = login(client, "administrador")
    uuid = rep_world["rep_uuid"]
    resp = client.post(f"/rep/{uuid}/cancelar", data={"csrf_token": token, "motivo": "01", "confirmar": "1"})
    assert resp.status_code == 302
    html = client.get(f"/rep/{uuid}").get_data(as_text=True)
    assert "Sustituido" in html and "Sustituido por" in html


def test_issue_refusal_shows_reason_and_writes_nothing(client, login, rep_world, engine):
    token = login(client, "contabilidad")
    # The stamped payment has nothing left to complement: refused with the service's message.
    resp = client.post("/rep/emitir", data={"csrf_token": token, "pago": str(rep_world["stamped_payment"])})
    assert resp.status_code == 422
    assert "amparadas por un REP vigente" in resp.get_data(as_text=True)
    resp = client.post("/rep/emitir", data={"csrf_token": token, "pago": "abc"})
    assert resp.status_code == 400 and "no es un número de pago" in resp.get_data(as_text=True)
    with transaction(engine) as s:
        assert len(s.scalars(select(Rep)).all()) == 1


def test_issue_all_pending(client, login, rep_world, app, engine):
    token = login(client, "contabilidad")
    resp = client.post("/rep/emitir", data={"csrf_token": token, "todos": "1"})
    # The run is queued and the page returns at once, to the Tareas page.
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/tareas/")
    assert "No hay pagos pendientes de REP" not in client.get("/rep/").get_data(as_text=True)
    html = client.get("/tareas/").get_data(as_text=True)
    assert "Emitir REP pendientes" in html and "En cola" in html and 'http-equiv="refresh"' in html
    settings = app.config["COBRANZA_SETTINGS"]
    ran = jobs.run_until_empty(jobs.Runtime(engine, instance_path=settings.instance_path))
    assert [state for _id, state in ran] == ["done"]
    html = client.get("/rep/").get_data(as_text=True)
    assert "No hay pagos pendientes de REP" in html
    with transaction(engine) as s:
        assert sorted(r.status for r in s.scalars(select(Rep))) == ["timbrado", "timbrado"]
    assert "1 REP timbrado" in client.get("/tareas/").get_data(as_text=True)


def test_late_payment_in_red_and_dashboard_compliance(client, login, rep_world, web_clock):
    from datetime import UTC, datetime

    web_clock.now = datetime(2026, 12, 9, 18, 0, tzinfo=UTC)
    login(client, "consulta")
    html = client.get("/rep/").get_data(as_text=True)
    assert "row-late" in html and "Vencido hace 4 días" in html
    board = client.get("/").get_data(as_text=True)
    assert "Cumplimiento de REP" in board and "fuera de plazo" in board and "próximamente" not in board.split(
        "Cumplimiento de REP")[1].split("</section>")[0]


def test_consulta_cannot_issue_or_cancel(client, login, rep_world):
    token = login(client, "consulta")
    assert client.post("/rep/emitir", data={"csrf_token": token, "todos": "1"}).status_code == 403
    html = client.get(f"/rep/{rep_world['rep_uuid']}").get_data(as_text=True)
    assert "Cancelar REP" not in html
    assert client.get(f"/rep/{rep_world['rep_uuid']}/pdf").status_code == 200


def test_csrf_on_rep_issue(client, login, rep_world, engine):
    login(client, "contabilidad")
    resp = client.post("/rep/emitir", data={"csrf_token": "x", "todos": "1"})
    assert resp.status_code == 400
    with transaction(engine) as s:
        assert len(s.scalars(select(Rep)).all()) == 1


def test_csd_upload_never_echoes_password(client, login, app, sandbox_env, engine):
    import io

    rep_support.ensure_company(engine)
    token = login(client, "contabilidad")
    page = client.get("/configuracion/empresas/").get_data(as_text=True)
    assert "Sandbox local" in page and "Sin CSD" in page
    def files(password):
        return {"csrf_token": token, "password": password,
                "cer": (io.BytesIO(rep_support.CER.read_bytes()), "a.cer"),
                "key": (io.BytesIO(rep_support.KEY.read_bytes()), "a.key")}
    resp = client.post(f"/configuracion/empresas/{rep_support.ISSUER_RFC}/csd", data=files("clave-mala-999"),
                       content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "clave-mala-999" not in html
    with transaction(engine) as s:
        assert s.scalar(select(CompanyCsd)) is None
    resp = client.post(f"/configuracion/empresas/{rep_support.ISSUER_RFC}/csd", data=files(rep_support.CSD_PASSWORD),
                       content_type="multipart/form-data", follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "registrado" in html and rep_support.CSD_PASSWORD not in html
    with transaction(engine) as s:
        csd = s.scalar(select(CompanyCsd))
        assert rep_support.CSD_PASSWORD.encode() not in csd.password_sealed
    # REP serie: validated and stored.
    resp = client.post(f"/configuracion/empresas/{rep_support.ISSUER_RFC}/serie", data={"csrf_token": token,
                                                                                       "serie": "A|B"})
    assert resp.status_code == 400 and "Serie" in resp.get_data(as_text=True)
    resp = client.post(f"/configuracion/empresas/{rep_support.ISSUER_RFC}/serie", data={"csrf_token": token,
                                                                                       "serie": "RP"})
    assert resp.status_code == 302
    assert 'value="RP"' in client.get("/configuracion/empresas/").get_data(as_text=True)
