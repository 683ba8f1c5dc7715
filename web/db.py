"""A database session per request, closed (and rolled back if uncommitted) at teardown."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import Engine
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
    if "db" not in g:
        g.db = session_factory(engine())()
    session: Session = g.db
    return session


def _close(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.close()  # rolls back whatever the view did not commit


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
