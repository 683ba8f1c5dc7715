"""JSON API ``/api/v1`` for other systems (ERP, PAC integrations), authenticated by Bearer tokens.

Errors are ``{"error": {"code", "message"}}`` with the same codes as the CLI and a
Spanish message. Each area adds its own module of routes to ``bp`` (payments, REP,
collections will follow ``cfdi.py`` and ``ledger.py``); ``openapi.py`` documents them
and a test keeps the document and ``app.url_map`` in step.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from cfdi_cobranza.errors import (
    CobranzaError,
    ConflictError,
    ImportRefused,
    NotFoundError,
    ValidationError,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

STATUS_FOR: list[tuple[type[CobranzaError], int]] = [
    (NotFoundError, 404),
    (ValidationError, 400),
    (ConflictError, 409),
    (ImportRefused, 422),
]


@bp.errorhandler(CobranzaError)
def _cobranza_error(exc: CobranzaError) -> Any:
    status = next((s for cls, s in STATUS_FOR if isinstance(exc, cls)), 400)
    return jsonify({"error": {"code": exc.code, "message": exc.message}}), status


from web.api import cfdi, ledger, openapi  # noqa: E402,F401  (routes register on bp)
