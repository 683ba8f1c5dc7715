"""A database session per request on one connection, closed (and rolled back if uncommitted) at teardown."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.session import session_factory


def engine() -> Engine:
    eng: Engine = current_app.extensions["cobranza_engine"]
    return eng


def settings() -> Settings:
    value: Settings = current_app.config["COBRANZA_SETTINGS"]
    return value


def get_session() -> Session:
    """The request's session, bound to one pooled connection for the whole request.

    The sign-in check commits its read at once (see ``security._before``); bound to an
    engine, the session would then return the connection to the pool and check one out
    again for the view, paying the pool's pre-ping round trip twice per request. Bound
    to the request's connection it reuses it; transactions are the same as before (each
    ``commit`` ends one, the next statement begins another).
    """
    if "db" not in g:
        conn = engine().connect()
        g.db_conn = conn
        g.db = session_factory(engine())(bind=conn)
    session: Session = g.db
    return session


def _close(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db", None)
    conn: Connection | None = g.pop("db_conn", None)
    try:
        if session is not None:
            session.close()  # rolls back whatever the view did not commit
    finally:
        if conn is not None:
            conn.close()  # back to the pool (rolled back if anything is still open)


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
