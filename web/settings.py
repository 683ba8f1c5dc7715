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


# --------------------------------------------------------------------------- Cobranza: cash boxes, aging buckets

COLLECTION_SETTINGS = frozenset({"administrador", "contabilidad"})


def _collections_page(error: str | None = None, section: str | None = None, form: dict[str, str] | None = None,
                      status: int = 200) -> Any:
    from cfdi_cobranza.services import payments as pay
    from cfdi_cobranza.services import settings as app_settings

    db = get_session()
    db.rollback()
    return render_template("settings/collections.html", cajas=pay.cash_box_summary(db),
                           buckets=app_settings.aging_buckets(db), error=error, section=section, form=form or {}), status


@bp.route("/cobranza", methods=["GET"])
@require_role(*COLLECTION_SETTINGS)
def collections() -> Any:
    return _collections_page()


@bp.route("/cobranza/cajas", methods=["POST"])
@require_role(*COLLECTION_SETTINGS)
def add_cash_box() -> Any:
    from cfdi_cobranza.services import payments as pay

    form = {k: request.form.get(k, "")[:100].strip() for k in ("nombre", "tipo", "banco", "cuenta", "moneda")}
    db = get_session()
    try:
        if form["cuenta"] and not form["cuenta"].replace(" ", "").isdigit():
            raise ValidationError("La cuenta o CLABE solo lleva dígitos.", code="CUENTA_INVALIDA")
        box = pay.add_cash_box(db, form["nombre"], form["tipo"] or "banco", form["banco"] or None,
                               form["cuenta"] or None, (form["moneda"] or "MXN").upper()[:3])
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        return _collections_page(exc.message, "cajas", form, 400)
    flash(f"{'Caja' if box.kind == 'caja' else 'Cuenta'} «{box.name}» creada.", "ok")
    return redirect(url_for("settings.collections"))


@bp.route("/cobranza/rangos", methods=["POST"])
@require_role(*COLLECTION_SETTINGS)
def aging_buckets() -> Any:
    from cfdi_cobranza.services import settings as app_settings

    spec = request.form.get("rangos", "")[:200]
    db = get_session()
    try:
        buckets = app_settings.set_aging_buckets(db, spec, actor=g.user.username, clock=clock())
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        return _collections_page(exc.message, "rangos", {"rangos": spec}, 400)
    flash("Rangos de antigüedad guardados: " + ", ".join(buckets.labels) + ".", "ok")
    return redirect(url_for("settings.collections"))
