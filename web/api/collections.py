"""Collections endpoints: aging, due dates and projected income reports, a customer's
financial summary, and recording a follow-up (the follow-up file only grows)."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify, request

from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.reports import tables
from cfdi_cobranza.services import collection_reports as reports
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services import followups
from web.api import bp
from web.api.auth import token_role
from web.clock import clock, today
from web.db import get_session
from web.downloads import attachment
from web.input_guard import json_body
from web.security import READERS
from web.services import collections as view
from web.services.inputs import parse_date

FOLLOWERS = frozenset({"administrador", "cobranza"})


@bp.route("/reports/aging", methods=["GET"])
@token_role(*READERS)
def report_aging() -> Any:
    p = view.parse_params(request.args, today())
    page = view.aging_page(get_session(), p, for_download=True)
    return jsonify(page.report.payload)


@bp.route("/reports/due", methods=["GET"])
@token_role(*READERS)
def report_due() -> Any:
    p = view.parse_params(request.args, today())
    return jsonify(view.due_page(get_session(), p, for_download=True).report.payload)


@bp.route("/reports/projection", methods=["GET"])
@token_role(*READERS)
def report_projection() -> Any:
    p = view.parse_params(request.args, today())
    return jsonify(view.projection_page(get_session(), p, for_download=True).report.payload)


@bp.route("/reports/trends", methods=["GET"])
@token_role(*READERS)
def report_trends() -> Any:
    p = view.parse_params(request.args, today())
    return jsonify(view.trends_page(get_session(), p, for_download=True).report.payload)


@bp.route("/customers/<rfc>/statement", methods=["GET"])
@token_role(*READERS)
def customer_statement(rfc: str) -> Any:
    p = view.parse_params(request.args.to_dict() | {"cliente": rfc}, today())
    page = view.statement_page(get_session(), p)
    assert page.report is not None
    return jsonify(page.report.payload)


@bp.route("/customers/<rfc>/summary", methods=["GET"])
@token_role(*READERS)
def customer_summary(rfc: str) -> Any:
    as_of = parse_date(request.args.get("corte"), "Fecha de corte") or today()
    summary = reports.customer_overview(get_session(), rfc[:20], as_of)
    return jsonify(tables.customer_summary_payload(summary))


@bp.route("/followups", methods=["POST"])
@token_role(*FOLLOWERS)
def add_follow_up() -> Any:
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError("Envíe un objeto JSON con cliente y tipo del seguimiento.", code="JSON_INVALIDO")
    fields = {"cliente": "cliente", "tipo": "tipo", "notas": "notas", "promesa_fecha": "promesa_fecha",
              "promesa_importe": "promesa_importe", "promesa_moneda": "promesa_moneda",
              "proxima_fecha": "proxima_fecha", "proxima_tipo": "proxima_tipo", "vendedor": "vendedor"}
    form = {k: str(body.get(src) or "") for k, src in fields.items()}
    docs = body.get("documentos") or []
    if not isinstance(docs, list):
        raise ValidationError("«documentos» debe ser una lista de UUID o serie-folio.", code="JSON_INVALIDO")
    form["documentos"] = ",".join(str(d) for d in docs[:50])
    db = get_session()
    data = view.add_follow_up(db, view.FollowUpForm.from_form(form), actor=f"api:{g.api_token.name}", clock=clock())
    db.commit()
    return jsonify({"seguimiento": data}), 201


@bp.route("/documents/<uuid>/assignment", methods=["POST"])
@token_role(*FOLLOWERS)
def assign_document(uuid: str) -> Any:
    """Move one sale to another branch (and salesperson); audited, reports follow it."""
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError("Envíe un objeto JSON con la sucursal de la venta.", code="JSON_INVALIDO")
    db = get_session()
    data = credit.reassign_sale(db, uuid[:60], sucursal=str(body.get("sucursal") or ""),
                                vendedor=str(body.get("vendedor") or "") or None, actor=f"api:{g.api_token.name}",
                                clock=clock())
    db.commit()
    return jsonify({"asignacion": data})


@bp.route("/followups", methods=["GET"])
@token_role(*READERS)
def list_follow_ups() -> Any:
    """The follow-up file with the web history's filters (cliente, desde, hasta, tipo, estado)."""
    form, rows = view.history(get_session(), request.args)
    return jsonify(view.history_report(form, rows).payload)


@bp.route("/followups/<int:follow_up_id>", methods=["GET"])
@token_role(*READERS)
def get_follow_up(follow_up_id: int) -> Any:
    return jsonify({"seguimiento": followups.get_follow_up(get_session(), follow_up_id).to_dict()})


@bp.route("/followups/<int:follow_up_id>/attachment", methods=["GET"])
@token_role(*READERS)
def follow_up_attachment(follow_up_id: int) -> Any:
    """The file kept with a follow-up (a letter's PDF), byte for byte as generated."""
    row = followups.attachment_of(get_session(), follow_up_id)
    return current_app.response_class(bytes(row.content), mimetype=row.mimetype,
                                      headers={**attachment(row.nombre), "X-Sha256": row.sha256})
