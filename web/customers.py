"""Clientes: balances with a risk colour; one customer's collections file.

The file shows the financial summary (``collection_reports.customer_overview``), the
commercial conditions (editable by administrador and cobranza), a real-time credit
check (a GET: it writes nothing), authorization requests and their decision, the
append-only notes sheet, the follow-ups and the statement download.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from cfdi_cobranza.domain.states import CreditStatus
from cfdi_cobranza.errors import CobranzaError, NotFoundError
from cfdi_cobranza.services.collections import AUTHORIZER_ROLES
from cfdi_cobranza.services.customers import RISK_LABELS, customers_by_risk
from web.clock import clock, today
from web.db import get_session
from web.security import READERS, require_role
from web.services import collections as collections_view
from web.services.inputs import parse_positive_int

bp = Blueprint("customers", __name__, url_prefix="/clientes")

CREDIT_EDITORS = frozenset({"administrador", "cobranza"})
REQUESTERS = frozenset({"administrador", "cobranza", "facturacion"})
AUTHORIZERS = frozenset(AUTHORIZER_ROLES)
CONTROL_LEVELS = {"informativo": "Informativo", "advertencia": "Advertencia", "autorizacion": "Requiere autorización",
                  "restrictivo": "Restrictivo"}
STATUSES = {s.value: s.etiqueta for s in CreditStatus}
COLLECTION_TYPES = {"normal": "Normal", "judicial": "Judicial (legal)", "especial": "Especial", "otra": "Otra"}
OPERATIONS = {"venta_credito": "Venta a crédito", "venta_contado": "Venta de contado", "pedido": "Pedido",
              "documento": "Documento", "cobro": "Gestión de cobro"}


@bp.route("/")
@require_role(*READERS)
def index() -> Any:
    q = request.args.get("q", "")[:100]
    rows = customers_by_risk(get_session(), today(), q)
    return render_template("customers/list.html", rows=rows, q=q, risk_labels=RISK_LABELS, fecha_corte=today())


def _detail(customer_id: int, *, error: str | None = None, section: str | None = None, status: int = 200,
            typed: dict[str, str] | None = None) -> Any:
    try:
        pagina = parse_positive_int(request.args.get("pagina"), "La página", 1, 1_000_000)
    except CobranzaError:
        pagina = 1
    db = get_session()
    db.rollback()
    try:
        info = collections_view.customer_file(db, customer_id, today(), request.args, pagina)
    except NotFoundError:
        abort(404)
    role = g.user.role
    return render_template("customers/detail.html", info=info, fecha_corte=today(), error=error, section=section,
                           typed=typed or {}, can_edit=role in CREDIT_EDITORS, can_request=role in REQUESTERS,
                           can_decide=role in AUTHORIZERS, can_follow=role in CREDIT_EDITORS,
                           levels=CONTROL_LEVELS, statuses=STATUSES, collection_types=COLLECTION_TYPES,
                           operations=OPERATIONS), status


@bp.route("/<int:customer_id>")
@require_role(*READERS)
def detail(customer_id: int) -> Any:
    return _detail(customer_id)


def _write(customer_id: int, section: str, action: Callable[[], Any], done: str) -> Any:
    db = get_session()
    typed = {k: request.form.get(k, "")[:200] for k in request.form if k != "csrf_token"}
    try:
        action()
        db.commit()
    except NotFoundError as exc:
        db.rollback()
        if exc.code == "CLIENTE_NO_ENCONTRADO":
            abort(404)
        return _detail(customer_id, error=exc.message, section=section, status=404, typed=typed)
    except CobranzaError as exc:
        db.rollback()
        return _detail(customer_id, error=exc.message, section=section, status=400, typed=typed)
    flash(done, "ok")
    return redirect(url_for("customers.detail", customer_id=customer_id) + f"#{section}")


@bp.route("/<int:customer_id>/condiciones", methods=["POST"])
@require_role(*CREDIT_EDITORS)
def conditions(customer_id: int) -> Any:
    return _write(customer_id, "condiciones", lambda: collections_view.set_conditions(
        get_session(), customer_id, request.form, actor=g.user.username, clock=clock()),
        "Condiciones comerciales guardadas.")


@bp.route("/<int:customer_id>/notas", methods=["POST"])
@require_role(*CREDIT_EDITORS)
def add_note(customer_id: int) -> Any:
    return _write(customer_id, "notas", lambda: collections_view.add_note(
        get_session(), customer_id, request.form.get("texto", "")[:4000], actor=g.user.username, clock=clock()),
        "Nota agregada a la hoja de notas.")


@bp.route("/<int:customer_id>/autorizaciones", methods=["POST"])
@require_role(*REQUESTERS)
def request_authorization(customer_id: int) -> Any:
    return _write(customer_id, "autorizaciones", lambda: collections_view.request_authorization(
        get_session(), customer_id, request.form, actor=g.user.username, clock=clock()),
        "Solicitud de autorización registrada; la resuelve un usuario de cobranza o administración.")


@bp.route("/<int:customer_id>/autorizaciones/resolver", methods=["POST"])
@require_role(*AUTHORIZERS)
def decide_authorization(customer_id: int) -> Any:
    return _write(customer_id, "autorizaciones", lambda: collections_view.decide_authorization(
        get_session(), customer_id, request.form, actor=g.user.username, clock=clock()),
        "Solicitud resuelta.")
