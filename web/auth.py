"""Sign in and sign out."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from cfdi_cobranza.services import users as users_service
from web.clock import clock
from web.db import get_session
from web.security import ALL_ROLES, public, require_role

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
    outcome = users_service.authenticate(db, username, password, clock=clock(), remote=request.remote_addr)
    db.commit()  # the failure counter and the audit entry are kept even when refused
    if not outcome.ok or outcome.user is None:
        status = 429 if outcome.code == "USUARIO_BLOQUEADO" else 401
        return render_template("login.html", next=request.form.get("next", ""), error=outcome.message,
                               username=username), status
    # A fresh session on sign-in: nothing set before login (fixation) survives.
    session.clear()
    session["uid"] = outcome.user.id
    session.permanent = True
    current_app.logger.info("login %s", outcome.user.username)
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
@require_role(*ALL_ROLES)
def logout() -> Any:
    session.clear()
    return redirect(url_for("auth.login"))
