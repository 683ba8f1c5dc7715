"""Payments through the API: register a settlement, apply a payment, list payments.

Bodies are JSON. Amounts travel as strings ("1500.00") so no float ever touches them;
numbers are accepted too and converted through their text, never through float math.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import g, jsonify, request

from cfdi_cobranza.domain.fx import parse_rates
from cfdi_cobranza.domain.payments import ReceiptInput
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.services import payments as pay
from web.api import bp
from web.api.auth import token_role
from web.clock import clock
from web.db import get_session
from web.input_guard import json_body as parsed_body
from web.payments import PAYERS
from web.security import READERS

RECEIPT_FIELDS = ("forma_pago", "moneda", "monto", "tipo_cambio", "num_operacion", "rfc_emisor_cta_ord",
                  "nom_banco_ord_ext", "cta_ordenante", "rfc_emisor_cta_ben", "cta_beneficiario", "caja")


def json_body() -> dict[str, Any]:
    data = parsed_body()  # size, depth and NUL already checked by web.input_guard
    if not isinstance(data, dict):
        raise ValidationError("El cuerpo debe ser un objeto JSON (Content-Type: application/json).",
                              code="JSON_INVALIDO")
    return data


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError(f"Valor inválido: {value!r}.", code="VALIDACION")
    if isinstance(value, float):
        value = repr(value)  # shortest text that round-trips; never Decimal(float)
    return str(value).strip()[:300]


def _fecha(value: Any) -> datetime | date:
    text = _text(value) or ""
    try:
        return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"fecha_pago «{text[:30]}» no es una fecha ISO (aaaa-mm-dd o aaaa-mm-ddThh:mm:ss).",
                              code="FECHA_INVALIDA") from None


def _actor() -> str:
    return f"api:{g.api_token.name}"


@bp.route("/payments", methods=["GET"])
@token_role(*READERS)
def list_payments() -> Any:
    cliente = (request.args.get("cliente") or "").strip()[:13] or None
    return jsonify({"data": [p.to_dict() for p in pay.list_payments(get_session(), cliente)]})


@bp.route("/payments", methods=["POST"])
@token_role(*PAYERS)
def register_payment() -> Any:
    body = json_body()
    parts = body.get("pagos")
    if parts is None:
        parts = [body]
    if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
        raise ValidationError("«pagos» debe ser una lista de objetos con forma_pago, moneda y monto.",
                              code="LIQUIDACION_VACIA")
    customer = _text(body.get("customer") or body.get("cliente")) or ""
    fecha = _fecha(body.get("fecha_pago"))
    receipts = [ReceiptInput(
        customer=customer, company=_text(body.get("company") or body.get("empresa")) or "", fecha_pago=fecha,
        forma_pago=_text(p.get("forma_pago")) or "", moneda=(_text(p.get("moneda")) or "MXN").upper(),
        monto=_text(p.get("monto")) or "", tipo_cambio=_text(p.get("tipo_cambio")),
        **{k: _text(p.get(k)) for k in RECEIPT_FIELDS if k not in ("forma_pago", "moneda", "monto", "tipo_cambio")},
        notas=_text(body.get("notas")),
    ) for p in parts[:20]]
    db = get_session()
    settlement = pay.register_settlement(db, receipts, actor=_actor(), clock=clock())
    db.commit()
    ids = {p.id for p in settlement.payments}
    rows = [p.to_dict() for p in pay.list_payments(db, customer) if p.id in ids]
    return jsonify({"settlement_id": settlement.id, "payments": rows}), 201


@bp.route("/payments/<int:payment_id>/apply", methods=["POST"])
@token_role(*PAYERS)
def apply_payment(payment_id: int) -> Any:
    body = json_body()
    rates_raw = body.get("tipos_cambio") or {}
    if not isinstance(rates_raw, dict):
        raise ValidationError("«tipos_cambio» debe ser un objeto {\"USD\": \"17.20\"}.", code="TIPO_CAMBIO_INVALIDO")
    # The same rule as --rate on the CLI: finite, above zero, at most 10 decimals.
    rates = parse_rates(f"{str(k)[:3]}={_text(v) or ''}" for k, v in list(rates_raw.items())[:20])
    db = get_session()
    if body.get("mas_antiguas_primero") or body.get("oldest_first"):
        result = pay.apply_oldest_first(db, payment_id, rates=rates, actor=_actor(), clock=clock())
    else:
        lines = body.get("aplicaciones")
        if not isinstance(lines, list) or not lines or not all(isinstance(a, dict) for a in lines):
            raise ValidationError("«aplicaciones» debe ser una lista de {uuid, importe, equivalencia?}.",
                                  code="SIN_DOCUMENTOS")
        allocations = [pay.Allocation(_text(a.get("uuid")) or "", _text(a.get("importe")) or "",
                                      _text(a.get("equivalencia"))) for a in lines[:500]]
        result = pay.apply_payment(db, payment_id, allocations, rates=rates, actor=_actor(), clock=clock())
    db.commit()
    return jsonify(result.to_dict())


@bp.route("/payments/<int:payment_id>/confirm-advance", methods=["POST"])
@token_role(*PAYERS)
def confirm_advance(payment_id: int) -> Any:
    """A payment received before its invoice: confirm the operation was already agreed, so its REP may issue."""
    body = json_body() if request.get_data() else {}
    db = get_session()
    ids = pay.confirm_advance(db, payment_id, actor=_actor(), note=_text(body.get("nota")), clock=clock())
    db.commit()
    return jsonify({"payment_id": payment_id, "confirmed_credit_ids": ids})
