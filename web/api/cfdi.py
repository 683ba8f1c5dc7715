"""POST /api/v1/cfdi: upload stamped XML files or ZIP packages.

Accepts ``multipart/form-data`` (one or more ``archivo`` fields) or a raw body with
``Content-Type: application/xml`` or ``application/zip`` (name in ``X-Filename``).
"""

from __future__ import annotations

from typing import IO, Any

from flask import g, jsonify, request

from cfdi_cobranza.db.scope import company_ids
from cfdi_cobranza.services.uploads import import_uploads
from web.api import bp
from web.api.auth import token_role
from web.clock import clock
from web.db import engine, get_session, settings
from web.security import IMPORTERS


@bp.route("/cfdi", methods=["POST"])
@token_role(*IMPORTERS)
def upload_cfdi() -> Any:
    if request.mimetype == "multipart/form-data":
        files: list[tuple[str, bytes | IO[bytes]]] = [
            (f.filename or "", f.stream) for f in request.files.getlist("archivo") if f]
    else:
        data = request.get_data()
        default = "paquete.zip" if request.mimetype in {"application/zip", "application/x-zip-compressed"} else "cfdi.xml"
        files = [(request.headers.get("X-Filename") or default, data)] if data else []
    actor = f"api:{g.api_token.name}"
    batch = import_uploads(engine(), settings(), files, actor=actor, clock=clock(),
                           company_ids=company_ids(get_session()))
    return jsonify(batch.to_dict())
