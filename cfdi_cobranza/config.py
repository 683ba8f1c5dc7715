"""Configuration from ``COBRANZA_*`` environment variables and the instance folder.

- ``COBRANZA_DATABASE_URL`` (or ``--db``): SQLAlchemy URL; default a SQLite file
  ``cobranza.db`` in the working directory.
- ``COBRANZA_INSTANCE``: folder for local state (sandbox PAC certificate, secret key);
  default ``./instance``.
- ``COBRANZA_DEFAULT_CREDIT_DAYS``: credit term when a customer has none (30).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str
    instance_path: Path
    default_credit_days: int = 30
    rep_deadline_day: int = 5

    @classmethod
    def from_env(cls, database_url: str | None = None) -> Settings:
        url = database_url or os.environ.get("COBRANZA_DATABASE_URL") or "sqlite:///cobranza.db"
        instance = Path(os.environ.get("COBRANZA_INSTANCE", "instance")).resolve()
        days = int(os.environ.get("COBRANZA_DEFAULT_CREDIT_DAYS", "30"))
        deadline = int(os.environ.get("COBRANZA_REP_DEADLINE_DAY", "5"))
        return cls(
            database_url=normalize_url(url),
            instance_path=instance,
            default_credit_days=days,
            rep_deadline_day=deadline,
        )


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
