"""Read endpoints: documents (filters as in the web page), one document, customers."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from cfdi_cobranza.services.ledger import document_detail, list_customers
from web.api import bp
from web.api.auth import token_role
from web.clock import today
from web.db import get_session
from web.security import READERS
from web.services.documents import document_page, parse_filter


@bp.route("/documents", methods=["GET"])
@token_role(*READERS)
def documents() -> Any:
    page = document_page(get_session(), parse_filter(request.args, page_size=100), today())
    return jsonify({
        "data": [item.to_dict() for item in page.items],
        "pagina": page.pagina,
        "paginas": page.paginas,
        "total": page.total,
        "fecha_corte": page.fecha_corte.isoformat(),
    })


@bp.route("/documents/<uuid>", methods=["GET"])
@token_role(*READERS)
def document(uuid: str) -> Any:
    return jsonify(document_detail(get_session(), uuid, today()).to_dict())


@bp.route("/customers", methods=["GET"])
@token_role(*READERS)
def customers() -> Any:
    return jsonify({"data": [c.to_dict() for c in list_customers(get_session())]})
