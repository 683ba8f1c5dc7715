"""Importar: upload XML files and ZIP packages; a result row for every file.

Without JavaScript the form posts every file at once and the page shows the table.
With ``static/importar.js`` the browser sends the same files in one request to
``/importar/json`` and shows each file's upload progress, then fills the result table
from the JSON answer. One request, not one per file, on purpose: the importer decides
which issuers are the user's companies from the whole batch, so splitting it would
refuse invoices the form accepts.

A file whose UUID is stored with other content is refused as ``UUID_EN_CONFLICTO``; the
page lists the pending conflicts with both documents' verification status, and a
button (same roles as importing; audited) replaces the stored document with a verified
file.
"""

from __future__ import annotations

from typing import IO, Any

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for

from cfdi_cobranza.db.scope import company_ids
from cfdi_cobranza.errors import CobranzaError, NotFoundError
from cfdi_cobranza.services.conflicts import ConflictView, list_conflicts, replace_with_conflict
from cfdi_cobranza.services.uploads import import_uploads
from web.clock import clock
from web.db import engine, get_session, settings
from web.filters import STATUS_LABELS, TIPO_LABELS
from web.security import IMPORTERS, require_role

bp = Blueprint("imports", __name__, url_prefix="/importar")


def _conflicts() -> list[ConflictView]:
    db = get_session()  # the request's session: a limited user sees only their companies' conflicts
    views = list_conflicts(db)
    db.commit()
    return views


def _uploaded() -> list[tuple[str, IO[bytes]]]:
    # The spooled uploads themselves: a ZIP is read member by member, not copied to memory.
    return [(f.filename or "", f.stream) for f in request.files.getlist("archivos") if f and f.filename]


@bp.route("/", methods=["GET"])
@require_role(*IMPORTERS)
def index() -> Any:
    return render_template("imports.html", batch=None, error=None, conflicts=_conflicts())


@bp.route("/conflictos/<int:conflict_id>/reemplazar", methods=["POST"])
@require_role(*IMPORTERS)
def replace(conflict_id: int) -> Any:
    """The explicit action: the stored document gives way to the conflict's verified file."""
    try:
        result = replace_with_conflict(engine(), settings(), conflict_id, actor=g.user.username, clock=clock(),
                                       company_ids=company_ids(get_session()))
    except NotFoundError as exc:
        if exc.code == "CONFLICTO_NO_ENCONTRADO":
            abort(404)
        flash(f"{exc.message} [{exc.code}]", "error")
    except CobranzaError as exc:
        flash(f"{exc.message} [{exc.code}]", "error")
    else:
        flash(result.message, "ok")
    return redirect(url_for("imports.index") + "#conflictos")


@bp.route("/", methods=["POST"])
@require_role(*IMPORTERS)
def upload() -> Any:
    files = _uploaded()
    try:
        batch = import_uploads(engine(), settings(), files, actor=g.user.username, clock=clock(),
                               company_ids=company_ids(get_session()))
    except CobranzaError as exc:
        return render_template("imports.html", batch=None, error=exc.message, conflicts=_conflicts()), 400
    return render_template("imports.html", batch=batch, error=None, conflicts=_conflicts())


@bp.route("/json", methods=["POST"])
@require_role(*IMPORTERS)
def upload_json() -> Any:
    """The form's files answered as JSON (a row per file): the progress-bar path."""
    files = _uploaded()
    try:
        batch = import_uploads(engine(), settings(), files, actor=g.user.username, clock=clock(),
                               company_ids=company_ids(get_session()))
    except CobranzaError as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message}}), 400
    data = batch.to_dict()
    for r in data["results"]:
        r["status_label"] = STATUS_LABELS.get(r["status"], r["status"])
        r["tipo_label"] = TIPO_LABELS.get(r["tipo"], r["tipo"]) if r.get("tipo") else None
    return jsonify(data)
