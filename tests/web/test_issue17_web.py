"""Issue 17 through the web pages and the API: salesperson on follow-ups, follow-up and
task downloads, one sale assigned to another branch, letters logged with their PDF."""

from __future__ import annotations

import csv
import hashlib
import io

import openpyxl
from sqlalchemy import select

from cfdi_cobranza.db.models import AuditEntry, Customer
from cfdi_cobranza.db.models.collections import FollowUp, FollowUpAttachment, SaleAssignment
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services import users as users_service

RFC = "COSC8001137NA"


def _token(app, role):
    with transaction(app.extensions["cobranza_engine"]) as s:
        return users_service.create_token(s, f"erp17-{role}", role, created_by="administrador")[1]


def _set_seller(engine):
    with transaction(engine) as s:
        credit.set_conditions(s, RFC, actor="jefe", vendedor="Ana", sucursal="Norte")


def test_follow_up_salesperson_from_the_form_and_the_api(app, client, login, imported, engine):
    _set_seller(engine)
    token = login(client, "cobranza")
    assert 'name="vendedor"' in client.get("/seguimiento/").get_data(as_text=True)
    resp = client.post("/seguimiento/", data={"csrf_token": token, "cliente": RFC, "tipo": "llamada",
                                              "vendedor": "Zoe"})
    assert resp.status_code == 302
    resp = client.post("/seguimiento/", data={"csrf_token": token, "cliente": RFC, "tipo": "visita", "vendedor": ""})
    assert resp.status_code == 302
    write = {"Authorization": f"Bearer {_token(app, 'cobranza')}"}
    resp = client.post("/api/v1/followups", json={"cliente": RFC, "tipo": "correo", "vendedor": "Luis"}, headers=write)
    assert resp.status_code == 201 and resp.json["seguimiento"]["vendedor"] == "Luis"
    with transaction(engine) as s:
        assert [f.vendedor for f in s.scalars(select(FollowUp).order_by(FollowUp.id))] == ["Zoe", "Ana", "Luis"]
    assert "Vendedor: Zoe" in client.get("/seguimiento/").get_data(as_text=True)


def test_history_and_tasks_download_csv_excel_pdf(client, login, imported, engine):
    token = login(client, "cobranza")
    client.post("/seguimiento/", data={"csrf_token": token, "cliente": RFC, "tipo": "llamada", "vendedor": "Zoe",
                                       "notas": "Llamó la contadora"})
    page = client.get("/seguimiento/historial?estado=todos").get_data(as_text=True)
    assert "formato=csv" in page and "formato=xlsx" in page and "formato=pdf" in page
    resp = client.get("/seguimiento/historial?estado=todos&formato=csv")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    header = next(r for r in rows if r and r[0] == "Id")
    body = rows[rows.index(header) + 1:]
    assert len(body) == 1 and body[0][header.index("Vendedor")] == "Zoe"
    assert body[0][header.index("Notas")] == "Llamó la contadora"
    xlsx = client.get("/seguimiento/historial?estado=todos&formato=xlsx")
    assert xlsx.status_code == 200 and openpyxl.load_workbook(io.BytesIO(xlsx.data)).sheetnames
    pdf = client.get("/seguimiento/historial?estado=todos&formato=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    # History filtered to closed only: the pending follow-up is not exported.
    closed = client.get("/seguimiento/historial?formato=csv").data.decode("utf-8-sig")
    assert "Llamó la contadora" not in closed
    assert "descargas-tareas" in client.get("/seguimiento/").get_data(as_text=True)
    for fmt, magic in (("csv", b"\xef\xbb\xbf"), ("xlsx", b"PK"), ("pdf", b"%PDF")):
        resp = client.get(f"/seguimiento/tareas?formato={fmt}")
        assert resp.status_code == 200 and resp.data.startswith(magic), fmt
    assert client.get("/seguimiento/historial?formato=doc").status_code == 400


def test_one_sale_assigned_to_another_branch_from_the_page_and_the_api(app, client, login, imported, engine, count):
    _set_seller(engine)
    token = login(client, "cobranza")
    html = client.get(f"/documentos/{imported}").get_data(as_text=True)
    assert 'id="asignar-venta"' in html and "Norte" in html
    audits = count(AuditEntry)
    resp = client.post(f"/documentos/{imported}/asignacion", data={"csrf_token": token, "sucursal": ""})
    assert resp.status_code == 400 and "Indique la sucursal" in resp.get_data(as_text=True)
    assert count(AuditEntry) == audits
    resp = client.post(f"/documentos/{imported}/asignacion", data={"csrf_token": token, "sucursal": "Centro"})
    assert resp.status_code == 302
    html = client.get(f"/documentos/{imported}").get_data(as_text=True)
    assert '<strong id="sucursal-venta">Centro</strong>' in html
    read = {"Authorization": f"Bearer {_token(app, 'consulta')}"}
    url = f"/api/v1/documents/{imported}/assignment"
    assert client.post(url, json={"sucursal": "Sur"}, headers=read).status_code == 403
    write = {"Authorization": f"Bearer {_token(app, 'cobranza')}"}
    resp = client.post(url, json={"sucursal": "Sur", "vendedor": "Beto"}, headers=write)
    assert resp.status_code == 200, resp.json
    assert resp.json["asignacion"]["sucursal"] == "Sur" and resp.json["asignacion"]["anterior"]["sucursal"] == "Centro"
    bad = client.post(url, json={"vendedor": "Beto"}, headers=write)
    assert bad.status_code == 400 and bad.json["error"]["code"] == "SUCURSAL_REQUERIDA"
    missing = client.post("/api/v1/documents/00000000-0000-0000-0000-000000000000/assignment",
                          json={"sucursal": "Sur"}, headers=write)
    assert missing.status_code == 404
    with transaction(engine) as s:
        row = s.scalar(select(SaleAssignment))
        assert (row.sucursal, row.vendedor) == ("Sur", "Beto")
        actions = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "venta_reasignada")
                                 .order_by(AuditEntry.id)))
        assert [a.actor for a in actions][-2:] == ["cobranza", "api:erp17-cobranza"]
    aging = client.get("/api/v1/reports/aging?agrupar=sucursal", headers=read)
    assert aging.status_code == 200
    assert {r["grupo"] for r in aging.json["filas"]} == {"Sur"}


