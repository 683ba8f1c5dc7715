"""Database failures that are not bugs, told apart in one place for SQLite and PostgreSQL.

A full disk, a read-only database and an unreachable server each become a
``StorageError`` with its own code and a Spanish message, instead of an internal error:
``install(engine)`` (called by ``make_engine``) hooks SQLAlchemy's ``handle_error`` so
every statement, connect and commit of every entry point goes through ``storage_error``.
"""

from __future__ import annotations

import errno
from typing import Any

from sqlalchemy import Engine, event

from cfdi_cobranza.errors import StorageError

FULL = "ALMACENAMIENTO_LLENO"
READ_ONLY = "BASE_SOLO_LECTURA"
UNAVAILABLE = "BASE_NO_DISPONIBLE"

MESSAGES = {
    FULL: "El disco donde está la base de datos está lleno; no se guardó nada de esta operación. "
          "Libere espacio (o pida al administrador que lo haga) e inténtelo de nuevo.",
    READ_ONLY: "La base de datos está en modo de solo lectura; se puede consultar, pero no se guardó nada "
               "de esta operación. Pida al administrador que revise los permisos del archivo o del servidor.",
    UNAVAILABLE: "No se puede conectar con la base de datos; no se guardó nada de esta operación. "
                 "Inténtelo en unos minutos o avise al administrador.",
}

# SQLite primary result codes (the extended code's low byte).
_SQLITE = {13: FULL, 8: READ_ONLY, 14: UNAVAILABLE}
# PostgreSQL SQLSTATE: 53100 disk_full, 25006 read_only_sql_transaction, class 08
# connection exceptions, 57P01-57P03 shutdown / cannot connect now, 53300 too many connections.
_PG = {"53100": FULL, "25006": READ_ONLY, "57P01": UNAVAILABLE, "57P02": UNAVAILABLE, "57P03": UNAVAILABLE,
       "53300": UNAVAILABLE}


def storage_code(exc: BaseException | None) -> str | None:
    """``FULL``, ``READ_ONLY``, ``UNAVAILABLE`` or ``None`` (not a storage failure) for a DBAPI
    exception (or the ``OSError`` of a full disk)."""
    if exc is None:
        return None
    if isinstance(exc, StorageError):
        return exc.code
    if isinstance(exc, OSError):
        return FULL if exc.errno in (errno.ENOSPC, errno.EDQUOT) else None
    sqlite_code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return _SQLITE.get(sqlite_code & 0xFF)
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        return _PG.get(sqlstate) or (UNAVAILABLE if sqlstate.startswith("08") else None)
    if type(exc).__module__.startswith("psycopg") and type(exc).__name__ == "OperationalError":
        return UNAVAILABLE  # no SQLSTATE: the server never answered (refused, timed out, gone)
    return None


def storage_error(exc: BaseException | None) -> StorageError | None:
    code = storage_code(exc)
    return StorageError(MESSAGES[code], code=code) if code else None


def _translate(context: Any) -> StorageError | None:
    if context.is_pre_ping:
        return None  # the pool is testing a pooled connection: let it reconnect
    found = storage_error(context.original_exception)
    if found is not None and context.sqlalchemy_exception is not None:
        found.__cause__ = context.sqlalchemy_exception
    return found


def install(engine: Engine) -> None:
    """Turn the engine's storage failures into ``StorageError`` (idempotent)."""
    if not event.contains(engine, "handle_error", _translate):
        event.listen(engine, "handle_error", _translate)
