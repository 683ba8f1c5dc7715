"""Credit control for other systems: the real-time credit check an ERP or point of sale
asks before a sale, and credit authorization requests with their answers.

The same services as ``cobranza credit check|authorize`` and the customer page
(``services.collections.check_credit``, ``request_authorization``,
``decide_authorization``): the level (información, advertencia, solicitud de
autorización, restricción) and its reasons are identical whichever way it is asked.
A decision needs a person: the token must belong to an active user with an authorizer
role (tokens made with ``cobranza token create`` belong to no one and cannot decide).
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from cfdi_cobranza.db.models.users import User
from cfdi_cobranza.errors import ConflictError, ValidationError
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services.ledger import find_customer
from web.api import bp
from web.api.auth import token_role
from web.api.payments import json_body
from web.clock import clock
from web.db import get_session
from web.security import READERS
from web.services.collections import parse_int, parse_money

REQUESTERS = frozenset({"administrador", "cobranza", "facturacion"})
AUTHORIZERS = frozenset(credit.AUTHORIZER_ROLES)


def _text(value: object, limit: int = 200) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ("" if value is None else str(value)[:limit])


@bp.route("/customers/<rfc>/credit-check", methods=["GET"])
@token_role(*READERS)
def credit_check(rfc: str) -> Any:
    find_customer(get_session(), rfc[:20])  # an unknown (or another company's) customer is 404 first
    importe = parse_money(request.args.get("amount") or request.args.get("importe"), "El importe", required=True)
    assert importe is not None
    moneda = (request.args.get("currency") or request.args.get("moneda") or "MXN")[:3]
    plazo = parse_int(request.args.get("plazo") or request.args.get("term"), "El plazo")
    tipo = (request.args.get("operacion") or request.args.get("operation") or "venta_credito")[:20]
    forma = (request.args.get("forma_pago") or "").strip()[:2] or None
    check = credit.check_credit(get_session(), rfc[:20], importe, moneda, tipo=tipo, plazo_dias=plazo,
                                forma_pago=forma, clock=clock())
    return jsonify(check.to_dict())


@bp.route("/authorizations", methods=["GET"])
@token_role(*READERS)
def list_authorizations() -> Any:
    estado = (request.args.get("estado") or "").strip()[:20] or None
    rfc = (request.args.get("cliente") or "").strip()[:20] or None
    rows = credit.list_authorizations(get_session(), status=estado, rfc=rfc)
    return jsonify({"data": [a.to_dict() for a in rows]})


@bp.route("/customers/<rfc>/authorizations", methods=["POST"])
@token_role(*REQUESTERS)
def request_authorization(rfc: str) -> Any:
    body = json_body()
    importe = parse_money(_text(body.get("importe") or body.get("amount"), 30), "El importe", required=True)
    assert importe is not None
    plazo = parse_int(_text(body.get("plazo_dias"), 10), "El plazo")
    db = get_session()
    view = credit.request_authorization(
        db, rfc[:20], importe, _text(body.get("moneda") or "MXN", 3), actor=f"api:{g.api_token.name}",
        tipo=_text(body.get("operacion") or "venta_credito", 20), plazo_dias=plazo,
        motivo=_text(body.get("motivo"), 1000) or None, forma_pago=_text(body.get("forma_pago"), 2) or None,
        clock=clock())
    db.commit()
    return jsonify(view.to_dict()), 201


@bp.route("/authorizations/<int:authorization_id>/decision", methods=["POST"])
@token_role(*AUTHORIZERS)
def decide_authorization(authorization_id: int) -> Any:
    body = json_body()
    grant = body.get("autorizar")
    if not isinstance(grant, bool):
        raise ValidationError("«autorizar» debe ser true (autorizar) o false (denegar).", code="DECISION_INVALIDA")
    db = get_session()
    owner = db.get(User, g.api_token.user_id) if g.api_token.user_id is not None else None
    if owner is None:
        raise ConflictError("Una autorización la resuelve una persona: use un token creado por un usuario con rol "
                            "de cobranza o administrador.", code="AUTORIZACION_REQUIERE_USUARIO")
    view = credit.decide_authorization(db, authorization_id, grant=grant, username=owner.username,
                                       motivo=_text(body.get("motivo"), 1000) or None, clock=clock())
    db.commit()
    return jsonify(view.to_dict())
