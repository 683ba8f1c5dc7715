"""Documentos: search with filters and pages, detail with balances, original XML download."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from cfdi_cobranza.errors import CobranzaError, NotFoundError
from cfdi_cobranza.services.ledger import (
    ESTADOS,
    TIPOS,
    DocumentFilter,
    document_detail,
    document_xml,
)
from web.clock import today
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
def detail(uuid: str) -> Any:
    try:
        doc = document_detail(get_session(), uuid, today())
    except NotFoundError:
        abort(404)
    return render_template("documents/detail.html", doc=doc)


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
