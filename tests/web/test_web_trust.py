"""Issue 14, sessions and secrets: production mode, logout, enumeration, lockout."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from web_support import FAST_HASH, PASSWORD, csrf_of

from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import ConfigurationError
from cfdi_cobranza.services import users as users_service
from web import create_app
from web.security import secret_key_problem

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k2Jf8Qw1Zp0xLr7Vb4Ns9Hd3Tg6Ym5Ce-Ua_WoXiKq"  # 44 characters of base64url


def _without_key(app_config):
    return {k: v for k, v in app_config.items() if k != "SECRET_KEY"}


@pytest.mark.parametrize("key", ["changeme", "clave-secreta-de-pruebas", "changeme" * 8, "a" * 64,
                                 "abcdefghijklmnop" * 4, "0123456789abcdef" * 2, "Passw0rd!" * 3])
def test_weak_secret_key_refused_in_production(app_config, monkeypatch, key):
    monkeypatch.setenv("COBRANZA_SECRET_KEY", key)
    with pytest.raises(ConfigurationError) as info:
        create_app({**_without_key(app_config), "PRODUCTION": True})
    assert info.value.code == "CLAVE_SECRETA_DEBIL"
    assert "secrets.token_urlsafe(48)" in info.value.message and "32 bytes" in info.value.message


@pytest.mark.parametrize("key", [secrets.token_urlsafe(32), secrets.token_urlsafe(48), secrets.token_hex(32),
                                 STRONG_KEY])
def test_random_secret_key_accepted_in_production(app_config, monkeypatch, key):
    assert secret_key_problem(key) is None
    monkeypatch.setenv("COBRANZA_SECRET_KEY", key)
    app = create_app({**_without_key(app_config), "PRODUCTION": True})
    assert app.config["SECRET_KEY"] == key


def test_generated_instance_key_is_strong_enough_for_production(app_config, monkeypatch, tmp_path):
    monkeypatch.delenv("COBRANZA_SECRET_KEY", raising=False)
    cfg = {**_without_key(app_config), "INSTANCE_PATH": str(tmp_path / "inst"), "PRODUCTION": True}
    assert secret_key_problem(create_app(cfg).config["SECRET_KEY"]) is None


def test_gunicorn_entry_point_refuses_changeme(tmp_path):
    env = {**os.environ, "COBRANZA_SECRET_KEY": "changeme", "PYTHONPATH": str(ROOT),
           "COBRANZA_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "COBRANZA_INSTANCE": str(tmp_path / "i")}
    proc = subprocess.run([sys.executable, "-c", "import web.wsgi"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert "COBRANZA_SECRET_KEY es demasiado corta" in proc.stderr and "token_urlsafe" in proc.stderr


def _login_cookie(app):
    with transaction(app.extensions["cobranza_engine"]) as s:
        users_service.add_user(s, "ana", PASSWORD, "consulta", hash_method=FAST_HASH)
    client = app.test_client()
    resp = client.post("/login", data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(client)})
    assert resp.status_code == 302
    return resp.headers["Set-Cookie"]


def test_production_cookies_secure_by_default(app_config, monkeypatch):
    monkeypatch.delenv("COBRANZA_SECURE_COOKIES", raising=False)
    app = create_app({**app_config, "SECRET_KEY": STRONG_KEY, "PRODUCTION": True})
    assert "Secure" in [part.strip() for part in _login_cookie(app).split(";")]


def test_secure_cookies_variable_overrides_both_ways(app_config, monkeypatch):
    monkeypatch.setenv("COBRANZA_SECURE_COOKIES", "0")
    app = create_app({**app_config, "SECRET_KEY": STRONG_KEY, "PRODUCTION": True})
    assert app.config["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("COBRANZA_SECURE_COOKIES", "1")
    assert create_app(app_config).config["SESSION_COOKIE_SECURE"] is True
    monkeypatch.setenv("COBRANZA_SECURE_COOKIES", "si")
    with pytest.raises(ConfigurationError):
        create_app(app_config)


def test_serve_mode_keeps_plain_cookies_and_any_key(app_config, monkeypatch):
    monkeypatch.delenv("COBRANZA_SECURE_COOKIES", raising=False)
    app = create_app(app_config)  # `cobranza serve` (local, plain http): not production
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert "Secure" not in [part.strip() for part in _login_cookie(app).split(";")]


# -- Sign-out ends the session on the server ---------------------------------------------
def _copy_cookie(source, target):
    target.set_cookie("cobranza_session", source.get_cookie("cobranza_session").value)


def test_cookie_copied_before_logout_stops_working(app, login):
    browser, thief = app.test_client(), app.test_client()
    token = login(browser, "administrador")
    _copy_cookie(browser, thief)
    assert thief.get("/configuracion/usuarios").status_code == 200  # the copy works while signed in
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    resp = thief.get("/configuracion/usuarios")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_logout_ends_only_that_session(app, login):
    office, laptop = app.test_client(), app.test_client()
    token = login(office, "cobranza")
    login(laptop, "cobranza")
    office.post("/logout", data={"csrf_token": token})
    assert laptop.get("/").status_code == 200
    assert office.get("/").status_code == 302


def test_server_side_session_expires_with_the_cookie_lifetime(app, login, web_clock):
    client = app.test_client()
    login(client, "consulta")
    web_clock.now += app.permanent_session_lifetime
    assert client.get("/").status_code == 302


def test_cookie_forged_with_the_secret_key_opens_nothing(app):
    # Someone who learnt the secret key signs {"uid": <admin>} offline; without a live
    # server-side session it is refused.
    from sqlalchemy import select

    from cfdi_cobranza.db.models.users import User

    with transaction(app.extensions["cobranza_engine"]) as s:
        admin = s.scalar(select(User).where(User.username == "administrador"))
        uid, epoch = admin.id, admin.session_epoch
    serializer = app.session_interface.get_signing_serializer(app)
    for forged in ({"uid": uid, "epoch": epoch, "_permanent": True},
                   {"uid": uid, "epoch": epoch, "sid": "inventado-por-el-atacante"}):
        client = app.test_client()
        client.set_cookie("cobranza_session", serializer.dumps(forged))
        resp = client.get("/configuracion/usuarios")
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]


# -- The same answer whether the username exists or not ---------------------------------
def _attempts(app, username, n, remote="192.0.2.10"):
    client = app.test_client()
    out = []
    for _ in range(n):
        resp = client.post("/login", data={"username": username, "password": "no-es-la-clave-9",
                                           "csrf_token": csrf_of(client)}, environ_base={"REMOTE_ADDR": remote})
        found = re.search(r'role="alert">([^<]*)<', resp.get_data(as_text=True))
        message = found.group(1) if found else None
        out.append((resp.status_code, message))
    return out


def test_unknown_and_real_usernames_get_the_same_answers(app):
    real = _attempts(app, "cobranza", 7)
    unknown = _attempts(app, "no-existe-nadie", 7)
    assert real == unknown
    assert [status for status, _ in real] == [401, 401, 401, 401, 429, 429, 429]
    assert real[0][1] == "Usuario o contraseña incorrectos."
    assert real[4][1] == "Demasiados intentos fallidos. Intente de nuevo en 1 minuto."


def test_guessing_from_one_address_does_not_lock_the_owner_out(app):
    _attempts(app, "cobranza", 12, remote="203.0.113.66")
    owner = app.test_client()
    resp = owner.post("/login", data={"username": "cobranza", "password": PASSWORD, "csrf_token": csrf_of(owner)},
                      environ_base={"REMOTE_ADDR": "198.51.100.20"})
    assert resp.status_code == 302


def test_unknown_user_pays_the_same_hash_as_a_real_one(app, monkeypatch):
    checked: list[str] = []
    real_check = users_service.check_password_hash

    def spy(pwhash, password):
        checked.append(pwhash.split("$")[0])  # the method and its parameters, no salt
        return real_check(pwhash, password)

    monkeypatch.setattr(users_service, "check_password_hash", spy)
    _attempts(app, "no-existe-nadie", 1)
    _attempts(app, "cobranza", 1)
    assert checked == [FAST_HASH, FAST_HASH] and app.config["PASSWORD_HASH"] == FAST_HASH


def test_dummy_hash_matches_real_scrypt_hashes(engine):
    # Production hashes with scrypt: an unknown username is checked against a scrypt hash
    # with the same parameters (it was a cheap pbkdf2: 6 ms against 100 ms).
    from unittest import mock

    with transaction(engine) as s:
        user = users_service.add_user(s, "scrypta", PASSWORD, "consulta", hash_method="scrypt")
        real_method = user.password_hash.split("$")[0]
    assert real_method.startswith("scrypt:")
    seen: list[str] = []
    real_check = users_service.check_password_hash
    spy = mock.patch.object(users_service, "check_password_hash",
                            side_effect=lambda h, p: seen.append(h.split("$")[0]) or real_check(h, p))
    with spy, transaction(engine) as s:
        a = users_service.authenticate(s, "nadie-aqui", "una-clave-9", hash_method="scrypt", remote="192.0.2.1")
        b = users_service.authenticate(s, "scrypta", "una-clave-9", hash_method="scrypt", remote="192.0.2.1")
    assert seen == [real_method, real_method]
    assert (a.code, a.message) == (b.code, b.message) == ("CREDENCIALES_INVALIDAS", users_service.GENERIC_REFUSAL)


def test_old_attempts_at_made_up_usernames_are_purged(app, engine, web_clock):
    from datetime import timedelta

    from sqlalchemy import func, select

    from cfdi_cobranza.db.models.users import LoginAttempt

    for name in ("inventado-1", "inventado-2"):
        _attempts(app, name, 2, remote="203.0.113.5")
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(LoginAttempt)) == 2
    web_clock.now += users_service.ATTEMPT_MEMORY + timedelta(minutes=1)
    client = app.test_client()
    assert client.post("/login", data={"username": "consulta", "password": PASSWORD,
                                       "csrf_token": csrf_of(client)}).status_code == 302
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(LoginAttempt)) == 0
