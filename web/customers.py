"""Clientes: balances with a risk colour; one customer's file with their documents."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from cfdi_cobranza.errors import NotFoundError
from web.clock import today
from web.db import get_session
from web.security import READERS, require_role
from web.services.customers import RISK_LABELS, customer_detail, customer_overview
from web.services.inputs import parse_positive_int

bp = Blueprint("customers", __name__, url_prefix="/clientes")


@bp.route("/")
@require_role(*READERS)
def index() -> Any:
    q = request.args.get("q", "")[:100]
    rows = customer_overview(get_session(), today(), q)
    return render_template("customers/list.html", rows=rows, q=q, risk_labels=RISK_LABELS, fecha_corte=today())


@bp.route("/<int:customer_id>")
@require_role(*READERS)
def detail(customer_id: int) -> Any:
    try:
        pagina = parse_positive_int(request.args.get("pagina"), "La página", 1, 1_000_000)
    except Exception:
        pagina = 1
    try:
        info = customer_detail(get_session(), customer_id, today(), pagina)
    except NotFoundError:
        abort(404)
    return render_template("customers/detail.html", info=info, fecha_corte=today())
