"""Fixtures for the web tests: an app on a migrated temp SQLite DB, one user per role, helpers."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

# This folder is itself called "web": with pytest's rootdir-based sys.path it would
# shadow the real package as a namespace package. Put the project root first.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path[:1]:
    sys.path.insert(0, str(ROOT))
if getattr(sys.modules.get("web"), "__file__", "") is None:
    del sys.modules["web"]

from web_support import FAST_HASH, PASSWORD, REAL_UUID, REAL_XML, csrf_of  # noqa: E402

from cfdi_cobranza.db.session import transaction  # noqa: E402
from cfdi_cobranza.services import users as users_service  # noqa: E402
from web import create_app  # noqa: E402

ROLES = list(users_service.ROLES)


class MutableClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def web_clock() -> MutableClock:
    return MutableClock()


@pytest.fixture
def app_config(tmp_path: Path, sqlite_template: Path, web_clock: MutableClock) -> dict[str, Any]:
    db = tmp_path / "web.db"
    shutil.copy(sqlite_template, db)
    return {
        "DATABASE_URL": f"sqlite:///{db}",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "clave-secreta-de-pruebas",
        "TESTING": True,
        "PASSWORD_HASH": FAST_HASH,
        "CLOCK": web_clock,
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(app_config)
    with transaction(application.extensions["cobranza_engine"]) as session:
        for role in ROLES:
            users_service.add_user(session, role, PASSWORD, role, f"Usuario {role}", hash_method=FAST_HASH)
    yield application
    application.extensions["cobranza_engine"].dispose()


@pytest.fixture
def engine(app: Flask) -> Engine:  # overrides the root fixture: the app's own database
    eng: Engine = app.extensions["cobranza_engine"]
    return eng


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def csrf() -> Callable[[FlaskClient], str]:
    return csrf_of


@pytest.fixture
def login() -> Callable[[FlaskClient, str], str]:
    """Sign ``client`` in as the user of ``role``; returns the CSRF token of the session."""

    def do(client: FlaskClient, role: str) -> str:
        token = csrf_of(client)
        resp = client.post("/login", data={"username": role, "password": PASSWORD, "csrf_token": token})
        assert resp.status_code == 302, resp.data
        return csrf_of(client)

    return do


@pytest.fixture
def count(engine: Engine) -> Callable[[type], int]:
    def do(model: type) -> int:
        with transaction(engine) as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    return do


@pytest.fixture
def imported(app: Flask) -> str:
    """The real CFDI 4.0 invoice imported; returns its UUID."""
    from cfdi_cobranza.services.uploads import import_uploads

    settings = app.config["COBRANZA_SETTINGS"]
    batch = import_uploads(app.extensions["cobranza_engine"], settings, [("cfdi40-real.xml", REAL_XML.read_bytes())],
                           actor="pruebas")
    assert batch.summary["imported"] == 1, batch.to_dict()
    return REAL_UUID


@pytest.fixture
def sandbox_env(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sandbox PAC in the app's instance folder; no PAC settings leak in from the environment."""
    import os

    instance = Path(app.config["COBRANZA_SETTINGS"].instance_path)
    monkeypatch.setenv("COBRANZA_INSTANCE", str(instance))
    for name in list(os.environ):
        if name == "COBRANZA_PAC" or name.startswith("COBRANZA_PAC_"):
            monkeypatch.delenv(name)
    return instance


@pytest.fixture
def rep_world(app: Flask, sandbox_env: Path) -> dict[str, Any]:
    """Two PPD invoices of URE180429TM6, the test CSD registered, one payment applied and its REP stamped,
    and a second payment applied and still without REP."""
    import rep_support

    eng = app.extensions["cobranza_engine"]
    files = rep_support.ppd_invoices(sandbox_env)
    rep_support.import_files(app, files)
    rep_support.register_csd(eng, sandbox_env)
    stamped_payment = rep_support.payment(eng, "1500.00")
    result = rep_support.issue(app, [stamped_payment])
    pending_payment = rep_support.payment(eng, "100.00")
    return {"invoices": [u for _n, _x, u in files], "payment_id": pending_payment, "stamped_payment": stamped_payment,
            "rep_uuid": result.uuid, "rfc": rep_support.ISSUER_RFC}
