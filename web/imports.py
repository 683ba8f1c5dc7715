"""Importar: upload XML files and ZIP packages; a result row for every file."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request

from cfdi_cobranza.errors import CobranzaError
from web.clock import clock
from web.db import engine, settings
from web.security import IMPORTERS, require_role
from web.services.uploads import import_uploads

bp = Blueprint("imports", __name__, url_prefix="/importar")


@bp.route("/", methods=["GET"])
@require_role(*IMPORTERS)
def index() -> Any:
    return render_template("imports.html", batch=None, error=None)


@bp.route("/", methods=["POST"])
@require_role(*IMPORTERS)
def upload() -> Any:
    files = [(f.filename or "", f.read()) for f in request.files.getlist("archivos") if f and f.filename]
    try:
        batch = import_uploads(engine(), settings(), files, actor=g.user.username, clock=clock())
    except CobranzaError as exc:
        return render_template("imports.html", batch=None, error=exc.message), 400
    return render_template("imports.html", batch=batch, error=None)
