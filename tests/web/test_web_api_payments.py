"""API: register and apply payments, issue and fetch REPs; errors as JSON with the CLI's codes."""

from __future__ import annotations

import rep_support

from cfdi_cobranza.db.models import Credit, Payment
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import users as users_service


def _headers(engine, role):
    with transaction(engine) as s:
        return {"Authorization": f"Bearer {users_service.create_token(s, f'api-{role}', role, created_by='administrador')[1]}"}


def test_register_apply_issue_fetch(client, app, engine, sandbox_env, count):
    files = rep_support.ppd_invoices(sandbox_env)
    rep_support.import_files(app, files)
    rep_support.register_csd(engine, sandbox_env)
    fact = _headers(engine, "facturacion")
    body = {"customer": rep_support.CUSTOMER_RFC, "fecha_pago": "2026-11-10",
            "pagos": [{"forma_pago": "03", "moneda": "MXN", "monto": "1000.00", "num_operacion": "SPEI-9"},
                      {"forma_pago": "01", "moneda": "MXN", "monto": 160}]}
    resp = client.post("/api/v1/payments", json=body, headers=fact)
    assert resp.status_code == 201, resp.json
    ids = [p["id"] for p in resp.json["payments"]]
    assert [p["monto"] for p in resp.json["payments"]] == ["1000.00", "160.00"]
    uuid = files[0][2]
    resp = client.post(f"/api/v1/payments/{ids[0]}/apply", json={"aplicaciones": [{"uuid": uuid, "importe": "1000.00"}]},
                       headers=fact)
    assert resp.status_code == 200 and resp.json["saldo_a_favor"] == "0.00"
    resp = client.post(f"/api/v1/payments/{ids[1]}/apply", json={"mas_antiguas_primero": True}, headers=fact)
    assert resp.status_code == 200 and resp.json["lines"][0]["imp_saldo_insoluto"] == "0.00"
    listed = client.get(f"/api/v1/payments?cliente={rep_support.CUSTOMER_RFC}", headers=fact).json["data"]
    assert {p["id"] for p in listed} == set(ids)
    # facturacion cannot stamp; contabilidad can.
    assert client.post("/api/v1/reps", json={"payment_ids": ids}, headers=fact).status_code == 403
    conta = _headers(engine, "contabilidad")
    resp = client.post("/api/v1/reps", json={"payment_ids": ids}, headers=conta)
    assert resp.status_code == 201 and resp.json["sandbox"] is True, resp.json
    rep_uuid = resp.json["uuid"]
    one = client.get(f"/api/v1/reps/{rep_uuid.lower()}", headers=fact).json
    assert one["uuid"] == rep_uuid and one["sin_validez_fiscal"] is True and sorted(one["pagos"]) == sorted(ids)
    assert [r["uuid"] for r in client.get("/api/v1/reps", headers=fact).json["data"]] == [rep_uuid]
    xml = client.get(f"/api/v1/reps/{rep_uuid}/xml", headers=fact)
    assert xml.status_code == 200 and b"pago20:Pagos" in xml.data
    pdf = client.get(f"/api/v1/reps/{rep_uuid}/pdf", headers=fact)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    # Nothing left to complement: 422 with the service's code.
    resp = client.post("/api/v1/reps", json={"payment_ids": ids}, headers=conta)
    assert resp.status_code == 422 and resp.json["error"]["code"] == "REP_SIN_APLICACIONES"


def test_api_refusals_json_codes_nothing_written(client, app, engine, sandbox_env, count):
    files = rep_support.ppd_invoices(sandbox_env)
    rep_support.import_files(app, files)
    h = _headers(engine, "administrador")
    resp = client.post("/api/v1/payments", data="no json", headers=h, content_type="text/plain")
    assert resp.status_code == 400 and resp.json["error"]["code"] == "JSON_INVALIDO"
    body = {"customer": rep_support.CUSTOMER_RFC, "fecha_pago": "2026-11-10",
            "pagos": [{"forma_pago": "99", "moneda": "MXN", "monto": "-1"}]}
    resp = client.post("/api/v1/payments", json=body, headers=h)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "FORMA_PAGO_99"
    assert len(resp.json["error"]["errores"]) == 2 and "mensaje" not in resp.json["error"]
    resp = client.post("/api/v1/payments", json={**body, "customer": "XAXX010101000", "pagos": [{"monto": "1"}]},
                       headers=h)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "CLIENTE_NO_ENCONTRADO"
    resp = client.post("/api/v1/payments", json={**body, "fecha_pago": "10/11/2026"}, headers=h)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "FECHA_INVALIDA"
    assert count(Payment) == 0
    pid = rep_support.payment(engine, "100.00", apply=False)
    resp = client.post(f"/api/v1/payments/{pid}/apply", json={"aplicaciones": [{"uuid": files[0][2], "importe": "5000"}]},
                       headers=h)
    assert resp.status_code == 409 and resp.json["error"]["code"] == "EXCEDE_SALDO"
    resp = client.post("/api/v1/payments/999/apply", json={"mas_antiguas_primero": True}, headers=h)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "PAGO_NO_ENCONTRADO"
    resp = client.post(f"/api/v1/payments/{pid}/apply", json={"aplicaciones": "x"}, headers=h)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "SIN_DOCUMENTOS"
    assert count(Credit) == 0
    resp = client.get("/api/v1/reps/NO-EXISTE", headers=h)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "REP_NO_ENCONTRADO"
    resp = client.post("/api/v1/reps", json={"payment_ids": ["a"]}, headers=h)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "SIN_PAGOS"
    resp = client.post("/api/v1/reps", json={"payment_ids": [pid]}, headers=h)
    assert resp.status_code == 422 and resp.json["error"]["code"] == "REP_SIN_APLICACIONES"
