"""Is the database usable? The answer of ``/healthz`` and ``cobranza health``.

Three live probes, in order, each naming what fails with the codes of
``db.storage_errors``: a connection and ``SELECT 1`` (``BASE_NO_DISPONIBLE``), a write
that changes nothing and is rolled back (``BASE_SOLO_LECTURA``), and the free space of
the disk that holds a SQLite file (``ALMACENAMIENTO_LLENO`` below ``MIN_FREE_BYTES``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from cfdi_cobranza.db import storage_errors
from cfdi_cobranza.errors import StorageError

MIN_FREE_BYTES = 16 * 1024 * 1024  # below this a SQLite write (page, WAL, journal) may not fit


@dataclass(frozen=True)
class Health:
    ok: bool
    code: str  # "OK" or one of the storage codes
    message: str
    database: str  # "sqlite" or "postgresql"

    def to_dict(self) -> dict[str, Any]:
        return {"estado": "ok" if self.ok else "error", "code": self.code, "message": self.message,
                "base": self.database}


def _failed(exc: BaseException, database: str) -> Health:
    found = exc if isinstance(exc, StorageError) else storage_errors.storage_error(exc)
    if found is None:
        found = StorageError(storage_errors.MESSAGES[storage_errors.UNAVAILABLE], code=storage_errors.UNAVAILABLE)
    return Health(False, found.code, found.message, database)


def check(engine: Engine, *, min_free_bytes: int = MIN_FREE_BYTES) -> Health:
    """Probe ``engine``; never raises for a storage failure."""
    database = engine.dialect.name
    try:
        with engine.connect() as conn:
            try:
                conn.execute(text("SELECT 1"))
                # A real write of the row that is there anyway: refused by a read-only file,
                # a read-only transaction default or a hot standby; never committed.
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            finally:
                conn.rollback()
    except Exception as exc:  # every failure is reported, none raised: this is the health check
        return _failed(exc, database)
    path = engine.url.database if database == "sqlite" else None
    if path and path != ":memory:" and not path.startswith("file:"):
        free = shutil.disk_usage(Path(path).resolve().parent).free
        if free < min_free_bytes:
            return Health(False, storage_errors.FULL, storage_errors.MESSAGES[storage_errors.FULL], database)
    return Health(True, "OK", "La base de datos responde y acepta escrituras.", database)
