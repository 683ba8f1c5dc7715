"""REPs through the API: issue for payment ids (or all pending), list, get one, XML and PDF."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify

from cfdi_cobranza.db.scope import company_ids
from cfdi_cobranza.domain.states import RepStatus
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.pdf.rep import render_rep_pdf
from cfdi_cobranza.services import stamping
from web.api import bp
from web.api.auth import token_role
from web.api.payments import json_body
from web.clock import clock
from web.db import engine, get_session, settings
from web.downloads import attachment
from web.reps import STAMPERS
from web.security import READERS
from web.services import reps as view


@bp.route("/reps", methods=["POST"])
@token_role(*STAMPERS)
def issue_reps() -> Any:
    body = json_body()
    get_session().commit()  # the Stamper owns its transactions
    stamper = view.stamper(engine(), settings(), clock(), f"api:{g.api_token.name}",
                           company_ids(get_session()))
    if body.get("todos") or body.get("all_pending"):
        results = stamper.issue_all_pending(monthly=bool(body.get("mensual") or body.get("monthly")))
        data = [r.to_dict() for r in results]
        ok = all(r.status == RepStatus.TIMBRADO for r in results)
        return jsonify({"results": data}), 200 if ok else 207
    ids = body.get("payment_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationError("«payment_ids» debe ser una lista de números de pago.", code="SIN_PAGOS")
    result = stamper.issue(sorted(set(ids))[:200])
    return jsonify(result.to_dict()), 201 if result.status == RepStatus.TIMBRADO else 202


@bp.route("/reps", methods=["GET"])
@token_role(*READERS)
def list_reps() -> Any:
    return jsonify({"data": stamping.list_reps(get_session())})


@bp.route("/reps/<rep_uuid>", methods=["GET"])
@token_role(*READERS)
def get_rep(rep_uuid: str) -> Any:
    rep = stamping.find_rep(get_session(), rep_uuid)
    data = stamping.rep_dict(rep, rep.customer)
    data["sin_validez_fiscal"] = rep.sandbox
    return jsonify(data)


@bp.route("/reps/<rep_uuid>/xml", methods=["GET"])
@token_role(*READERS)
def get_rep_xml(rep_uuid: str) -> Any:
    stem, data, _sandbox = stamping.rep_files(get_session(), rep_uuid)
    return current_app.response_class(data, mimetype="application/xml",
                                      headers=attachment(f"{stem}.xml"))


@bp.route("/reps/<rep_uuid>/pdf", methods=["GET"])
@token_role(*READERS)
def get_rep_pdf(rep_uuid: str) -> Any:
    stem, data, sandbox = stamping.rep_files(get_session(), rep_uuid)
    return current_app.response_class(render_rep_pdf(data, sandbox=sandbox), mimetype="application/pdf",
                                      headers=attachment(f"{stem}.pdf"))
