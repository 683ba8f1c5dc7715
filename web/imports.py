"""Importar: upload XML files and ZIP packages; a result row for every file.

Without JavaScript the form posts every file at once and the page shows the table.
With ``static/importar.js`` the browser sends the same files in one request to
``/importar/json`` and shows each file's upload progress, then fills the result table
from the JSON answer. One request, not one per file, on purpose: the importer decides
which issuers are the user's companies from the whole batch, so splitting it would
refuse invoices the form accepts.
"""

from __future__ import annotations

from typing import IO, Any

from flask import Blueprint, g, jsonify, render_template, request

from cfdi_cobranza.errors import CobranzaError
from cfdi_cobranza.services.uploads import import_uploads
from web.clock import clock
from web.db import engine, settings
from web.filters import STATUS_LABELS, TIPO_LABELS
from web.security import IMPORTERS, require_role

bp = Blueprint("imports", __name__, url_prefix="/importar")


def _uploaded() -> list[tuple[str, IO[bytes]]]:
    # The spooled uploads themselves: a ZIP is read member by member, not copied to memory.
    return [(f.filename or "", f.stream) for f in request.files.getlist("archivos") if f and f.filename]


@bp.route("/", methods=["GET"])
@require_role(*IMPORTERS)
def index() -> Any:
    return render_template("imports.html", batch=None, error=None)


@bp.route("/", methods=["POST"])
@require_role(*IMPORTERS)
def upload() -> Any:
    files = _uploaded()
    try:
        batch = import_uploads(engine(), settings(), files, actor=g.user.username, clock=clock())
    except CobranzaError as exc:
        return render_template("imports.html", batch=None, error=exc.message), 400
    return render_template("imports.html", batch=batch, error=None)


@bp.route("/json", methods=["POST"])
@require_role(*IMPORTERS)
def upload_json() -> Any:
    """The form's files answered as JSON (a row per file): the progress-bar path."""
    files = _uploaded()
    try:
        batch = import_uploads(engine(), settings(), files, actor=g.user.username, clock=clock())
    except CobranzaError as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message}}), 400
    data = batch.to_dict()
    for r in data["results"]:
        r["status_label"] = STATUS_LABELS.get(r["status"], r["status"])
        r["tipo_label"] = TIPO_LABELS.get(r["tipo"], r["tipo"]) if r.get("tipo") else None
    return jsonify(data)
