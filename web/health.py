"""``GET /healthz``: for load balancers and monitoring, without signing in.

200 ``{"estado": "ok", ...}`` when the database answers and accepts writes; otherwise 503
with the code that says why (``BASE_NO_DISPONIBLE``, ``BASE_SOLO_LECTURA``,
``ALMACENAMIENTO_LLENO``). It shows no data, only the state.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from cfdi_cobranza.services import health
from web.db import engine
from web.security import public

bp = Blueprint("health", __name__)


@bp.route("/healthz", methods=["GET"])
@public
def healthz() -> Any:
    result = health.check(engine())
    return jsonify(result.to_dict()), 200 if result.ok else 503
