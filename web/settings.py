"""Configuración (administrador only): users and API tokens."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from cfdi_cobranza.errors import CobranzaError, NotFoundError, ValidationError
from cfdi_cobranza.services import users as users_service
from web.clock import clock
from web.db import get_session
from web.security import ADMINS, require_role

bp = Blueprint("settings", __name__, url_prefix="/configuracion")


@bp.route("/usuarios", methods=["GET"])
@require_role(*ADMINS)
def users() -> Any:
    return render_template("settings/users.html", users=users_service.list_users(get_session()),
                           roles=users_service.ROLES, error=None, form={})


@bp.route("/usuarios", methods=["POST"])
@require_role(*ADMINS)
def add_user() -> Any:
    form = {k: request.form.get(k, "")[:200] for k in ("username", "full_name", "role")}
    password, confirm = request.form.get("password", "")[:1024], request.form.get("password2", "")[:1024]
    db = get_session()
    try:
        if password != confirm:
            raise ValidationError("Las contraseñas no coinciden.", code="CONTRASENA_NO_COINCIDE")
        users_service.add_user(db, form["username"], password, form["role"], form["full_name"],
                               actor=g.user.username, clock=clock(),
                               hash_method=current_app.config["PASSWORD_HASH"])
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        return render_template("settings/users.html", users=users_service.list_users(db),
                               roles=users_service.ROLES, error=exc.message, form=form), 400
    flash(f"Usuario «{form['username'].strip().lower()}» creado.", "ok")
    return redirect(url_for("settings.users"))


@bp.route("/usuarios/<username>/activo", methods=["POST"])
@require_role(*ADMINS)
def toggle_user(username: str) -> Any:
    active = request.form.get("activo") == "1"
    db = get_session()
    try:
        users_service.set_active(db, username, active, actor=g.user.username, clock=clock())
        db.commit()
    except NotFoundError:
        abort(404)
    except CobranzaError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("settings.users"))
    flash(f"Usuario «{username}» {'activado' if active else 'desactivado'}.", "ok")
    return redirect(url_for("settings.users"))


@bp.route("/tokens", methods=["GET"])
@require_role(*ADMINS)
def tokens() -> Any:
    return render_template("settings/tokens.html", tokens=users_service.list_tokens(get_session()),
                           roles=users_service.ROLES, error=None, created=None, form={})


@bp.route("/tokens", methods=["POST"])
@require_role(*ADMINS)
def create_token() -> Any:
    form = {k: request.form.get(k, "")[:200] for k in ("name", "role")}
    db = get_session()
    try:
        token, clear = users_service.create_token(db, form["name"], form["role"], created_by=g.user.username,
                                                  clock=clock())
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        return render_template("settings/tokens.html", tokens=users_service.list_tokens(db),
                               roles=users_service.ROLES, error=exc.message, created=None, form=form), 400
    # Shown once, in this response only; never stored in clear nor put in the session.
    return render_template("settings/tokens.html", tokens=users_service.list_tokens(db),
                           roles=users_service.ROLES, error=None, created=(token.name, clear), form={})


@bp.route("/tokens/<int:token_id>/revocar", methods=["POST"])
@require_role(*ADMINS)
def revoke_token(token_id: int) -> Any:
    db = get_session()
    try:
        users_service.revoke_token(db, token_id, actor=g.user.username, clock=clock())
        db.commit()
    except NotFoundError:
        abort(404)
    flash("Token revocado.", "ok")
    return redirect(url_for("settings.tokens"))
