"""Storage failures (issue 14): a full disk, a read-only database and an unreachable
PostgreSQL each have their own code and Spanish message (web, API and CLI), nothing is
half-saved, and ``/healthz`` says which one it is."""

from __future__ import annotations

import json
import shutil
import socket
import uuid
from pathlib import Path

import pytest
import rep_support
from web_support import FAST_HASH, PASSWORD, REAL_XML, csrf_of

from cfdi_cobranza.cli.main import main
from cfdi_cobranza.db import session as db_session
from cfdi_cobranza.db import storage_errors
from cfdi_cobranza.db.models import Document, Payment
from cfdi_cobranza.db.session import make_engine, transaction
from cfdi_cobranza.errors import StorageError
from cfdi_cobranza.services import health
from cfdi_cobranza.services import users as users_service
from web import create_app


def _config(app_config, url):
    return {**app_config, "DATABASE_URL": url}


def _token(engine, role="administrador"):
    with transaction(engine) as s:
        return {"Authorization": f"Bearer {users_service.create_token(s, f'api-{role}', role, created_by=users_service.CLI_CREATOR)[1]}"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(capsys, url, *argv):
    code = main(["--db", url, *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


# --------------------------------------------------------------------------- read-only SQLite


def test_read_only_sqlite(app, app_config, engine, capsys, count):
    headers = _token(engine)
    db_file = Path(app_config["DATABASE_URL"].removeprefix("sqlite:///"))
    ro_url = f"sqlite:///file:{db_file}?mode=ro&uri=true"
    ro_app = create_app(_config(app_config, ro_url))
    client = ro_app.test_client()
    try:
        resp = client.get("/healthz")
        assert resp.status_code == 503 and resp.json["code"] == "BASE_SOLO_LECTURA", resp.json
        # Signing in is refused with the reason, not an internal error.
        resp = client.post("/login", data={"username": "administrador", "password": PASSWORD,
                                           "csrf_token": csrf_of(client)})
        assert resp.status_code == 503 and b"BASE_SOLO_LECTURA" in resp.data and b"solo lectura" in resp.data
        body = {"customer": rep_support.CUSTOMER_RFC, "fecha_pago": "2026-11-10",
                "pagos": [{"forma_pago": "03", "moneda": "MXN", "monto": "10.00"}]}
        resp = client.post("/api/v1/payments", json=body, headers=headers)
        assert resp.status_code == 503 and resp.json["error"]["code"] == "BASE_SOLO_LECTURA", resp.json
    finally:
        ro_app.extensions["cobranza_engine"].dispose()
    code, data = _cli(capsys, ro_url, "import", str(REAL_XML))
    assert code == 1 and data["error"]["code"] == "BASE_SOLO_LECTURA", data
    # Reading still works: a report of a read-only copy is useful.
    code, data = _cli(capsys, ro_url, "report", "aging", "--as-of", "2026-11-20")
    assert code == 0 and "error" not in data, data
    assert count(Payment) == 0 and count(Document) == 0


# --------------------------------------------------------------------------- disk full (SQLite)


@pytest.fixture
def full_disk(monkeypatch):
    """Every new SQLite connection may not grow the file past its current size (SQLITE_FULL)."""
    original = db_session._sqlite_pragmas

    def pragmas(dbapi_conn, record):
        original(dbapi_conn, record)
        cur = dbapi_conn.cursor()
        if cur.execute("PRAGMA freelist_count").fetchone()[0]:
            cur.execute("VACUUM")  # migrations that rebuild tables leave free pages a write could reuse
        pages = cur.execute("PRAGMA page_count").fetchone()[0]
        cur.execute(f"PRAGMA max_page_count = {pages}")
        cur.close()

    monkeypatch.setattr(db_session, "_sqlite_pragmas", pragmas)


def test_full_disk_sqlite(app, app_config, engine, capsys, count, full_disk, tmp_path):
    headers = _token(engine)
    full_app = create_app(app_config)
    client = full_app.test_client()
    try:
        resp = client.post("/api/v1/cfdi", data=REAL_XML.read_bytes(), headers={**headers,
                                                                            "Content-Type": "application/xml"})
        # An import reports each file: this one was refused because the disk is full.
        assert resp.status_code == 200 and resp.json["summary"]["imported"] == 0, resp.json
        assert resp.json["results"][0]["code"] == "ALMACENAMIENTO_LLENO", resp.json
        assert "lleno" in resp.json["results"][0]["message"]
    finally:
        full_app.extensions["cobranza_engine"].dispose()
    code, data = _cli(capsys, app_config["DATABASE_URL"], "import", str(REAL_XML))
    assert data.get("error", {}).get("code") == "ALMACENAMIENTO_LLENO" or \
        data["results"][0]["code"] == "ALMACENAMIENTO_LLENO", data
    assert code == 1 and count(Document) == 0


def test_healthz_says_the_disk_is_full(client, monkeypatch):
    assert client.get("/healthz").json == {"estado": "ok", "code": "OK", "base": "sqlite",
                                           "message": "La base de datos responde y acepta escrituras."}
    monkeypatch.setattr(health.shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(10**9, 10**9, 4096))
    resp = client.get("/healthz")
    assert resp.status_code == 503 and resp.json["code"] == "ALMACENAMIENTO_LLENO"


# --------------------------------------------------------------------------- PostgreSQL


def test_postgresql_unreachable(app_config, capsys):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/cobranza?connect_timeout=3"
    down = create_app(_config(app_config, url))
    client = down.test_client()
    try:
        resp = client.get("/healthz")
        assert resp.status_code == 503 and resp.json["code"] == "BASE_NO_DISPONIBLE", resp.json
        resp = client.post("/login", data={"username": "administrador", "password": PASSWORD,
                                           "csrf_token": csrf_of(client)})
        assert resp.status_code == 503 and b"BASE_NO_DISPONIBLE" in resp.data
        resp = client.get("/api/v1/payments", headers={"Authorization": "Bearer x"})
        assert resp.status_code == 503 and resp.json["error"]["code"] == "BASE_NO_DISPONIBLE"
    finally:
        down.extensions["cobranza_engine"].dispose()
    code, data = _cli(capsys, url, "documents")
    assert code == 1 and data["error"]["code"] == "BASE_NO_DISPONIBLE", data


@pytest.mark.postgres
def test_postgresql_read_only(pg_url, app_config, tmp_path):
    """A server that takes no writes (a hot standby, default_transaction_read_only)."""
    username = f"ro-{uuid.uuid4().hex[:8]}"
    seed = make_engine(pg_url)
    with transaction(seed) as s:
        users_service.add_user(s, username, PASSWORD, "administrador", "RO", hash_method=FAST_HASH)
    seed.dispose()
    url = pg_url + "?options=-c%20default_transaction_read_only%3Don"
    ro = create_app(_config(app_config, url))
    client = ro.test_client()
    try:
        resp = client.get("/healthz")
        assert resp.status_code == 503 and resp.json["code"] == "BASE_SOLO_LECTURA", resp.json
        resp = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": csrf_of(client)})
        assert resp.status_code == 503 and b"BASE_SOLO_LECTURA" in resp.data
    finally:
        ro.extensions["cobranza_engine"].dispose()


# --------------------------------------------------------------------------- the one mapping


class _PgError(Exception):
    __module__ = "psycopg.errors"

    def __init__(self, sqlstate):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("exc", "code"), [
    (_PgError("53100"), "ALMACENAMIENTO_LLENO"), (_PgError("25006"), "BASE_SOLO_LECTURA"),
    (_PgError("08006"), "BASE_NO_DISPONIBLE"), (_PgError("57P03"), "BASE_NO_DISPONIBLE"),
    (_PgError("23505"), None), (OSError(28, "No space left on device"), "ALMACENAMIENTO_LLENO"),
    (OSError(2, "missing"), None), (ValueError("x"), None),
])
def test_storage_codes(exc, code):
    assert storage_errors.storage_code(exc) == code
    found = storage_errors.storage_error(exc)
    assert (found is None) if code is None else (isinstance(found, StorageError) and found.code == code)
