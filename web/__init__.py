"""The web interface and JSON API of cfdi-cobranza (Flask app factory).

``create_app(config)`` builds one application: configuration from ``COBRANZA_*``
variables (overridable by ``config`` for tests), one engine, a database session per
request, security hooks (sign-in, roles, CSRF, headers) and one blueprint per area.
Every area of the navigation is a blueprint registered here.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from cfdi_cobranza.config import Settings, normalize_url
from cfdi_cobranza.db.session import make_engine
from cfdi_cobranza.errors import ConfigurationError
from cfdi_cobranza.services.clock import system_clock
from web import db, errors, filters, input_guard, nav, security
from web.api import bp as api_bp
from web.auth import bp as auth_bp
from web.banks import bp as banks_bp
from web.companies import bp as companies_bp
from web.customers import bp as customers_bp
from web.dashboard import bp as dashboard_bp
from web.debts import bp as debts_bp
from web.documents import bp as documents_bp
from web.followups import bp as followups_bp
from web.health import bp as health_bp
from web.imports import bp as imports_bp
from web.jobs import bp as jobs_bp
from web.limits import CobranzaRequest
from web.mail import bp as mail_bp
from web.payments import bp as payments_bp
from web.portal import bp as portal_bp
from web.reports import bp as reports_bp
from web.reps import bp as reps_bp
from web.sat import bp as sat_bp
from web.settings import bp as settings_bp

DEFAULT_MAX_UPLOAD_MB = 50


def _secret_key(instance: Path) -> str:
    """COBRANZA_SECRET_KEY, else a random key kept in the instance folder (mode 0600)."""
    env = os.environ.get("COBRANZA_SECRET_KEY")
    if env:
        return env
    path = instance / "secret_key"
    instance.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two workers starting together must not each write a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip()


def _trusted_proxies(value: object) -> int:
    try:
        count = int(str(value).strip() or "0")
    except ValueError:
        count = -1
    if not 0 <= count <= 5:
        raise ValueError("COBRANZA_TRUSTED_PROXIES debe ser el número de proxies inversos delante de la "
                         f"aplicación (0 a 5), no {value!r}.")
    return count


def _secure_cookies(production: bool) -> bool:
    """Secure session cookies: on by default in production (gunicorn, ``web.wsgi``),
    off by default for ``cobranza serve`` on plain http; ``COBRANZA_SECURE_COOKIES``
    (1/0) overrides either."""
    value = os.environ.get("COBRANZA_SECURE_COOKIES", "").strip()
    if value not in ("", "0", "1"):
        raise ConfigurationError(f"COBRANZA_SECURE_COOKIES debe ser 1 o 0, no {value!r}.", code="CONFIGURACION")
    return production if value == "" else value == "1"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """``config["PRODUCTION"]`` (set by ``web.wsgi``, the gunicorn entry point): Secure
    cookies by default and a strong secret key required (``security.secret_key_problem``)."""
    cfg = dict(config or {})
    production = bool(cfg.get("PRODUCTION", False))
    settings = Settings.from_env(cfg.get("DATABASE_URL"))
    if cfg.get("INSTANCE_PATH"):
        settings = replace(settings, instance_path=Path(cfg["INSTANCE_PATH"]).resolve())
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.request_class = CobranzaRequest
    max_mb = int(os.environ.get("COBRANZA_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB))
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=_secure_cookies(production),
        PRODUCTION=production,
        SESSION_COOKIE_NAME="cobranza_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
        MAX_CONTENT_LENGTH=max_mb * 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=max_mb * 1024 * 1024,
        COBRANZA_SETTINGS=settings,
        CLOCK=system_clock,
        PASSWORD_HASH="scrypt",
        PAGE_SIZE=50,
    )
    app.config.update(cfg)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(settings.instance_path)
    if production:
        problem = security.secret_key_problem(str(app.config["SECRET_KEY"]))
        if problem is not None:
            raise ConfigurationError(problem, code="CLAVE_SECRETA_DEBIL")
    app.extensions["cobranza_engine"] = make_engine(normalize_url(settings.database_url))
    proxies = _trusted_proxies(app.config.get("TRUSTED_PROXIES", os.environ.get("COBRANZA_TRUSTED_PROXIES", "0")))
    if proxies:
        # Behind nginx or another reverse proxy every request comes from the proxy: take
        # the client address (login throttling per IP, audit) and scheme from the last
        # ``proxies`` X-Forwarded-For / -Proto entries, which those proxies set. Without
        # a proxy these headers come from the client and must not be believed (the default).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    db.init_app(app)
    input_guard.init_app(app)  # before security: its hook already reads the database
    security.init_app(app)
    nav.init_app(app)
    filters.init_app(app)
    errors.init_app(app)

    for bp in (auth_bp, dashboard_bp, imports_bp, documents_bp, customers_bp, payments_bp, banks_bp, reps_bp,
               reports_bp, followups_bp, settings_bp, companies_bp, api_bp, health_bp, portal_bp,
               mail_bp, jobs_bp):
        app.register_blueprint(bp)
    app.register_blueprint(sat_bp)
    app.register_blueprint(debts_bp)
    return app
