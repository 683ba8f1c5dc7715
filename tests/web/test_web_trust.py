"""Issue 14, sessions and secrets: production mode, logout, enumeration, lockout."""

from __future__ import annotations

import os
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
