"""The statements that PostgreSQL and SQLite write differently, behind one function each.

Services build every other statement with SQLAlchemy, the same for both databases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement


def insert_if_missing(session: Session, model: Any, values: Mapping[str, Any], key: Sequence[str]) -> None:
    """Insert ``values`` into ``model``'s table unless a row with the same ``key`` columns
    exists (``INSERT ... ON CONFLICT DO NOTHING``): no race between two workers."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing(index_elements=list(key)))


def query_plan(session: Session, stmt: ClauseElement) -> list[str]:
    """The database's plan for ``stmt``, one line per row of ``EXPLAIN`` (PostgreSQL) or
    ``EXPLAIN QUERY PLAN`` (SQLite)."""
    dialect = session.get_bind().dialect
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN "
    return [" ".join(str(c) for c in row) for row in session.execute(text(prefix + str(compiled)))]
