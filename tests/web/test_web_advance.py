"""Payments received before their invoice, in the browser and through the API: the page
flags them and confirms them with a button, the API returns the warnings with their codes
and confirms with POST /api/v1/payments/{id}/confirm-advance, the REP waits until then."""

from __future__ import annotations

import rep_support
from sqlalchemy import select

from cfdi_cobranza.db.models import AuditEntry, Credit
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import users as users_service


def _headers(engine, role):
    with transaction(engine) as s:
        token = users_service.create_token(s, f"api-{role}", role, created_by="administrador")[1]
    return {"Authorization": f"Bearer {token}"}


def _pay_early(client, headers, when="2026-08-28"):
    body = {"customer": rep_support.CUSTOMER_RFC, "fecha_pago": when,
            "pagos": [{"forma_pago": "03", "moneda": "MXN", "monto": "1160.00"}]}
    resp = client.post("/api/v1/payments", json=body, headers=headers)
    assert resp.status_code == 201, resp.json
    return resp.json["payments"][0]["id"]


def test_api_flags_refuses_the_rep_and_confirms(client, app, engine, sandbox_env):
    files = rep_support.ppd_invoices(sandbox_env)  # F-101 issued 2026-09-01
    rep_support.import_files(app, files)
    rep_support.register_csd(engine, sandbox_env)
    fact = _headers(engine, "facturacion")
    pid = _pay_early(client, fact)
    uuid = files[0][2]
    resp = client.post(f"/api/v1/payments/{pid}/apply", json={"aplicaciones": [{"uuid": uuid, "importe": "1160.00"}]},
                       headers=fact)
    assert resp.status_code == 200
    assert [(w["code"], w["uuid"]) for w in resp.json["warnings"]] == [("PAGO_ANTERIOR_A_FACTURA", uuid)]
    conta = _headers(engine, "contabilidad")
    resp = client.post("/api/v1/reps", json={"payment_ids": [pid]}, headers=conta)
    assert resp.status_code == 422 and resp.json["error"]["code"] == "PAGO_ANTERIOR_SIN_CONFIRMAR", resp.json
    assert f"/api/v1/payments/{pid}/confirm-advance" in resp.json["error"]["message"]
    # Readers cannot confirm.
    reader = _headers(engine, "consulta")
    assert client.post(f"/api/v1/payments/{pid}/confirm-advance", headers=reader).status_code == 403
    resp = client.post(f"/api/v1/payments/{pid}/confirm-advance", json={"nota": "pedido 77"}, headers=fact)
    assert resp.status_code == 200 and len(resp.json["confirmed_credit_ids"]) == 1
    with transaction(engine) as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "confirmar_pago_anterior"))
        assert entry is not None and entry.actor == "api:api-facturacion"
    resp = client.post(f"/api/v1/payments/{pid}/confirm-advance", headers=fact)
    assert resp.status_code == 409 and resp.json["error"]["code"] == "SIN_PAGO_ANTERIOR_POR_CONFIRMAR"
    resp = client.post("/api/v1/reps", json={"payment_ids": [pid]}, headers=conta)
    assert resp.status_code == 201, resp.json
    listed = client.get("/api/v1/payments", headers=fact).json["data"]
    assert listed[0]["aplicaciones"][0]["pago_anterior"] == "confirmado"


def test_api_refuses_an_anticipo(client, app, engine, sandbox_env):
    files = rep_support.ppd_invoices(sandbox_env)
    rep_support.import_files(app, files)
    fact = _headers(engine, "facturacion")
    pid = _pay_early(client, fact, "2026-07-30")  # REP deadline 2026-08-05; invoices from 2026-09-01
    resp = client.post(f"/api/v1/payments/{pid}/apply",
                       json={"aplicaciones": [{"uuid": files[0][2], "importe": "1160.00"}]}, headers=fact)
    assert resp.status_code == 409 and resp.json["error"]["code"] == "ANTICIPO_REQUERIDO"
    with transaction(engine) as s:
        assert s.scalar(select(Credit.id)) is None


def test_payment_page_shows_the_flag_and_confirms_with_the_button(client, app, engine, sandbox_env, login):
    files = rep_support.ppd_invoices(sandbox_env)
    rep_support.import_files(app, files)
    pid = _pay_early(client, _headers(engine, "facturacion"))
    token = login(client, "facturacion")
    resp = client.post(f"/pagos/{pid}/aplicar", data={"csrf_token": token, "uuid": [files[0][2], files[1][2]],
                                                      "importe": ["1160.00", ""], "equivalencia": ["", ""]})
    assert resp.status_code == 302
    reps_page = client.get("/rep/").get_data(as_text=True)
    assert f'href="/pagos/{pid}#pago-anterior"' in reps_page and "Por confirmar" in reps_page
    html = client.get(f"/pagos/{pid}").get_data(as_text=True)
    assert "Pago anterior a la factura" in html and 'id="confirmar-anticipo"' in html and "Por confirmar" in html
    resp = client.post(f"/pagos/{pid}/confirmar-anticipo", data={"csrf_token": token, "nota": "pedido 77"})
    assert resp.status_code == 302
    html = client.get(f"/pagos/{pid}").get_data(as_text=True)
    assert 'id="confirmar-anticipo"' not in html and "Pago anterior confirmado por" in html
    with transaction(engine) as s:
        credit = s.scalar(select(Credit))
        assert credit is not None and credit.advance_confirmed_by is not None and credit.advance_note == "pedido 77"
    # Nothing left to confirm: 409 with the message, nothing changed.
    resp = client.post(f"/pagos/{pid}/confirmar-anticipo", data={"csrf_token": token})
    assert resp.status_code == 409 and "no tiene aplicaciones anteriores" in resp.get_data(as_text=True)
