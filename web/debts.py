"""Documentos de cobranza (cheques, pagarés, vouchers) and the corte de caja under Reportes.

The list filters by state, type, customer and cash (due) date; a document's page shows
its state history and offers only the moves its type allows. Everything goes through
``services.debts`` like ``cobranza debt ...`` and ``/api/v1/debts``: the same rules,
refusals and codes. Writes belong to administrador, cobranza and facturacion.
"""

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

from cfdi_cobranza.domain.states import DebtStatus
from cfdi_cobranza.errors import CobranzaError, NotFoundError
from cfdi_cobranza.reports.debts import cash_cut_report
from cfdi_cobranza.services import debts
from cfdi_cobranza.services.payments import cash_box_summary
from web.clock import clock, today
from web.db import get_session
from web.downloads import attachment
from web.reports import REPORTS
from web.security import READERS, require_role
from web.services import collections as report_view
from web.services import debts as view

bp = Blueprint("debts", __name__)

DEBT_WRITERS = frozenset({"administrador", "cobranza", "facturacion"})


def _status(exc: CobranzaError) -> int:
    return 404 if isinstance(exc, NotFoundError) else 400


def _list_page(error: str | None = None, status: int = 200, form: dict[str, str] | None = None) -> Any:
    db = get_session()
    args = {k: request.args.get(k, "")[:100] for k in ("cliente", "estado", "tipo", "cobro_desde", "cobro_hasta")}
    rows: list[dict[str, Any]] = []
    try:
        f = view.parse_filters(args)
        rows = [r.to_dict() for r in debts.list_debt_documents(db, f.rfc, f.estado, **f.kwargs())]
    except CobranzaError as exc:
        db.rollback()
        error, status = error or exc.message, _status(exc)
    return render_template("debts/index.html", rows=rows, args=args, types=[t.to_dict() for t in debts.list_types(db)],
                           estados=list(DebtStatus), form=form or {}, error=error, hoy=today(),
                           can_write=g.user.role in DEBT_WRITERS), status


@bp.route("/documentos-cobranza/", methods=["GET"])
@require_role(*READERS)
def index() -> Any:
    return _list_page()


@bp.route("/documentos-cobranza/", methods=["POST"])
@require_role(*DEBT_WRITERS)
def create() -> Any:
    db = get_session()
    form = {k: request.form.get(k, "")[:100] for k in request.form if k != "csrf_token"}
    try:
        data = view.parse_new_debt(request.form, today())
        doc = debts.register_debt_document(db, actor=g.user.username, clock=clock(), **data)
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        return _list_page(exc.message, _status(exc), form)
    flash(f"Documento {doc.row.id} ({doc.kind.nombre}) registrado en cartera.", "ok")
    return redirect(url_for("debts.detail", debt_id=doc.row.id))


def _detail_page(debt_id: int, error: str | None = None, status: int = 200) -> Any:
    try:
        doc = debts.get_debt_document(get_session(), debt_id).to_dict()
    except NotFoundError:
        abort(404)
    return render_template("debts/detail.html", doc=doc, error=error, hoy=today(),
                           can_write=g.user.role in DEBT_WRITERS), status


@bp.route("/documentos-cobranza/<int:debt_id>", methods=["GET"])
@require_role(*READERS)
def detail(debt_id: int) -> Any:
    return _detail_page(debt_id)


@bp.route("/documentos-cobranza/<int:debt_id>/estado", methods=["POST"])
@require_role(*DEBT_WRITERS)
def change_state(debt_id: int) -> Any:
    db = get_session()
    try:
        data = view.parse_state_change(request.form, today())
        doc = debts.change_debt_state(db, debt_id, data["estado"], fecha=data["fecha"], nota=data["nota"],
                                      actor=g.user.username, clock=clock())
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        if isinstance(exc, NotFoundError):
            abort(404)
        return _detail_page(debt_id, exc.message, _status(exc))
    n = len(doc.reversed_credits)
    flash(f"Documento {debt_id}: {doc.to_dict()['estado_etiqueta']}"
          + (f"; {n} aplicación(es) revertida(s), las facturas quedan abiertas." if n else "."), "ok")
    return redirect(url_for("debts.detail", debt_id=debt_id))


@bp.route("/reportes/corte-de-caja", methods=["GET"])
@require_role(*READERS)
def cash_cut() -> Any:
    db = get_session()
    form = {k: request.args.get(k, "")[:100] for k in ("caja", "fecha")}
    boxes = [b.name for b in cash_box_summary(db)]
    report, error, status = None, None, 200
    try:
        caja, fecha = view.parse_cash_cut(form, today())
        caja = caja or (boxes[0] if boxes else None)
        if caja:
            report = cash_cut_report(debts.cash_cut(db, caja, fecha))
            form = {"caja": caja, "fecha": fecha.strftime("%d/%m/%Y")}
            fmt = request.args.get("formato", "")[:10]
            if fmt:
                data, mimetype, ext = report_view.download(report, fmt)
                return current_app.response_class(data, mimetype=mimetype,
                                                  headers=attachment(f"corte-{fecha:%Y%m%d}.{ext}"))
    except CobranzaError as exc:
        db.rollback()
        error, status, report = exc.message, _status(exc), None
    return render_template("debts/cash_cut.html", report=report, form=form, boxes=boxes, error=error,
                           reports=REPORTS, kind="cashcut", meta=REPORTS["cashcut"]), status
