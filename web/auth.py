"""Sign in, sign out and «Mi cuenta» (the signed-in user's own data and password)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from cfdi_cobranza.errors import CobranzaError, ValidationError
from cfdi_cobranza.services import users as users_service
from web.clock import clock
from web.db import get_session
from web.security import ALL_ROLES, close_session, public, require_role, start_session

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after login is a phishing aid. Control
    # characters are refused outright: werkzeug drops a tab from "/\t/evil.example",
    # which would turn it into the scheme-relative "//evil.example".
    if target and not any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        parts = urlsplit(target)
        if (target.startswith("/") and not target.startswith("//") and "\\" not in target
                and not parts.scheme and not parts.netloc):
            return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    if request.method == "GET":
        if g.user is not None:
            return redirect(url_for("dashboard.index"))
        return render_template("login.html", next=request.args.get("next", ""), error=None, username="")
    username = request.form.get("username", "")[:64]
    password = request.form.get("password", "")[:1024]
    db = get_session()
    outcome = users_service.authenticate(db, username, password, clock=clock(), remote=request.remote_addr,
                                         hash_method=current_app.config["PASSWORD_HASH"])
    db.commit()  # the failure counter and the audit entry are kept even when refused
    if not outcome.ok or outcome.user is None:
        status = 429 if outcome.code in ("USUARIO_BLOQUEADO", "IP_BLOQUEADA") else 401
        return render_template("login.html", next=request.form.get("next", ""), error=outcome.message,
                               username=username), status
    # A fresh session on sign-in: nothing set before login (fixation) survives.
    start_session(outcome.user)
    db.commit()
    current_app.logger.info("login %s", outcome.user.username)
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
@require_role(*ALL_ROLES)
def logout() -> Any:
    # Ended on the server: a copy of this cookie taken before now opens nothing.
    close_session()
    get_session().commit()
    session.clear()
    return redirect(url_for("auth.login"))


def _account_page(error: str | None = None, status: int = 200) -> Any:
    db = get_session()
    user = g.user
    history = users_service.user_history(db, user.username, limit=10)
    db.commit()  # end the read (SQLite takes its write lock at BEGIN); nothing is expired
    return render_template("account.html", user=user, history=history, error=error,
                           min_password=users_service.MIN_PASSWORD), status


@bp.route("/cuenta", methods=["GET"])
@require_role(*ALL_ROLES)
def account() -> Any:
    return _account_page()


@bp.route("/cuenta/contrasena", methods=["POST"])
@require_role(*ALL_ROLES)
def change_password() -> Any:
    current = request.form.get("actual", "")[:1024]
    new, confirm = request.form.get("nueva", "")[:1024], request.form.get("nueva2", "")[:1024]
    db = get_session()
    try:
        if new != confirm:
            raise ValidationError("La contraseña nueva y su confirmación no coinciden.", code="CONTRASENA_NO_COINCIDE")
        user = users_service.change_password(db, g.user.username, current, new, clock=clock(),
                                             hash_method=current_app.config["PASSWORD_HASH"],
                                             remote=request.remote_addr)
        db.commit()
    except users_service.CurrentPasswordRefused as exc:
        db.commit()  # the failed attempt counts toward the lock, like a failed sign-in
        return _account_page(exc.message, 400)
    except CobranzaError as exc:
        db.rollback()
        return _account_page(exc.message, 400)
    # Other sessions of this user carry the old epoch and end on their next request;
    # this one continues with a fresh session and the new epoch.
    start_session(user)
    db.commit()
    g.user = user
    current_app.logger.info("password changed %s", user.username)
    flash("Contraseña cambiada. Las demás sesiones abiertas con su usuario se cerraron.", "ok")
    return redirect(url_for("auth.account"))
