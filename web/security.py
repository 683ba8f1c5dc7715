"""Sign-in state, roles, CSRF protection and HTTP security headers.

Every view declares who may use it: ``@require_role(...)`` (checked on each request,
with the role read fresh from the database so a deactivated user is out at once)
or ``@public`` (login page, health). The table-driven test walks ``app.url_map``
and fails on a view that declares neither.

Sessions: the signed cookie holds the user id, the user's ``session_epoch`` at
sign-in and the random id of a server-side session (``web_session``). Each request
reloads the user and that session; a deactivated user, a cookie whose epoch is older
than the user's (the password changed or was reset), or a session that was signed
out or expired on the server is signed out. So a cookie copied before ``/logout``
opens nothing, and neither does one forged with a leaked secret key.

CSRF: a random token per session, sent in every form as ``csrf_token`` and checked
before any view runs for POST/PUT/PATCH/DELETE; the JSON API is exempt because it
authenticates with a Bearer token, never with the cookie.
"""

from __future__ import annotations

import hmac
import math
import secrets
import string
import zlib
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, abort, current_app, flash, g, redirect, request, session, url_for

from cfdi_cobranza.db.models.users import User
from cfdi_cobranza.db.scope import limit_to_companies
from cfdi_cobranza.services import users as users_service
from cfdi_cobranza.services.user_companies import allowed_company_ids
from web.clock import clock
from web.db import get_session

F = TypeVar("F", bound=Callable[..., Any])

ALL_ROLES = frozenset(users_service.ROLES)
READERS = ALL_ROLES  # consulta reads everything a role may see, writes nothing
IMPORTERS = frozenset({"administrador", "facturacion", "contabilidad"})
ADMINS = frozenset({"administrador"})
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"

CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


SECRET_KEY_MIN_BYTES = 32
SECRET_KEY_HOWTO = ('Genere una con: python -c "import secrets; print(secrets.token_urlsafe(48))" '
                    "y póngala en COBRANZA_SECRET_KEY (la misma en todos los procesos del servidor).")


def secret_key_problem(key: str) -> str | None:
    """Why ``key`` is too weak to sign session cookies in production (Spanish), or None.

    Anyone who knows or guesses the key can forge a signed-in cookie, so production
    asks for at least 32 random bytes (256 bits): e.g. 43 characters of base64 or 64
    hexadecimal digits. The key's randomness cannot be known, only estimated: the
    estimate is its length times the bits per character of the alphabet it uses, and a
    key that repeats itself (few distinct characters, or compresses to less than half)
    is refused whatever its length.
    """
    if len(key.encode("utf-8")) < SECRET_KEY_MIN_BYTES:
        return (f"COBRANZA_SECRET_KEY es demasiado corta: tiene {len(key)} caracteres y se necesitan al menos "
                f"{SECRET_KEY_MIN_BYTES} bytes aleatorios. {SECRET_KEY_HOWTO}")
    if set(key) <= set(string.hexdigits):
        alphabet = 16
    else:
        alphabet = sum(size for chars, size in ((string.ascii_lowercase, 26), (string.ascii_uppercase, 26),
                                                (string.digits, 10), (string.punctuation, 32))
                       if any(c in chars for c in key))
        alphabet += 128 if any(ord(c) > 127 for c in key) else 0
    bits = len(key) * math.log2(max(alphabet, 2))
    data = key.encode("utf-8")
    repetitive = len(set(key)) < 10 or len(zlib.compress(data, 9)) < len(data) // 2
    if bits < SECRET_KEY_MIN_BYTES * 8 or repetitive:
        return ("COBRANZA_SECRET_KEY no parece aleatoria (se necesitan al menos 32 bytes aleatorios, p. ej. 43 "
                f"caracteres base64 o 64 hexadecimales, sin repeticiones). {SECRET_KEY_HOWTO}")
    return None


def require_role(*roles: str) -> Callable[[F], F]:
    """Allow signed-in users whose role is one of ``roles``; others get 403."""
    allowed = frozenset(roles)
    unknown = allowed - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = g.get("user")
            if user is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapper.required_roles = allowed  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """Mark a view as reachable without signing in (the check is explicit, not forgotten)."""
    view.public_route = True  # type: ignore[attr-defined]
    return view


def csrf_token() -> str:
    token = session.get("_csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["_csrf"] = token
    return str(token)


def _csrf_ok() -> bool:
    expected = session.get("_csrf")
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token")
    return bool(expected and sent) and hmac.compare_digest(str(expected), str(sent))


def _before() -> Any:
    g.user = None
    if request.path.startswith("/api/") or request.endpoint == "static":
        return None
    if request.method in UNSAFE_METHODS and not _csrf_ok():
        abort(400, description="csrf")
    uid = session.get("uid")
    if isinstance(uid, int):
        db = get_session()
        user = users_service.get_active_user(db, uid)
        if user is not None and not users_service.web_session_open(db, session.get("sid"), user.id, clock=clock()):
            user = None  # signed out (this cookie is a copy), expired, or never issued by us
        # Companies are boundaries: a limited user's session sees only theirs (read in
        # this same transaction, before it ends).
        limit_to_companies(db, allowed_company_ids(db, user) if user is not None else None,
                           username=user.username if user is not None else None)
        # End the read transaction now: on SQLite every transaction takes the write
        # lock (BEGIN IMMEDIATE), and services such as the importer open their own.
        db.commit()
        if user is not None and session.get("epoch", 0) != user.session_epoch:
            user = None  # issued before a password change, a reset or a deactivation
        if user is None:
            # Deactivated, deleted or an older epoch: the whole session ends (CSRF token too).
            session.clear()
            flash("Su sesión terminó: la contraseña de su cuenta cambió o la cuenta fue desactivada. "
                  "Inicie sesión de nuevo.", "error")
        g.user = user
    return None


def start_session(user: User) -> None:
    """A fresh signed-in session for ``user``: nothing set before survives (fixation),
    it carries the user's current epoch and a new server-side session (the caller
    commits the database session)."""
    close_session()
    session.clear()
    session["uid"] = user.id
    session["epoch"] = user.session_epoch
    session["sid"] = users_service.open_web_session(
        get_session(), user, lifetime=current_app.permanent_session_lifetime, clock=clock())
    session.permanent = True


def close_session() -> None:
    """End the current server-side session (sign-out); the caller commits."""
    users_service.close_web_session(get_session(), session.get("sid"))


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.endpoint != "static":
        # Balances and customer data must not stay in shared caches or the back button.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token

    # The static files have no view we can decorate; mark them public explicitly.
    static_view = app.view_functions.get("static")
    if static_view is not None:
        public(static_view)