def test_letters_page_logs_each_letter_with_its_pdf(app, client, login, imported, engine, count):
    token = login(client, "cobranza")
    assert "cartas-seguimiento" in client.get("/seguimiento/cartas").get_data(as_text=True)
    resp = client.post("/seguimiento/cartas", data={"csrf_token": token, "tipo": "confirmacion_saldos"})
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    with transaction(engine) as s:
        fu = s.scalars(select(FollowUp)).one()
        att = s.scalars(select(FollowUpAttachment)).one()
        assert fu.tipo == "carta" and fu.contacto == "cobranza" and att.follow_up_id == fu.id
        assert "confirmacion_saldos" in fu.notes and att.carta_tipo == "confirmacion_saldos"
        fid, digest = fu.id, att.sha256
    page = client.get(f"/seguimiento/historial?cliente={RFC}&estado=todos").get_data(as_text=True)
    link = f"/seguimiento/{fid}/adjunto"
    assert link in page and "Descargar carta" in page
    got = client.get(link)
    assert got.status_code == 200 and got.data.startswith(b"%PDF")
    assert hashlib.sha256(got.data).hexdigest() == digest
    assert "attachment" in got.headers["Content-Disposition"]
    # Again the same day: the letter is produced, the follow-up file is not doubled.
    again = client.post("/seguimiento/cartas", data={"csrf_token": token, "tipo": "confirmacion_saldos"})
    assert again.status_code == 200 and count(FollowUp) == 1
    read = {"Authorization": f"Bearer {_token(app, 'consulta')}"}
    shown = client.get(f"/api/v1/followups/{fid}", headers=read)
    assert shown.status_code == 200 and shown.json["seguimiento"]["adjunto"]["sha256"] == digest
    listed = client.get(f"/api/v1/followups?cliente={RFC}&estado=todos", headers=read)
    assert listed.status_code == 200
    assert [(f["id"], f["tipo"], f["adjunto"]["sha256"]) for f in listed.json["seguimientos"]] == [(fid, "carta", digest)]
    assert client.get("/api/v1/followups", headers=read).json["seguimientos"] == []  # closed only by default
    pdf = client.get(f"/api/v1/followups/{fid}/attachment", headers=read)
    assert pdf.status_code == 200 and hashlib.sha256(pdf.data).hexdigest() == digest
    assert client.get("/api/v1/followups/999/attachment", headers=read).json["error"]["code"] == \
        "ADJUNTO_NO_ENCONTRADO"
    assert client.get("/seguimiento/999/adjunto").status_code == 404
    # The customer's page lists it in its follow-ups, with the same download.
    with transaction(engine) as s:
        cid = s.scalar(select(Customer.id).where(Customer.rfc == RFC))
    html = client.get(f"/clientes/{cid}").get_data(as_text=True)
    assert link in html
