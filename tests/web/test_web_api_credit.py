"""The credit check and credit authorizations through the API, as an ERP or a point of
sale uses them before a sale: the same level and reasons as the service the CLI and the
customer page call, authorization requests and their answers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services import users as users_service

RFC = "COSC8001137NA"  # the customer of the real CFDI 4.0 invoice


def _token(app, role, *, owner=None):
    with transaction(app.extensions["cobranza_engine"]) as s:
        token, clear = users_service.create_token(s, f"erp-{role}-{owner}", role, created_by=owner or "cli")
        if owner:
            token.user_id = users_service.get_user(s, owner).id
    return {"Authorization": f"Bearer {clear}"}


@pytest.fixture
def limited(app, imported, web_clock):
    with transaction(app.extensions["cobranza_engine"]) as s:
        credit.set_conditions(s, RFC, actor="pruebas", limits={"MXN": Decimal("1000.00")},
                              nivel_control="autorizacion", clock=web_clock)
    return RFC


def test_credit_check_answers_like_the_service(app, client, limited, web_clock):
    headers = _token(app, "consulta")
    for amount, level in (("10.00", None), ("999999.00", "solicitud_autorizacion")):
        resp = client.get(f"/api/v1/customers/{limited}/credit-check?amount={amount}&currency=MXN", headers=headers)
        assert resp.status_code == 200, resp.json
        with transaction(app.extensions["cobranza_engine"]) as s:
            expected = credit.check_credit(s, limited, Decimal(amount), "MXN", clock=web_clock).to_dict()
        assert resp.json == expected
        if level:
            assert resp.json["nivel"] == level and resp.json["razones"]
            assert {r["code"] for r in resp.json["razones"]}


def test_restrictive_control_answers_restriccion(app, client, limited, web_clock):
    with transaction(app.extensions["cobranza_engine"]) as s:
        credit.set_conditions(s, limited, actor="pruebas", nivel_control="restrictivo", clock=web_clock)
    resp = client.get(f"/api/v1/customers/{limited}/credit-check?amount=999999.00", headers=_token(app, "consulta"))
    assert resp.status_code == 200 and resp.json["nivel"] == "restriccion" and resp.json["permitida"] is False


@pytest.mark.parametrize("query,code", [("", "IMPORTE_REQUERIDO"), ("?amount=abc", "IMPORTE_INVALIDO"),
                                        ("?amount=10&operacion=regalo", "OPERACION_INVALIDA")])
def test_bad_questions_are_400_with_a_code(app, client, limited, query, code):
    resp = client.get(f"/api/v1/customers/{limited}/credit-check{query}", headers=_token(app, "consulta"))
    assert resp.status_code == 400 and resp.json["error"]["code"] == code


def test_unknown_customer_is_404(app, client, imported):
    resp = client.get("/api/v1/customers/XEXX010101000/credit-check?amount=10", headers=_token(app, "consulta"))
    assert resp.status_code == 404 and resp.json["error"]["code"] == "CLIENTE_NO_ENCONTRADO"


def test_request_and_decide_an_authorization(app, client, limited):
    requester = _token(app, "facturacion")
    resp = client.post(f"/api/v1/customers/{limited}/authorizations",
                       json={"importe": "5000.00", "moneda": "MXN", "motivo": "Pedido grande"}, headers=requester)
    assert resp.status_code == 201, resp.json
    request_id = resp.json["id"]
    assert resp.json["estado"] == "pendiente" and resp.json["nivel"] == "solicitud_autorizacion"
    listed = client.get("/api/v1/authorizations?estado=pendiente", headers=_token(app, "consulta")).json["data"]
    assert [a["id"] for a in listed] == [request_id]

    # A token that belongs to no person cannot decide; a consulta token may not at all.
    resp = client.post(f"/api/v1/authorizations/{request_id}/decision", json={"autorizar": True},
                       headers=_token(app, "cobranza"))
    assert resp.status_code == 409 and resp.json["error"]["code"] == "AUTORIZACION_REQUIERE_USUARIO"
    resp = client.post(f"/api/v1/authorizations/{request_id}/decision", json={"autorizar": True},
                       headers=_token(app, "consulta"))
    assert resp.status_code == 403
    person = _token(app, "cobranza", owner="cobranza")
    resp = client.post(f"/api/v1/authorizations/{request_id}/decision", json={"autorizar": "sí"}, headers=person)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "DECISION_INVALIDA"
    resp = client.post(f"/api/v1/authorizations/{request_id}/decision", json={"autorizar": False}, headers=person)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "MOTIVO_REQUERIDO"
    resp = client.post(f"/api/v1/authorizations/{request_id}/decision",
                       json={"autorizar": True, "motivo": "Cliente de años"}, headers=person)
    assert resp.status_code == 200, resp.json
    assert resp.json["estado"] == "autorizada" and resp.json["resuelta_por"] == "cobranza"
    resp = client.post(f"/api/v1/authorizations/{request_id}/decision", json={"autorizar": False, "motivo": "x"},
                       headers=person)
    assert resp.status_code == 409  # already decided


def test_reports_filter_and_group_by_collection_type_through_the_api(app, client, imported, web_clock):
    headers = _token(app, "consulta")
    with transaction(app.extensions["cobranza_engine"]) as s:
        credit.set_conditions(s, RFC, actor="pruebas", tipo_cobranza="judicial", clock=web_clock)
    grouped = client.get("/api/v1/reports/aging?agrupar=tipo_cobranza", headers=headers)
    assert grouped.status_code == 200, grouped.json
    assert {r["grupo"] for r in grouped.json["filas"]} == {"judicial"}
    normal = client.get("/api/v1/reports/aging?tipo_cobranza=normal", headers=headers).json
    judicial = client.get("/api/v1/reports/aging?tipo_cobranza=judicial", headers=headers).json
    assert normal["filas"] == [] and {r["grupo"] for r in judicial["filas"]} == {RFC}
    bad = client.get("/api/v1/reports/aging?tipo_cobranza=planeta", headers=headers)
    assert bad.status_code == 400 and bad.json["error"]["code"] == "TIPO_COBRANZA_INVALIDO"
