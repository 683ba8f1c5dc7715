"""REP: pending payments with the day-5 countdown, issue (one payment or all), list, download, cancel.

The Stamper validates the complement before signing; when it refuses, its findings
(SAT CRP codes, Spanish messages) are shown and nothing was signed or sent. The
Stamper opens its own transactions, so the request session is closed first (SQLite
takes its write lock at BEGIN).
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

from cfdi_cobranza.db.scope import company_ids
from cfdi_cobranza.domain.states import RepStatus
from cfdi_cobranza.errors import CobranzaError, NotFoundError, ValidationError
from cfdi_cobranza.pdf.rep import render_rep_pdf
from cfdi_cobranza.services import jobs, stamping
from cfdi_cobranza.services.jobs import policy as rep_policies
from web.clock import clock, today
from web.db import engine, get_session, settings
from web.downloads import attachment
from web.security import READERS, require_role
from web.services import reps as view

bp = Blueprint("reps", __name__, url_prefix="/rep")

STAMPERS = frozenset({"administrador", "contabilidad"})


def _index(*, results: list[stamping.IssueResult] | None = None, error: str | None = None,
           findings: list[stamping.Finding] | None = None, status: int = 200) -> Any:
    db = get_session()
    pending = stamping.pending(db, today=today(), deadline_day=settings().rep_deadline_day)
    reps = view.rep_rows(db)
    # The automatic issuing's failures, with their reason, beside what is still pending.
    failed_jobs = [j for j in jobs.list_jobs(db, state="failed", limit=50) if j.kind.startswith("rep.")]
    return render_template("reps/index.html", pending=pending, reps=reps, results=results or [], error=error,
                           failed_jobs=failed_jobs,
                           findings=findings or [], pac=view.pac_info(settings()), hoy=today(),
                           can_write=g.user.role in STAMPERS), status


@bp.route("/", methods=["GET"])
@require_role(*READERS)
def index() -> Any:
    return _index()


def _payment_ids(values: list[str]) -> list[int]:
    ids = []
    for v in values[:200]:
        v = v.strip()
        if not v.isdecimal():
            raise ValidationError(f"«{v[:20]}» no es un número de pago.", code="PAGO_INVALIDO")
        ids.append(int(v))
    return sorted(set(ids))


@bp.route("/emitir", methods=["POST"])
@require_role(*STAMPERS)
def issue() -> Any:
    if request.form.get("todos") == "1":
        # A month-end run is long: it becomes a background job and this page returns at once.
        db = get_session()
        job_id = rep_policies.queue_all_pending(db, monthly=request.form.get("mensual") == "1",
                                                actor=g.user.username, clock=clock(), company_ids=company_ids(db))
        db.commit()
        flash(f"Los REP pendientes se emiten en segundo plano (tarea {job_id}); su avance se ve aquí.", "ok")
        return redirect(url_for("jobs.index"))
    get_session().commit()  # no open transaction while the Stamper takes the write lock
    try:
        stamper = view.stamper(engine(), settings(), clock(), g.user.username, company_ids(get_session()))
        ids = _payment_ids(request.form.getlist("pago"))
        if not ids:
            raise ValidationError("Seleccione al menos un pago para emitir su REP.", code="SIN_PAGOS")
        results = [stamper.issue(ids)]
    except CobranzaError as exc:
        return _index(error=exc.message, findings=getattr(exc, "findings", []), status=_status(exc))
    ok = [r for r in results if r.status == RepStatus.TIMBRADO]
    if ok:
        names = ", ".join(f"{r.serie}-{r.folio}" for r in ok)
        flash(f"REP timbrado: {names}." + (f" {view.SIN_VALIDEZ}: PAC sandbox." if any(r.sandbox for r in ok) else ""),
              "ok")
    failed = [r for r in results if r.status != RepStatus.TIMBRADO]
    if not failed:
        return redirect(url_for("reps.detail", rep_uuid=ok[0].uuid) if len(ok) == 1 else url_for("reps.index"))
    return _index(results=results, status=200 if ok else 422)


def _status(exc: CobranzaError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    return 422 if isinstance(exc, stamping.RepRefused) else 409 if exc.code.startswith("REP_") else 400


@bp.route("/<rep_uuid>", methods=["GET"])
@require_role(*READERS)
def detail(rep_uuid: str) -> Any:
    try:
        rep = view.rep_row(get_session(), rep_uuid)
    except NotFoundError:
        abort(404)
    return render_template("reps/detail.html", rep=rep, motivos=view.MOTIVOS, error=None,
                           can_write=g.user.role in STAMPERS), 200


@bp.route("/<rep_uuid>/xml", methods=["GET"])
@require_role(*READERS)
def xml(rep_uuid: str) -> Any:
    stem, data, _sandbox = _files(rep_uuid)
    return current_app.response_class(data, mimetype="application/xml",
                                      headers=attachment(f"{stem}.xml"))


@bp.route("/<rep_uuid>/pdf", methods=["GET"])
@require_role(*READERS)
def pdf(rep_uuid: str) -> Any:
    stem, data, sandbox = _files(rep_uuid)
    return current_app.response_class(render_rep_pdf(data, sandbox=sandbox), mimetype="application/pdf",
                                      headers=attachment(f"{stem}.pdf"))


def _files(rep_uuid: str) -> tuple[str, bytes, bool]:
    try:
        return stamping.rep_files(get_session(), rep_uuid)
    except NotFoundError:
        abort(404)
    except CobranzaError:
        abort(404)


@bp.route("/<rep_uuid>/cancelar", methods=["POST"])
@require_role(*STAMPERS)
def cancel(rep_uuid: str) -> Any:
    db = get_session()
    try:
        rep = view.rep_row(db, rep_uuid)
    except NotFoundError:
        abort(404)
    db.commit()
    motivo = request.form.get("motivo", "")[:2]
    try:
        if request.form.get("confirmar") != "1":
            raise ValidationError("Marque la casilla de confirmación para cancelar el REP.", code="CONFIRMACION_REQUERIDA")
        if motivo not in {k for k, _ in view.MOTIVOS}:
            raise ValidationError("Seleccione el motivo de cancelación (01 a 04).", code="CANCELACION_MOTIVO_INVALIDO")
        result = view.stamper(engine(), settings(), clock(), g.user.username, company_ids(get_session())).cancel(rep_uuid, motivo,
                                                                                      replace=motivo == "01")
    except CobranzaError as exc:
        rep = view.rep_row(get_session(), rep_uuid)
        return render_template("reps/detail.html", rep=rep, motivos=view.MOTIVOS, error=exc.message,
                               findings=getattr(exc, "findings", []), can_write=True), _status(exc)
    text = {RepStatus.CANCELADO: "REP cancelado.", RepStatus.SUSTITUIDO: "REP cancelado y sustituido.",
            RepStatus.CANCELACION_SOLICITADA: "Cancelación solicitada; el receptor debe aceptarla."}.get(
                result.status, f"Estado: {result.status}.")
    if result.sustituto:
        sub = result.sustituto
        text += f" Sustituto: {sub.serie}-{sub.folio} ({sub.uuid})."
    flash(text, "ok")
    return redirect(url_for("reps.detail", rep_uuid=rep.uuid))


@bp.app_template_filter("rep_status")
def rep_status(status: str) -> str:
    return view.STATUS_LABELS.get(status, status)
