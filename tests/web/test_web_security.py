"""Sessions, CSRF, security headers, login throttling, secret key, redirects."""

from __future__ import annotations

import os
import stat
from datetime import timedelta

import pytest
from web_support import PASSWORD, REAL_XML, csrf_of

from cfdi_cobranza.db.models import AuditEntry, Document
from cfdi_cobranza.db.models.users import LoginAttemptIp, User
from web import create_app


def test_security_headers(client):
    resp = client.get("/login")
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_flags(client, login):
    token = csrf_of(client)
    resp = client.post("/login", data={"username": "consulta", "password": PASSWORD, "csrf_token": token})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_secure_cookie_configurable(app_config):
    app = create_app({**app_config, "SESSION_COOKIE_SECURE": True})
    from cfdi_cobranza.db.session import transaction
    from cfdi_cobranza.services.users import add_user

    with transaction(app.extensions["cobranza_engine"]) as s:
        add_user(s, "ana", PASSWORD, "consulta", hash_method="pbkdf2:sha256:1000")
    client = app.test_client()
    resp = client.get("/login")
    assert "Secure" in resp.headers["Set-Cookie"]


def test_csrf_missing_refused_and_nothing_written(client, login, count):
    login(client, "facturacion")
    before = (count(Document), count(AuditEntry))
    resp = client.post("/importar/", data={"archivos": (REAL_XML.open("rb"), "a.xml")},
                       content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "código de seguridad (CSRF)" in resp.get_data(as_text=True)
    assert (count(Document), count(AuditEntry)) == before


def test_csrf_wrong_token_on_user_form(client, login, count):
    login(client, "administrador")
    before = count(User)
    resp = client.post("/configuracion/usuarios", data={"csrf_token": "falso", "username": "pepe", "role": "consulta",
                                                       "password": "clave-segura-1", "password2": "clave-segura-1"})
    assert resp.status_code == 400 and count(User) == before


def test_csrf_on_login(client):
    resp = client.post("/login", data={"username": "consulta", "password": PASSWORD})
    assert resp.status_code == 400


def test_logout_needs_post_and_csrf(client, login):
    token = login(client, "consulta")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    resp = client.post("/logout", data={"csrf_token": token})
    assert resp.status_code == 302
    assert client.get("/").status_code == 302


def test_login_wrong_password_spanish(client, csrf):
    resp = client.post("/login", data={"username": "consulta", "password": "mala", "csrf_token": csrf(client)})
    assert resp.status_code == 401
    assert "Usuario o contraseña incorrectos." in resp.get_data(as_text=True)


def test_login_throttling_growing_delay(client, csrf, web_clock, count):
    # Issue 14: a growing delay per (username, address) instead of a 15-minute hard lock.
    def attempt(password):
        return client.post("/login", data={"username": "cobranza", "password": password, "csrf_token": csrf(client)})

    assert [attempt("mala-clave").status_code for _ in range(5)] == [401, 401, 401, 401, 429]
    resp = attempt(PASSWORD)  # during the wait even the right password is refused, unchecked
    assert resp.status_code == 429
    assert "Demasiados intentos fallidos. Intente de nuevo en 1 minuto." in resp.get_data(as_text=True)
    web_clock.now += timedelta(seconds=61)
    assert attempt("mala-clave").status_code == 429  # the 6th failure: 2 minutes now
    web_clock.now += timedelta(seconds=119)
    assert attempt(PASSWORD).status_code == 429
    web_clock.now += timedelta(seconds=2)
    assert attempt(PASSWORD).status_code == 302
    assert count(AuditEntry) >= 9


def test_login_throttling_per_address_429(app, csrf, engine):
    from sqlalchemy import select

    from cfdi_cobranza.db.session import transaction
    from cfdi_cobranza.services import users as users_service

    sprayer, other = app.test_client(), app.test_client()
    sprayer.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    other.environ_base["REMOTE_ADDR"] = "203.0.113.8"
    for i in range(users_service.IP_MAX_FAILURES):
        resp = sprayer.post("/login", data={"username": f"nadie{i}", "password": "Primavera2026!",
                                            "csrf_token": csrf(sprayer)})
        assert resp.status_code == 401, i
    resp = sprayer.post("/login", data={"username": "cobranza", "password": PASSWORD, "csrf_token": csrf(sprayer)})
    assert resp.status_code == 429
    assert "Demasiados intentos fallidos desde esta dirección" in resp.get_data(as_text=True)
    assert sprayer.get("/").status_code == 302  # not signed in
    resp = other.post("/login", data={"username": "cobranza", "password": PASSWORD, "csrf_token": csrf(other)})
    assert resp.status_code == 302
    with transaction(engine) as s:
        blocked = s.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "ip_bloqueada")).all()
    assert blocked == ["203.0.113.7"]


