"""Documentos: search with filters and pages, detail with balances, original XML download."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from cfdi_cobranza.errors import CobranzaError, NotFoundError
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services.ledger import (
    ESTADOS,
    TIPOS,
    DocumentFilter,
    document_detail,
    document_xml,
)
from web.clock import clock, today
from web.db import get_session
from web.downloads import attachment
from web.security import READERS, require_role
from web.services.documents import document_page, parse_filter

bp = Blueprint("documents", __name__, url_prefix="/documentos")


@bp.route("/")
@require_role(*READERS)
def index() -> Any:
    error: str | None = None
    try:
        flt = parse_filter(request.args, page_size=current_app.config["PAGE_SIZE"])
    except CobranzaError as exc:
        flt, error = DocumentFilter(), exc.message
    page = document_page(get_session(), flt, today())
    return render_template("documents/list.html", page=page, error=error, estados=ESTADOS, tipos=TIPOS,
                           args=request.args), (400 if error else 200)


@bp.route("/<uuid>")
@require_role(*READERS)
def detail(uuid: str, error: str | None = None, form: dict[str, str] | None = None, status: int = 200) -> Any:
    try:
        doc = document_detail(get_session(), uuid, today())
    except NotFoundError:
        abort(404)
    return render_template("documents/detail.html", doc=doc, assignment=credit.sale_assignment(get_session(), uuid),
                           can_assign=g.user.role in ASSIGNERS, assign_error=error,
                           assign_form=form or {}), status


ASSIGNERS = frozenset({"administrador", "cobranza"})


@bp.route("/<uuid>/asignacion", methods=["POST"])
@require_role(*ASSIGNERS)
def assign(uuid: str) -> Any:
    """Move this one sale to another branch (and salesperson); audited."""
    form = {k: request.form.get(k, "")[:100] for k in ("sucursal", "vendedor")}
    db = get_session()
    try:
        data = credit.reassign_sale(db, uuid[:60], sucursal=form["sucursal"], vendedor=form["vendedor"] or None,
                                    actor=g.user.username, clock=clock())
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        if isinstance(exc, NotFoundError):
            abort(404)
        return detail(uuid, exc.message, form, 400)
    flash(f"Venta asignada a la sucursal {data['sucursal']} (vendedor {data['vendedor'] or 'sin asignar'}).", "ok")
    return redirect(url_for("documents.detail", uuid=data["uuid"]) + "#asignacion")


@bp.route("/<uuid>/xml")
@require_role(*READERS)
def xml(uuid: str) -> Any:
    try:
        name, data = document_xml(get_session(), uuid)
    except NotFoundError:
        abort(404)
    # The stored bytes as signed; attachment so the browser never renders them inline.
    return current_app.response_class(
        data, mimetype="application/xml",
        headers=attachment(name),
    )
