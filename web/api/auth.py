"""Bearer-token authentication for the API: ``Authorization: Bearer cbz_...``.

The token's role is checked like a user's role, so a ``consulta`` token can read
and never write. Cookies are ignored here on purpose: the API is not reachable with
a browser session, which is also why it needs no CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, jsonify, request

from cfdi_cobranza.db.models.users import User
from cfdi_cobranza.db.scope import limit_to_companies
from cfdi_cobranza.services import users as users_service
from cfdi_cobranza.services.user_companies import allowed_company_ids
from web.clock import clock
from web.db import get_session
from web.security import ALL_ROLES

F = TypeVar("F", bound=Callable[..., Any])


def _error(status: int, code: str, message: str) -> Any:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="cobranza"'
    return response


def token_role(*roles: str) -> Callable[[F], F]:
    allowed = frozenset(roles)
    assert allowed <= ALL_ROLES

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                return _error(401, "NO_AUTENTICADO",
                              "Falta el token de acceso: envíe el encabezado «Authorization: Bearer <token>».")
            db = get_session()
            token = users_service.verify_token(db, value.strip(), clock=clock())
            if token is None:
                return _error(401, "TOKEN_INVALIDO", "El token de acceso no es válido o fue revocado.")
            # A token acts with its creator's companies (all of them for CLI-made tokens),
            # read before the commit so no transaction stays open (SQLite: the write lock).
            creator = db.get(User, token.user_id) if token.user_id is not None else None
            limit_to_companies(db, allowed_company_ids(db, creator),
                               username=(creator.username, f"api:{token.name}") if creator is not None else None)
            db.commit()  # last_used_at
            if token.role not in allowed:
                return _error(403, "PERMISO_DENEGADO", "El rol del token no permite esta operación.")
            g.api_token = token
            return view(*args, **kwargs)

        wrapper.required_roles = allowed  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
