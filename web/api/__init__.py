"""JSON API ``/api/v1`` for other systems (ERP, PAC integrations), authenticated by Bearer tokens.

Errors are ``{"error": {"code", "message"}}`` with the same codes as the CLI and a
Spanish message. Each area adds its own module of routes to ``bp`` (payments, REP,
collections will follow ``cfdi.py`` and ``ledger.py``); ``openapi.py`` documents them
and a test keeps the document and ``app.url_map`` in step.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, jsonify

from cfdi_cobranza.errors import (
    CobranzaError,
    ConflictError,
    ImportRefused,
    NotFoundError,
    StorageError,
    ValidationError,
)
from cfdi_cobranza.services.stamping import RepRefused

bp = Blueprint("api", __name__, url_prefix="/api/v1")

STATUS_FOR: list[tuple[type[CobranzaError], int]] = [
    (NotFoundError, 404),
    (ValidationError, 400),
    (ConflictError, 409),
    (ImportRefused, 422),
    (StorageError, 503),
]


def split_errores(text: str) -> list[str]:
    """``"CODE: msg; CODE: msg"`` -> items (a message may itself contain "; ")."""
    return [part for part in re.split(r"; (?=[A-Z0-9_]+: )", text) if part.strip()]


@bp.errorhandler(CobranzaError)
def _cobranza_error(exc: CobranzaError) -> Any:
    status = 422 if isinstance(exc, RepRefused) else next((s for cls, s in STATUS_FOR if isinstance(exc, cls)), 400)
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    errores = exc.details.get("errores") if exc.details else None
    if errores:  # every problem of a refused receipt, not just the first
        error["errores"] = split_errores(str(errores))
    findings = getattr(exc, "findings", None)
    if findings:  # a REP refused before signing: the validator's findings
        error["findings"] = [f.to_dict() for f in findings]
    return jsonify({"error": error}), status


from web.api import cfdi, collections, credit, jobs, ledger, mail, openapi, payments, reps  # noqa: E402,F401  (routes register on bp)
from web.api import debts as debts_routes  # noqa: E402,F401  (routes register on bp)
