"""Engines, sessions and schema migration (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

# Registers the listener that keeps a session limited to some companies inside them.
import cfdi_cobranza.db.scope  # noqa: F401
from cfdi_cobranza.config import normalize_url
from cfdi_cobranza.db import storage_errors
from cfdi_cobranza.errors import ConfigurationError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock at BEGIN so read-then-write (balance checks) is serialised.
    # A read-only file cannot take it: read with a plain BEGIN, and a write is refused
    # as BASE_SOLO_LECTURA (db/storage_errors.py) instead of every read failing too.
    conn.exec_driver_sql("BEGIN" if _sqlite_read_only(conn.engine.url) else "BEGIN IMMEDIATE")


def _sqlite_read_only(url: Any) -> bool:
    """Opened with ``?mode=ro``, or a file this process may not write (checked each time:
    permissions can change while the server runs)."""
    if url.query.get("mode") == "ro":
        return True
    database = str(url.database or "")
    path = database.removeprefix("file:").split("?", 1)[0]
    return bool(path) and path != ":memory:" and os.path.exists(path) and not os.access(path, os.W_OK)


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, **kwargs)
            event.listen(engine, "connect", _sqlite_pragmas)

            @event.listens_for(engine, "connect")
            def _no_pysqlite_begin(dbapi_conn: Any, _rec: Any) -> None:
                dbapi_conn.isolation_level = None

            event.listen(engine, "begin", _sqlite_begin)
            storage_errors.install(engine)
            return engine
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
        storage_errors.install(engine)
        return engine
    except Exception as exc:  # bad URL, missing driver
        raise ConfigurationError(
            f"No se puede usar la base de datos «{url.split('@')[-1]}»: {exc}", code="BD_URL_INVALIDA"
        ) from exc


@cache
def engine_for(url: str) -> Engine:
    return make_engine(url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error."""
    with session_factory(engine)() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Any:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> list[str]:
    """Bring the schema to the newest revision; idempotent. Returns the applied heads."""
    command.upgrade(alembic_config(engine), "heads")
    with engine.connect() as conn:
        heads = sorted(MigrationContext.configure(conn).get_current_heads())
        if conn.dialect.name == "sqlite":
            # Without statistics SQLite's planner can pick a weak index (ix_document_tipo)
            # for per-customer reports; optimize gathers them when they are stale.
            conn.exec_driver_sql("PRAGMA optimize")
        return heads


def require_current_schema(engine: Engine) -> None:
    """Refuse, in Spanish, a database whose schema is not at the newest revision (or is empty).

    Only ``cobranza init`` and ``serve`` migrate; every other command reads through this
    check, so an update never changes the schema behind the user's back. A SQLite file
    that does not exist is not created.
    """
    current: set[str] = set()
    database = engine.url.database or ":memory:"
    if database.startswith("file:"):  # a URI filename (``?mode=ro&uri=true``): the path before the query
        database = database.removeprefix("file:").split("?", 1)[0]
    if engine.dialect.name != "sqlite" or database == ":memory:" or Path(database).exists():
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    if current != set(ScriptDirectory.from_config(alembic_config(engine)).get_heads()):
        raise ConfigurationError(
            "La base de datos está vacía o no está al día con esta versión. "
            "Ejecute «cobranza init» para crearla o actualizarla.", code="BD_SIN_ACTUALIZAR")
