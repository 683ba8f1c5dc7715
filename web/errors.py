"""Error pages in Spanish (HTML) and JSON errors for ``/api/``: 400, 403, 404, 405, 413, 500."""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from cfdi_cobranza.errors import StorageError
from web.db import get_session

MESSAGES: dict[int, tuple[str, str, str]] = {
    400: ("SOLICITUD_INVALIDA", "Solicitud inválida", "La solicitud no se pudo procesar."),
    401: ("NO_AUTENTICADO", "Sin autenticación", "Debe identificarse para continuar."),
    403: ("PERMISO_DENEGADO", "Sin permiso", "Su rol no permite usar esta sección."),
    404: ("NO_ENCONTRADO", "No encontrado", "La página o el registro solicitado no existe."),
    405: ("METODO_NO_PERMITIDO", "Método no permitido", "Esta dirección no acepta ese tipo de solicitud."),
    413: ("ARCHIVO_DEMASIADO_GRANDE", "Envío demasiado grande",
          "Los archivos enviados superan el límite de {limit}. Divida la carga en varios envíos más pequeños."),
    500: ("ERROR_INTERNO", "Error interno", "Ocurrió un error inesperado; no se guardó nada de esta operación."),
}
STORAGE_TITLES = {"ALMACENAMIENTO_LLENO": "Disco lleno", "BASE_SOLO_LECTURA": "Base de datos de solo lectura",
                  "BASE_NO_DISPONIBLE": "Base de datos no disponible"}
CSRF_MESSAGE = ("El formulario caducó o no trae su código de seguridad (CSRF); no se guardó nada. "
                "Vuelva a cargar la página e inténtelo de nuevo.")


def _limit_text(app: Flask) -> str:
    limit = app.config.get("MAX_CONTENT_LENGTH") or 0
    return f"{limit / 1048576:.0f} MB" if limit >= 1048576 else f"{limit / 1024:.0f} KB"


def _what_was_exceeded(app: Flask) -> tuple[str, str] | None:
    """A 413 for a body within the size limit: werkzeug refused the form for its number of
    parts (``MAX_FORM_PARTS``) or for one non-file field (``MAX_FORM_MEMORY_SIZE``). Say
    which, instead of blaming a size the upload did not exceed."""
    length = request.content_length
    limit = app.config.get("MAX_CONTENT_LENGTH")
    if length is None or (limit is not None and length > limit) or request.mimetype != "multipart/form-data":
        return None
    memory = app.config.get("MAX_FORM_MEMORY_SIZE")
    if memory is None or length <= memory:  # no single field can be longer than the body
        parts = app.config.get("MAX_FORM_PARTS") or 1000
        return "DEMASIADAS_PARTES", (
            f"La solicitud trae más de {parts:,} partes (archivos y campos del formulario); el máximo es "
            f"{parts:,} por envío. Junte los archivos en un ZIP o divídalos en varios envíos.")
    return "CAMPO_DEMASIADO_GRANDE", (
        f"Un campo del formulario (que no es un archivo) supera {memory / 1048576:.0f} MB; no se procesó nada.")


def init_app(app: Flask) -> None:
    def handle(exc: HTTPException) -> Any:
        status = exc.code or 500
        code, title, message = MESSAGES.get(status, MESSAGES[500])
        if status == 400 and exc.description == "csrf":
            code, message = "CSRF_INVALIDO", CSRF_MESSAGE
        message = message.format(limit=_limit_text(app))
        if status == 413:
            code, message = _what_was_exceeded(app) or (code, message)
        # A 405 must say which methods the address accepts (RFC 9110).
        headers = {"Allow": ", ".join(sorted(exc.valid_methods))} if isinstance(exc, MethodNotAllowed) and \
            exc.valid_methods else {}
        if request.path.startswith("/api/") or request.path == "/importar/json":
            return jsonify({"error": {"code": code, "message": message}}), status, headers
        return render_template("error.html", status=status, title=title, message=message, code=code), status, headers

    for status in (400, 403, 404, 405, 413):
        app.register_error_handler(status, handle)

    def out_of_range(exc: Exception) -> Any:
        # A number too big for the database (an id like 2**63 in a URL or a JSON body)
        # is bad input, not a server fault.

        get_session().rollback()
        code, message = "VALOR_FUERA_DE_RANGO", "Un número de la solicitud está fuera del rango permitido."
        if request.path.startswith("/api/"):
            return jsonify({"error": {"code": code, "message": message}}), 400
        return render_template("error.html", status=400, title="Solicitud inválida", message=message, code=code), 400

    def storage_failure(exc: StorageError) -> Any:
        # Disk full, read-only or unreachable database: say which, to everyone, with 503.
        session = g.get("db")
        if session is not None:
            with contextlib.suppress(Exception):
                session.rollback()
        if request.path.startswith("/api/"):
            return jsonify({"error": {"code": exc.code, "message": exc.message}}), 503
        title = STORAGE_TITLES.get(exc.code, "Base de datos no disponible")
        return render_template("error.html", status=503, title=title, message=exc.message, code=exc.code), 503

    app.register_error_handler(StorageError, storage_failure)
    app.register_error_handler(OverflowError, out_of_range)
    app.register_error_handler(DataError, out_of_range)

    @app.errorhandler(500)
    def internal(exc: Exception) -> Any:
        code, title, message = MESSAGES[500]
        if request.path.startswith("/api/"):
            return jsonify({"error": {"code": code, "message": message}}), 500
        return render_template("error.html", status=500, title=title, message=message, code=code), 500
