"""One run at a time: a named lock for the commands cron starts (``sat status``, ``rates update``...).

PostgreSQL: a session advisory lock (``pg_try_advisory_lock``), held by one connection for
the run, so runs on different hosts exclude each other. SQLite: an exclusive ``flock``
on a file beside the database (one host by nature). Never waits: a second run is refused
at once with ``EJECUCION_EN_CURSO``; the lock goes with the process if it dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from cfdi_cobranza.errors import ConflictError


def _refuse(name: str) -> ConflictError:
    return ConflictError(f"Ya hay otra ejecución de «{name}» en curso; intente cuando termine.",
                         code="EJECUCION_EN_CURSO")


@contextmanager
def run_lock(engine: Engine, name: str) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"cobranza:{name}".encode()).digest()[:8], "big", signed=True)
        with engine.connect() as conn:
            if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                raise _refuse(name)
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    database = engine.url.database
    base = Path(database) if database and database != ":memory:" else Path(tempfile.gettempdir()) / "cobranza"
    path = base.with_name(f"{base.name}.{name.replace(' ', '-')}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise _refuse(name) from exc
        yield
    finally:
        os.close(fd)
