"""Seguimiento de cartera: capture, today's tasks, pending, broken promises, closing, history, letters.

The follow-up file is read-only: this blueprint has no edit or delete route (a test
walks ``app.url_map`` to prove it); closing adds a closure and moves the follow-up to
the history, where it stays consultable. Writes belong to administrador and cobranza.
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

from cfdi_cobranza.errors import CobranzaError, NotFoundError
from cfdi_cobranza.services import followups
from cfdi_cobranza.services.followups import follow_up_types
from web.clock import clock, today
from web.db import get_session
from web.downloads import attachment
from web.security import READERS, require_role
from web.services import collections as view

bp = Blueprint("followups", __name__, url_prefix="/seguimiento")

COLLECTORS = frozenset({"administrador", "cobranza"})


def _board(form: view.FollowUpForm | None = None, error: str | None = None, status: int = 200,
           close_error: str | None = None, close_form: dict[str, str] | None = None) -> Any:
    db = get_session()
    board = view.follow_up_board(db, today())
    return render_template("followups/index.html", board=board, form=form or view.FollowUpForm(), error=error,
                           close_error=close_error, close_form=close_form or {}, hoy=today(),
                           can_write=g.user.role in COLLECTORS), status


@bp.route("/", methods=["GET"])
@require_role(*READERS)
def index() -> Any:
    form = view.FollowUpForm(cliente=request.args.get("cliente", "")[:100].strip())
    return _board(form)


@bp.route("/", methods=["POST"])
@require_role(*COLLECTORS)
def create() -> Any:
    form = view.FollowUpForm.from_form(request.form)
    db = get_session()
    try:
        data = view.add_follow_up(db, form, actor=g.user.username, clock=clock())
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        return _board(form, exc.message, 404 if isinstance(exc, NotFoundError) else 400)
    promesa = f" Promesa de pago al {data['promesa']['fecha'][8:10]}/{data['promesa']['fecha'][5:7]}/" \
              f"{data['promesa']['fecha'][:4]}." if data["promesa"] else ""
    flash(f"Seguimiento {data['id']} registrado para {data['nombre'] or data['rfc']} "
          f"({data['tipo_nombre']}, {data['fecha_local'][8:10]}/{data['fecha_local'][5:7]}/{data['fecha_local'][:4]} "
          f"{data['fecha_local'][11:]}).{promesa}", "ok")
    return redirect(url_for("followups.index"))


@bp.route("/cerrar", methods=["POST"])
@require_role(*COLLECTORS)
def close() -> Any:
    db = get_session()
    form = {k: request.form.get(k, "")[:100] for k in ("desde", "hasta", "cliente", "nota")}
    try:
        ids = view.close_follow_ups(db, request.form, actor=g.user.username, clock=clock())
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        return _board(close_error=exc.message, close_form=form, status=404 if isinstance(exc, NotFoundError) else 400)
    n = len(ids)
    flash(f"{n} seguimiento{'' if n == 1 else 's'} cerrado{'' if n == 1 else 's'}; pasa{'' if n == 1 else 'n'} al "
          "historial." if n else "No había seguimientos pendientes en ese rango.", "ok")
    return redirect(url_for("followups.index"))


@bp.route("/historial", methods=["GET"])
@require_role(*READERS)
def history() -> Any:
    db = get_session()
    fmt = request.args.get("formato", "")[:10]
    try:
        form, rows = view.history(db, request.args)
        if fmt:
            return _download(view.history_report(form, rows), fmt, f"seguimientos-{today():%Y%m%d}")
        error, status = None, 200
    except CobranzaError as exc:
        db.rollback()
        form, rows = {k: request.args.get(k, "")[:100] for k in ("cliente", "desde", "hasta", "tipo", "estado")}, []
        error, status = exc.message, 404 if isinstance(exc, NotFoundError) else 400
    return render_template("followups/history.html", rows=rows, form=form, error=error,
                           tipos=follow_up_types(db)), status


def _download(report: Any, fmt: str, stem: str) -> Any:
    data, mimetype, ext = view.download(report, fmt)
    return current_app.response_class(data, mimetype=mimetype, headers=attachment(f"{stem}.{ext}"))


@bp.route("/tareas", methods=["GET"])
@require_role(*READERS)
def tasks_download() -> Any:
    """Today's tasks (or ``fecha``'s) as CSV, Excel or PDF, like the other reports."""
    db = get_session()
    try:
        report, on = view.tasks_report(db, request.args, today())
        return _download(report, request.args.get("formato", "csv")[:10], f"tareas-{on:%Y%m%d}")
    except CobranzaError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("followups.index"))


def _letters_page(error: str | None = None, status: int = 200, form: dict[str, str] | None = None) -> Any:
    return render_template("followups/letters.html", kinds=view.LETTER_KINDS, error=error, form=form or {},
                           hoy=today()), status


@bp.route("/cartas", methods=["GET"])
@require_role(*COLLECTORS)
def letters() -> Any:
    return _letters_page(form={"cliente": request.args.get("cliente", "")[:100]})


@bp.route("/cartas", methods=["POST"])
@require_role(*COLLECTORS)
def letters_pdf() -> Any:
    form = {k: request.form.get(k, "")[:120] for k in ("tipo", "corte", "cliente", "vendedor", "zona",
                                                       "clasificacion", "sucursal", "empresa", "dias_minimos",
                                                       "firmante", "tipo_cobranza")}
    db = get_session()
    try:
        pdf, letters, kind = view.letters(db, form, today(), actor=g.user.username, clock=clock())
        db.commit()  # each customer's letter is in its follow-up file now (all of them or none)
    except CobranzaError as exc:
        db.rollback()
        return _letters_page(exc.message, 404 if isinstance(exc, NotFoundError) else 400, form)
    name = f"cartas-{kind}-{today():%Y%m%d}" + (f"-{letters[0].rfc}" if len(letters) == 1 else "")
    return current_app.response_class(pdf, mimetype="application/pdf",
                                      headers={**attachment(f"{name}.pdf"), "X-Cartas": str(len(letters))})


@bp.route("/<int:follow_up_id>/adjunto", methods=["GET"])
@require_role(*READERS)
def attachment_download(follow_up_id: int) -> Any:
    """The file kept with a follow-up (the letter sent), as it was generated."""
    try:
        row = followups.attachment_of(get_session(), follow_up_id)
    except NotFoundError:
        abort(404)
    return current_app.response_class(bytes(row.content), mimetype=row.mimetype, headers=attachment(row.nombre))
