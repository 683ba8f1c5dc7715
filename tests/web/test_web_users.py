"""«Mi cuenta» (own password) and Configuración → Usuarios (reset, role, activation): sessions end as they must."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from web_support import PASSWORD, csrf_of

from cfdi_cobranza.db.models import AuditEntry
from cfdi_cobranza.db.models.users import User
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import ConflictError
from cfdi_cobranza.services import users as users_service

NEW = "clave-nueva-789"
NON_ADMINS = [r for r in users_service.ROLES if r != "administrador"]


def _user(app, name):
    with transaction(app.extensions["cobranza_engine"]) as s:
        user = s.scalar(select(User).where(User.username == name))
        s.expunge(user)
        return user


def _signed_in(client) -> bool:
    resp = client.get("/cuenta")
    return resp.status_code == 200


def _sent_to_login(client) -> bool:
    resp = client.get("/")
    return resp.status_code == 302 and "/login" in resp.headers["Location"]


def _text(resp) -> str:
    return resp.get_data(as_text=True)


def _sign_in(client, username, password):
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_of(client)})


# -- Mi cuenta ----------------------------------------------------------------------
@pytest.mark.parametrize("role", list(users_service.ROLES))
def test_every_role_has_mi_cuenta_linked_from_the_header(app, login, role):
    client = app.test_client()
    login(client, role)
    page = _text(client.get("/"))
    header = page.split("</header>")[0]
    assert 'href="/cuenta"' in header and "Mi cuenta" in header and f"Usuario {role}" in header
    resp = client.get("/cuenta")
    assert resp.status_code == 200
    body = _text(resp)
    assert "Cambiar contraseña" in body and 'name="actual"' in body and 'name="nueva2"' in body
    assert 'name="csrf_token"' in body.split('id="cambiar-contrasena"')[1]


def test_password_change_ends_the_other_session_and_keeps_this_one(app, login):
    a, b = app.test_client(), app.test_client()
    token_a = login(a, "cobranza")
    token_b = login(b, "cobranza")
    assert _signed_in(a) and _signed_in(b)
    resp = a.post("/cuenta/contrasena", data={"csrf_token": token_a, "actual": PASSWORD, "nueva": NEW, "nueva2": NEW})
    assert resp.status_code == 302 and resp.headers["Location"] == "/cuenta"
    page = _text(a.get("/cuenta"))
    assert "Contraseña cambiada" in page
    assert _signed_in(a)
    # B's next request, even a form post with its own valid CSRF token, signs it out and changes nothing.
    before = _user(app, "cobranza")
    resp = b.post("/cuenta/contrasena", data={"csrf_token": token_b, "actual": NEW, "nueva": "otra-clave-000",
                                              "nueva2": "otra-clave-000"})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert _user(app, "cobranza").password_hash == before.password_hash
    login_page = _text(b.get(resp.headers["Location"]))
    assert "Su sesión terminó" in login_page
    assert _sent_to_login(b)
    assert _signed_in(a)  # A is still fine afterwards
    # The old password is gone; the new one works.
    assert _sign_in(app.test_client(), "cobranza", PASSWORD).status_code == 401
    c = app.test_client()
    assert _sign_in(c, "cobranza", NEW).status_code == 302 and _signed_in(c)


def test_other_users_sessions_are_not_touched(app, login):
    mine, theirs = app.test_client(), app.test_client()
    token = login(mine, "cobranza")
    login(theirs, "consulta")
    mine.post("/cuenta/contrasena", data={"csrf_token": token, "actual": PASSWORD, "nueva": NEW, "nueva2": NEW})
    assert _signed_in(theirs) and _signed_in(mine)


@pytest.mark.parametrize("form,message", [
    ({"actual": "no-es-la-mia-1", "nueva": NEW, "nueva2": NEW}, "La contraseña actual no es correcta."),
    ({"actual": PASSWORD, "nueva": NEW, "nueva2": NEW + "x"}, "La contraseña nueva y su confirmación no coinciden."),
    ({"actual": PASSWORD, "nueva": "corta1", "nueva2": "corta1"}, "al menos 10 caracteres"),
    ({"actual": PASSWORD, "nueva": PASSWORD, "nueva2": PASSWORD}, "distinta de la actual"),
])
def test_password_change_refused_changes_nothing(app, login, form, message):
    a, b = app.test_client(), app.test_client()
    token = login(a, "facturacion")
    login(b, "facturacion")
    before = _user(app, "facturacion")
    resp = a.post("/cuenta/contrasena", data={"csrf_token": token, **form})
    assert resp.status_code == 400
    assert message in _text(resp)
    after = _user(app, "facturacion")
    assert (after.password_hash, after.session_epoch) == (before.password_hash, before.session_epoch)
    assert _signed_in(a) and _signed_in(b)


def test_wrong_current_password_counts_toward_the_lock(app, login):
    a = app.test_client()
    token = login(a, "contabilidad")
    for _ in range(users_service.MAX_FAILURES - 1):
        resp = a.post("/cuenta/contrasena", data={"csrf_token": token, "actual": "adivinando-1", "nueva": NEW,
                                                  "nueva2": NEW})
        assert resp.status_code == 400
    assert _user(app, "contabilidad").failed_logins == users_service.MAX_FAILURES - 1
    resp = a.post("/cuenta/contrasena", data={"csrf_token": token, "actual": "adivinando-1", "nueva": NEW,
                                              "nueva2": NEW})
    assert "Demasiados intentos fallidos" in _text(resp)
    assert _user(app, "contabilidad").locked_until is not None
    # Delayed: the right password is refused too, until the wait (1 minute, growing) ends
    # or an administrator resets it.
    resp = a.post("/cuenta/contrasena", data={"csrf_token": token, "actual": PASSWORD, "nueva": NEW, "nueva2": NEW})
    assert resp.status_code == 400 and "Intente de nuevo en 1 minuto." in _text(resp)


def test_password_change_needs_csrf(app, login):
    a = app.test_client()
    login(a, "consulta")
    resp = a.post("/cuenta/contrasena", data={"actual": PASSWORD, "nueva": NEW, "nueva2": NEW})
    assert resp.status_code == 400
    assert _user(app, "consulta").session_epoch == 0


# -- administrator: reset, role, activation -----------------------------------------
def test_admin_reset_signs_out_every_session_and_unlocks(app, login, csrf):
    a, b = app.test_client(), app.test_client()
    login(a, "cobranza")
    login(b, "cobranza")
    other = app.test_client()
    for _ in range(users_service.MAX_FAILURES):
        _sign_in(other, "cobranza", "mala-clave-1")
    assert _user(app, "cobranza").locked_until is not None
    admin = app.test_client()
    token = login(admin, "administrador")
    resp = admin.post("/configuracion/usuarios/cobranza/contrasena",
                      data={"csrf_token": token, "password": NEW, "password2": NEW})
    assert resp.status_code == 302 and resp.headers["Location"] == "/configuracion/usuarios/cobranza"
    assert "restablecida" in _text(admin.get("/configuracion/usuarios/cobranza"))
    assert _sent_to_login(a) and _sent_to_login(b)
    assert _signed_in(admin)
    user = _user(app, "cobranza")
    assert user.locked_until is None and user.failed_logins == 0 and user.session_epoch == 1
    assert _sign_in(app.test_client(), "cobranza", NEW).status_code == 302
    with transaction(app.extensions["cobranza_engine"]) as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "contrasena_restablecida"))
        assert (entry.actor, entry.entity_id, entry.detail) == ("administrador", "cobranza", None)


@pytest.mark.parametrize("form,message", [
    ({"password": NEW, "password2": NEW + "x"}, "Las contraseñas no coinciden."),
    ({"password": "abc", "password2": "abc"}, "al menos 10 caracteres"),
])
def test_admin_reset_refused(app, login, form, message):
    admin = app.test_client()
    token = login(admin, "administrador")
    victim = app.test_client()
    login(victim, "consulta")
    resp = admin.post("/configuracion/usuarios/consulta/contrasena", data={"csrf_token": token, **form})
    assert resp.status_code == 400 and message in _text(resp)
    assert _user(app, "consulta").session_epoch == 0 and _signed_in(victim)


def test_admin_cannot_reset_or_change_own_role_here(app, login):
    admin = app.test_client()
    token = login(admin, "administrador")
    page = _text(admin.get("/configuracion/usuarios/administrador"))
    assert "Mi cuenta" in page and 'id="restablecer-contrasena"' not in page
    resp = admin.post("/configuracion/usuarios/administrador/contrasena",
                      data={"csrf_token": token, "password": NEW, "password2": NEW})
    assert resp.status_code == 400 and "use «Mi cuenta»" in _text(resp)
    resp = admin.post("/configuracion/usuarios/administrador/rol", data={"csrf_token": token, "role": "consulta"})
    assert resp.status_code == 400 and "No puede cambiar su propio rol" in _text(resp)
    me = _user(app, "administrador")
    assert me.role == "administrador" and me.session_epoch == 0 and _signed_in(admin)


def test_admin_changes_role_and_the_live_session_follows(app, login):
    user = app.test_client()
    login(user, "consulta")
    assert user.get("/configuracion/cobranza").status_code == 403
    admin = app.test_client()
    token = login(admin, "administrador")
    resp = admin.post("/configuracion/usuarios/consulta/rol", data={"csrf_token": token, "role": "contabilidad"})
    assert resp.status_code == 302
    assert "Rol de «consulta»: Contabilidad." in _text(admin.get(resp.headers["Location"]))
    assert _user(app, "consulta").role == "contabilidad"
    assert user.get("/configuracion/cobranza").status_code == 200  # same session, new role
    resp = admin.post("/configuracion/usuarios/consulta/rol", data={"csrf_token": token, "role": "jefe"})
    assert resp.status_code == 400 and "Rol desconocido" in _text(resp)


def test_admin_demotes_another_admin_but_never_the_last_one(app, login):
    with transaction(app.extensions["cobranza_engine"]) as s:
        users_service.add_user(s, "jefa", PASSWORD, "administrador", hash_method="pbkdf2:sha256:1000")
    jefa = app.test_client()
    assert _sign_in(jefa, "jefa", PASSWORD).status_code == 302
    token = csrf_of(jefa)
    assert jefa.post("/configuracion/usuarios/administrador/rol",
                     data={"csrf_token": token, "role": "consulta"}).status_code == 302
    assert _user(app, "administrador").role == "consulta"
    # jefa is now the only active administrator: nobody can take that away, not even the command line.
    with transaction(app.extensions["cobranza_engine"]) as s, pytest.raises(ConflictError) as exc:
        users_service.set_role(s, "jefa", "consulta", actor="cli")
    assert exc.value.code == "ULTIMO_ADMINISTRADOR"
    assert _user(app, "jefa").role == "administrador" and _signed_in(jefa)


def test_deactivated_user_live_sessions_end_and_stay_ended(app, login):
    a, b = app.test_client(), app.test_client()
    login(a, "facturacion")
    login(b, "facturacion")
    admin = app.test_client()
    token = login(admin, "administrador")
    resp = admin.post("/configuracion/usuarios/facturacion/activo",
                      data={"csrf_token": token, "activo": "0", "volver": "detalle"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/configuracion/usuarios/facturacion"
    assert _sent_to_login(a) and _sent_to_login(b)
    assert _sign_in(app.test_client(), "facturacion", PASSWORD).status_code == 401
    # Activated again: the password works, but the old cookies stay signed out.
    stale = app.test_client()
    login(stale, "consulta")  # an unrelated session, to show only facturacion's ended
    assert admin.post("/configuracion/usuarios/facturacion/activo",
                      data={"csrf_token": token, "activo": "1"}).status_code == 302
    assert _sent_to_login(a)
    c = app.test_client()
    assert _sign_in(c, "facturacion", PASSWORD).status_code == 302 and _signed_in(c) and _signed_in(stale)


def test_deactivation_kept_cookie_is_dead_even_if_unused_meanwhile(app, login):
    """A cookie copied aside before deactivation does not come back after reactivation."""
    a = app.test_client()
    login(a, "cobranza")
    cookie = a.get_cookie("cobranza_session").value
    admin = app.test_client()
    token = login(admin, "administrador")
    admin.post("/configuracion/usuarios/cobranza/activo", data={"csrf_token": token, "activo": "0"})
    admin.post("/configuracion/usuarios/cobranza/activo", data={"csrf_token": token, "activo": "1"})
    thief = app.test_client()
    thief.set_cookie("cobranza_session", cookie)
    assert _sent_to_login(thief)


@pytest.mark.parametrize("role", NON_ADMINS)
def test_non_admins_get_403_on_user_administration(app, login, role):
    client = app.test_client()
    token = login(client, role)
    before = _user(app, "consulta")
    assert client.get("/configuracion/usuarios/consulta").status_code == 403
    assert client.get("/configuracion/usuarios").status_code == 403
    for url, data in [
        ("/configuracion/usuarios/consulta/contrasena", {"password": NEW, "password2": NEW}),
        ("/configuracion/usuarios/consulta/rol", {"role": "administrador"}),
        ("/configuracion/usuarios/consulta/activo", {"activo": "0"}),
        ("/configuracion/usuarios", {"username": "intruso", "role": "administrador", "password": NEW,
                                     "password2": NEW}),
    ]:
        resp = client.post(url, data={"csrf_token": token, **data})
        assert resp.status_code == 403, (role, url)
        assert "Sin permiso" in _text(resp)
    after = _user(app, "consulta")
    assert (after.password_hash, after.role, after.active, after.session_epoch) == \
        (before.password_hash, before.role, before.active, before.session_epoch)
    with transaction(app.extensions["cobranza_engine"]) as s:
        assert s.scalar(select(User).where(User.username == "intruso")) is None


def test_admin_pages_show_users_actions_and_history_without_secrets(app, login):
    admin = app.test_client()
    token = login(admin, "administrador")
    page = _text(admin.get("/configuracion/usuarios"))
    assert 'href="/configuracion/usuarios/cobranza"' in page and "Administrar" in page
    admin.post("/configuracion/usuarios/cobranza/contrasena", data={"csrf_token": token, "password": NEW,
                                                                   "password2": NEW})
    admin.post("/configuracion/usuarios/cobranza/rol", data={"csrf_token": token, "role": "consulta"})
    page = _text(admin.get("/configuracion/usuarios/cobranza"))
    for section in ('id="cambiar-rol"', 'id="restablecer-contrasena"', 'id="activar-usuario"'):
        assert section in page
    assert len(re.findall(r'name="csrf_token"', page)) >= 4  # logout + three forms
    history = page.split('id="historial-usuario"')[1]
    assert "Contraseña restablecida por un administrador" in history and "Rol cambiado" in history
    assert NEW not in page and _user(app, "cobranza").password_hash not in page