def test_inactive_user_cannot_sign_in_and_is_signed_out(app, client, login, csrf):
    login(client, "cobranza")
    admin = app.test_client()
    token = login(admin, "administrador")
    assert admin.post("/configuracion/usuarios/cobranza/activo", data={"csrf_token": token, "activo": "0"}).status_code == 302
    assert client.get("/").status_code == 302  # session no longer valid
    resp = client.post("/login", data={"username": "cobranza", "password": PASSWORD, "csrf_token": csrf(client)})
    assert resp.status_code == 401


def test_no_open_redirect_after_login(client, csrf):
    resp = client.post("/login", data={"username": "consulta", "password": PASSWORD, "csrf_token": csrf(client),
                                       "next": "//evil.example/"})
    assert resp.headers["Location"] == "/"


def test_secret_key_generated_and_kept_0600(app_config, monkeypatch, tmp_path):
    monkeypatch.delenv("COBRANZA_SECRET_KEY", raising=False)
    cfg = {k: v for k, v in app_config.items() if k != "SECRET_KEY"}
    cfg["INSTANCE_PATH"] = str(tmp_path / "inst-key")
    first = create_app(cfg)
    path = tmp_path / "inst-key" / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = create_app(cfg)
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] and len(first.config["SECRET_KEY"]) >= 40


def test_secret_key_from_env(app_config, monkeypatch):
    monkeypatch.setenv("COBRANZA_SECRET_KEY", "desde-el-entorno")
    cfg = {k: v for k, v in app_config.items() if k != "SECRET_KEY"}
    assert create_app(cfg).config["SECRET_KEY"] == "desde-el-entorno"


def test_404_and_405_in_spanish(client, login):
    login(client, "consulta")
    assert "No encontrado" in client.get("/documentos/NO-EXISTE").get_data(as_text=True)
    assert client.get("/no/existe").status_code == 404


@pytest.mark.parametrize("proxies, counted_as", [(0, "127.0.0.9"), (1, "198.51.100.4")])
def test_client_address_behind_a_proxy(app_config, csrf, engine, proxies, counted_as):
    """X-Forwarded-For is believed only with COBRANZA_TRUSTED_PROXIES: throttling is per real client."""
    from sqlalchemy import select

    from cfdi_cobranza.db.session import transaction

    application = create_app({**app_config, "TRUSTED_PROXIES": proxies})
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.9"  # the reverse proxy
    resp = client.post("/login", data={"username": "nadie", "password": "x", "csrf_token": csrf(client)},
                       headers={"X-Forwarded-For": "198.51.100.4"})
    assert resp.status_code == 401
    with transaction(engine) as s:
        ips = s.scalars(select(LoginAttemptIp.ip)).all()
    assert ips == [counted_as]


def test_trusted_proxies_must_be_a_small_number(app_config):
    with pytest.raises(ValueError, match="COBRANZA_TRUSTED_PROXIES"):
        create_app({**app_config, "TRUSTED_PROXIES": "muchos"})
