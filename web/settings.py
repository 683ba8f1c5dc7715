"""Configuración (administrador only): users and API tokens.

Users: the list with a form to add one, and a page per user to change the role,
reset the password (which also clears a lock and ends the user's sessions) and
activate or deactivate it. The service refuses changing one's own role, resetting
one's own password (that is «Mi cuenta», which asks for the current one) and
leaving no active administrator.
"""

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
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import ledger, rates
from cfdi_cobranza.services import payments as pay
from cfdi_cobranza.services import settings as app_settings
from cfdi_cobranza.services import user_companies as user_companies_service
from cfdi_cobranza.services import users as users_service
from web.clock import clock
from web.db import get_session, settings
from web.security import ADMINS, require_role

bp = Blueprint("settings", __name__, url_prefix="/configuracion")


@bp.route("/usuarios", methods=["GET"])
@require_role(*ADMINS)
def users() -> Any:
    return render_template("settings/users.html", users=users_service.list_users(get_session()),
                           roles=users_service.ROLES, error=None, form={}, now=clock()())


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
                               roles=users_service.ROLES, error=exc.message, form=form, now=clock()()), 400
    flash(f"Usuario «{form['username'].strip().lower()}» creado.", "ok")
    return redirect(url_for("settings.users"))


def _user_page(username: str, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    """The administration page of one user: role, password reset, activation, history."""
    db = get_session()
    try:
        user = users_service.get_user(db, username)
    except NotFoundError:
        abort(404)
    history = users_service.user_history(db, user.username)
    limited_to = user_companies_service.user_company_rfcs(db, user)
    companies = [(c.rfc, c.nombre) for c in ledger.list_companies(db)]
    db.commit()  # end the read; nothing is expired (expire_on_commit=False)
    return render_template("settings/user.html", user=user, history=history, roles=users_service.ROLES,
                           errors=errors or {}, now=clock()(), min_password=users_service.MIN_PASSWORD,
                           companies=companies, limited_to=limited_to), status


@bp.route("/usuarios/<username>", methods=["GET"])
@require_role(*ADMINS)
def user_detail(username: str) -> Any:
    return _user_page(username)


@bp.route("/usuarios/<username>/contrasena", methods=["POST"])
@require_role(*ADMINS)
def reset_password(username: str) -> Any:
    """A new password chosen by the administrator (forgotten password, locked account).
    Clears the lock and ends every session of that user."""
    password, confirm = request.form.get("password", "")[:1024], request.form.get("password2", "")[:1024]
    db = get_session()
    try:
        if password != confirm:
            raise ValidationError("Las contraseñas no coinciden.", code="CONTRASENA_NO_COINCIDE")
        user = users_service.reset_password(db, username, password, actor=g.user.username, clock=clock(),
                                            hash_method=current_app.config["PASSWORD_HASH"])
        db.commit()
    except NotFoundError:
        abort(404)
    except CobranzaError as exc:
        db.rollback()
        return _user_page(username, {"password": exc.message}, 400)
    current_app.logger.info("password reset %s by %s", user.username, g.user.username)
    flash(f"Contraseña de «{user.username}» restablecida. Sus sesiones abiertas se cerraron; "
          "comuníquele la nueva contraseña por un medio seguro.", "ok")
    return redirect(url_for("settings.user_detail", username=user.username))


@bp.route("/usuarios/<username>/rol", methods=["POST"])
@require_role(*ADMINS)
def set_role(username: str) -> Any:
    role = request.form.get("role", "")[:40]
    db = get_session()
    try:
        user = users_service.set_role(db, username, role, actor=g.user.username, clock=clock())
        db.commit()
    except NotFoundError:
        abort(404)
    except CobranzaError as exc:
        db.rollback()
        return _user_page(username, {"role": exc.message}, 400)
    flash(f"Rol de «{user.username}»: {users_service.ROLES[user.role]}.", "ok")
    return redirect(url_for("settings.user_detail", username=user.username))


@bp.route("/usuarios/<username>/empresas", methods=["POST"])
@require_role(*ADMINS)
def set_companies(username: str) -> Any:
    """Limit the user to the companies ticked (none ticked, or «todas»: every company)."""
    rfcs = [] if request.form.get("todas") == "1" else [r[:13] for r in request.form.getlist("empresa")[:500]]
    db = get_session()
    try:
        chosen = user_companies_service.set_user_companies(db, username, rfcs, actor=g.user.username, clock=clock())
        db.commit()
    except NotFoundError as exc:
        if exc.code == "USUARIO_NO_ENCONTRADO":
            abort(404)
        db.rollback()
        return _user_page(username, {"companies": exc.message}, 400)
    except CobranzaError as exc:
        db.rollback()
        return _user_page(username, {"companies": exc.message}, 400)
    flash(f"«{username}» ve solo: {', '.join(chosen)}." if chosen else f"«{username}» ve todas las empresas.", "ok")
    return redirect(url_for("settings.user_detail", username=username))


@bp.route("/usuarios/<username>/activo", methods=["POST"])
@require_role(*ADMINS)
def toggle_user(username: str) -> Any:
    active = request.form.get("activo") == "1"
    # The user's own page posts volver=detalle to come back to it; the list is the default.
    back = (url_for("settings.user_detail", username=username) if request.form.get("volver") == "detalle"
            else url_for("settings.users"))
    db = get_session()
    try:
        users_service.set_active(db, username, active, actor=g.user.username, clock=clock())
        db.commit()
    except NotFoundError:
        abort(404)
    except CobranzaError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(back)
    flash(f"Usuario «{username}» {'activado' if active else 'desactivado; sus sesiones abiertas se cerraron'}.",
          "ok")
    return redirect(back)


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
    db = get_session()
    db.rollback()
    return render_template("settings/collections.html", cajas=pay.cash_box_summary(db),
                           buckets=app_settings.aging_buckets(db), error=error, section=section, form=form or {},
                           banxico_guardado=rates.has_banxico_token(db)), status


@bp.route("/cobranza", methods=["GET"])
@require_role(*COLLECTION_SETTINGS)
def collections() -> Any:
    return _collections_page()


@bp.route("/cobranza/cajas", methods=["POST"])
@require_role(*COLLECTION_SETTINGS)
def add_cash_box() -> Any:
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


@bp.route("/cobranza/banxico", methods=["POST"])
@require_role(*COLLECTION_SETTINGS)
def banxico_token() -> Any:
    """The SIE token for ``cobranza rates update``: saved sealed, never shown back."""
    token = "" if request.form.get("borrar") else request.form.get("token", "")[:300]
    db = get_session()
    try:
        rates.set_banxico_token(db, token, SecretBox.for_instance(settings().instance_path), actor=g.user.username,
                                clock=clock())
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        return _collections_page(exc.message, "banxico", {}, 400)
    flash("Token de Banxico guardado." if token.strip() else "Token de Banxico borrado.", "ok")
    return redirect(url_for("settings.collections") + "#banxico")
