"""What every request's input must be before any view or sign-in check sees it.

One ``before_request`` hook, run before the security hook (which already reads the
database), refuses:

* a NUL character (``\\x00``) in the path, the query string, a form field or a JSON
  string: no text we keep or filter by can hold one, and PostgreSQL refuses it deep in
  a query (``CARACTER_NULO``);
* a JSON body larger than ``MAX_JSON_BYTES`` (``JSON_DEMASIADO_GRANDE``) or nested more
  than ``MAX_JSON_DEPTH`` levels (``JSON_DEMASIADO_PROFUNDO``), checked on the raw text
  before parsing, so no deep body reaches the recursive parser;
* JSON that does not parse or uses the non-standard ``NaN``/``Infinity`` literals
  (``JSON_INVALIDO``).

The parsed body is kept for the request; the API reads it with ``json_body()``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request

from cfdi_cobranza.domain.text import check_no_nul
from cfdi_cobranza.errors import ValidationError

MAX_JSON_BYTES = 1024 * 1024  # an API body is a few kB: 500 allocations fit with room to spare
MAX_JSON_DEPTH = 20  # the deepest body the API documents is 3 levels
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # a JSON string, escapes included
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1
_UNSET = object()


def json_depth(raw: bytes) -> int:
    """Deepest nesting of arrays and objects in ``raw`` JSON, strings ignored (no parsing)."""
    brackets = _STRINGS.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def parse_json(raw: bytes) -> Any:
    """``raw`` JSON within the size and depth limits, or a ``ValidationError`` in Spanish."""
    if len(raw) > MAX_JSON_BYTES:
        raise ValidationError(f"El cuerpo JSON supera el límite de {MAX_JSON_BYTES // 1024} KB.",
                              code="JSON_DEMASIADO_GRANDE")
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise ValidationError(f"El cuerpo JSON tiene más de {MAX_JSON_DEPTH} niveles de anidación.",
                              code="JSON_DEMASIADO_PROFUNDO")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ValidationError("El cuerpo no es un JSON válido (UTF-8, sin NaN ni Infinity).",
                              code="JSON_INVALIDO") from None


def _strings(value: Any, name: str) -> Iterator[tuple[str, str]]:
    """(field name, text) of every key and string inside a parsed JSON value."""
    if isinstance(value, str):
        yield name, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield name, key
            yield from _strings(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, name)


def json_body() -> Any:
    """The request's JSON body, parsed once with the limits above (``None`` when it is not JSON)."""
    cached = g.get("input_json", _UNSET)
    if cached is _UNSET:
        cached = parse_json(request.get_data(cache=True)) if request.is_json else None
        g.input_json = cached
    return cached


def _form_pairs() -> Iterator[tuple[str, str]]:
    yield "ruta", request.path
    for source in (request.args, request.form):
        for key, values in source.lists():
            yield key, key
            for value in values:
                yield key, value
    for key, upload in request.files.items(multi=True):
        yield key, upload.filename or ""


def _refusal(exc: ValidationError) -> Any:
    status = 413 if exc.code == "JSON_DEMASIADO_GRANDE" else 400
    if request.path.startswith("/api/"):
        return jsonify({"error": {"code": exc.code, "message": exc.message}}), status
    return render_template("error.html", status=status, title="Solicitud inválida", message=exc.message,
                           code=exc.code), status


def _guard() -> Response | Any | None:
    if request.endpoint == "static":
        return None
    try:
        check_no_nul(_form_pairs())
        if request.is_json and request.method in ("POST", "PUT", "PATCH", "DELETE"):
            length = request.content_length
            if length is not None and length > MAX_JSON_BYTES:
                raise ValidationError(f"El cuerpo JSON supera el límite de {MAX_JSON_BYTES // 1024} KB.",
                                      code="JSON_DEMASIADO_GRANDE")
            check_no_nul(_strings(json_body(), "cuerpo"))
    except ValidationError as exc:
        return _refusal(exc)
    return None


def init_app(app: Flask) -> None:
    """Register the guard; call before ``security.init_app`` so it runs first."""
    app.before_request(_guard)
