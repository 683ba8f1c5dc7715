"""Pagos in the browser's shoes: register a settlement, apply it, refusals write nothing."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import rep_support
from sqlalchemy import select

from cfdi_cobranza.db.models import Credit, Document, Payment, Settlement
from cfdi_cobranza.db.session import transaction


@pytest.fixture
def invoices(app, sandbox_env):
    files = rep_support.ppd_invoices(sandbox_env)
    rep_support.import_files(app, files)
    return [u for _n, _x, u in files]


def _settlement_form(token, **over):
    data = {"csrf_token": token, "customer": rep_support.CUSTOMER_RFC, "fecha_pago": "10/11/2026", "notas": "",
            "forma_pago": ["01", "03"], "monto": ["500.00", "$1,000.00"], "moneda": ["MXN", "MXN"],
            "tipo_cambio": ["", ""], "num_operacion": ["", "SPEI-1"], "caja": ["", ""],
            "accion": "registrar"}
    data.update(over)
    return data


def test_register_settlement_with_two_forms_then_apply_suggested(client, login, invoices, count, engine):
    token = login(client, "facturacion")
    page = client.get(f"/pagos/nuevo?cliente={rep_support.CUSTOMER_RFC}").get_data(as_text=True)
    assert "Registrar pago" in page and 'src="/static/pagos.js"' in page
    resp = client.post("/pagos/nuevo", data=_settlement_form(token))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert count(Settlement) == 1 and count(Payment) == 2
    first = int(resp.headers["Location"].rsplit("/", 1)[1])
    html = client.get(f"/pagos/{first}").get_data(as_text=True)
    assert "Saldo a favor" in html and "$500.00 MXN" in html
    # Oldest first: F-101 (1,160.00) gets the whole 500.00 suggested.
    assert re.search(r'name="importe"[^>]*value="500.00"', html)
    resp = client.post(f"/pagos/{first}/aplicar", data={"csrf_token": token, "uuid": invoices,
                                                        "importe": ["500.00", ""], "equivalencia": ["", ""]})
    assert resp.status_code == 302
    with transaction(engine) as s:
        doc = s.scalar(select(Document).where(Document.uuid == invoices[0]))
        assert doc.saldo == Decimal("660.00")
        assert s.get(Payment, first).aplicado == Decimal("500.00")


def test_add_row_without_javascript_writes_nothing(client, login, invoices, count):
    token = login(client, "facturacion")
    resp = client.post("/pagos/nuevo", data=_settlement_form(token, accion="agregar_fila"))
    assert resp.status_code == 200
    assert resp.get_data(as_text=True).count('name="monto"') == 3
    assert count(Payment) == 0


@pytest.mark.parametrize("over, message", [
    ({"monto": ["-5", "abc"]}, "no es un importe válido"),
    ({"fecha_pago": "31/02/2026"}, "no es una fecha válida"),
    ({"customer": ""}, "Seleccione el cliente"),
    ({"forma_pago": ["99", "03"]}, "99"),
    ({"monto": ["", ""], "num_operacion": ["", ""]}, "al menos una forma de pago"),
    ({"moneda": ["USD", "MXN"]}, "tipo de cambio"),
])
def test_bad_settlement_input_spanish_message_nothing_written(client, login, invoices, count, over, message):
    token = login(client, "facturacion")
    resp = client.post("/pagos/nuevo", data=_settlement_form(token, **over))
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "No se registró el pago" in html and message.lower() in html.lower(), html[html.find("errores-pago"):][:600]
    assert count(Payment) == 0 and count(Settlement) == 0


def test_apply_over_the_balance_refused_nothing_written(client, login, invoices, engine, count):
    token = login(client, "facturacion")
    pid = rep_support.payment(engine, "5000.00", apply=False)
    resp = client.post(f"/pagos/{pid}/aplicar", data={"csrf_token": token, "uuid": invoices,
                                                     "importe": ["1160.01", "100.00"], "equivalencia": ["", ""]})
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "No se aplicó nada" in html and "excede el saldo" in html
    assert 'value="1160.01"' in html  # what was typed comes back for correction
    assert count(Credit) == 0
    # More than the payment has left: refused too.
    small = rep_support.payment(engine, "10.00", apply=False)
    resp = client.post(f"/pagos/{small}/aplicar", data={"csrf_token": token, "uuid": invoices,
                                                       "importe": ["", "11.00"], "equivalencia": ["", ""]})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "solo tiene" in html
    assert count(Credit) == 0
    with transaction(engine) as s:
        assert s.get(Payment, small).aplicado == 0 and s.get(Payment, pid).aplicado == 0


def test_apply_with_no_amounts_and_bad_amount(client, login, invoices, engine, count):
    token = login(client, "facturacion")
    pid = rep_support.payment(engine, "100.00", apply=False)
    resp = client.post(f"/pagos/{pid}/aplicar", data={"csrf_token": token, "uuid": invoices, "importe": ["", ""],
                                                     "equivalencia": ["", ""]})
    assert resp.status_code == 400 and "al menos una factura" in resp.get_data(as_text=True)
    resp = client.post(f"/pagos/{pid}/aplicar", data={"csrf_token": token, "uuid": invoices, "importe": ["1.234", ""],
                                                     "equivalencia": ["", ""]})
    assert resp.status_code == 400 and "decimales" in resp.get_data(as_text=True)
    assert count(Credit) == 0


def test_unapply_needs_reason_and_then_reverses(client, login, invoices, engine):
    token = login(client, "facturacion")
    pid = rep_support.payment(engine, "300.00")
    resp = client.post(f"/pagos/{pid}/revertir", data={"csrf_token": token, "uuid": invoices[0], "motivo": " "})
    assert resp.status_code == 400 and "motivo" in resp.get_data(as_text=True)
    resp = client.post(f"/pagos/{pid}/revertir", data={"csrf_token": token, "uuid": invoices[0],
                                                      "motivo": "factura equivocada"})
    assert resp.status_code == 302
    with transaction(engine) as s:
        assert s.get(Payment, pid).aplicado == 0
    assert "Revertida" in client.get(f"/pagos/{pid}").get_data(as_text=True)


def test_unapply_refused_while_a_rep_covers_it(client, login, rep_world):
    token = login(client, "administrador")
    pid = rep_world["stamped_payment"]
    resp = client.post(f"/pagos/{pid}/revertir", data={"csrf_token": token, "uuid": rep_world["invoices"][0],
                                                      "motivo": "x"})
    assert resp.status_code == 409 and "cancele ese REP" in resp.get_data(as_text=True)


def test_csrf_required_on_payment_forms(client, login, invoices, count):
    login(client, "facturacion")
    data = _settlement_form("token-falso")
    resp = client.post("/pagos/nuevo", data=data)
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)
    assert count(Payment) == 0


def test_consulta_reads_but_cannot_register(client, login, invoices, engine):
    token = login(client, "consulta")
    pid = rep_support.payment(engine, "100.00", apply=False)
    html = client.get(f"/pagos/{pid}").get_data(as_text=True)
    assert "Aplicar pago" not in html and "Registrar pago" not in client.get("/pagos/").get_data(as_text=True)
    assert client.post("/pagos/nuevo", data=_settlement_form(token)).status_code == 403
