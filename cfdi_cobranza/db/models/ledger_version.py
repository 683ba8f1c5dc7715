"""The ledger version: one row whose number changes whenever balances or reports may change.

Readers that aggregate the whole portfolio (the Tablero, the aging report, the count of
the document list) cache their result per process keyed by this number, and reuse it
until it moves (see ``web/cache.py``). It is kept by **database triggers** installed by
migration 0007 on every table in :data:`TRACKED_TABLES`, so no code path (web, CLI,
importer, a raw SQL fix) can change a balance without changing the version.

How it is bumped:

* **PostgreSQL**: a row-level ``CONSTRAINT TRIGGER ... DEFERRABLE INITIALLY DEFERRED``.
  Deferred triggers run at ``COMMIT``, and the function bumps the row at most once per
  transaction (a transaction-local flag, ``cobranza.ledger_bumped``). Bumping at commit,
  not at the first write, matters for writers: the row lock on ``ledger_version`` is
  taken as the *last* lock of the transaction and held only for the commit itself, so
  writers are not serialised over their whole transaction (payment applications, imports)
  and no deadlock can arise between the version row and the ``SELECT ... FOR UPDATE``
  document locks a writer takes afterwards. A bulk insert queues one cheap event per row
  (the function returns at once after the first). ``TRUNCATE`` of a tracked table bumps
  too (a statement trigger).
* **SQLite**: row-level ``AFTER INSERT/UPDATE/DELETE`` triggers (SQLite has no statement
  triggers). Writers are serialised by ``BEGIN IMMEDIATE`` anyway, so the single row adds
  no contention; the cost is one update of a hot page per written row.

The bump is an upsert: if the row is missing (a ``TRUNCATE``/``DELETE`` of every table,
as the test fixtures do) it is recreated with a new random ``generation``; readers key
their caches by ``(generation, version)`` so a recreated row never matches an old key.

Consistency: the bump is part of the writer's transaction, so a reader sees a writer's
data and its new version together or neither. ``web.cache`` reads the version before and
after computing and only caches when both reads agree (see its docstring).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from cfdi_cobranza.db.models.base import Base

LEDGER_VERSION_ID = 1

# Every table the cached reads depend on: balances (document, credit), their sources
# (payment, external_payment), names and groupings (customer, company, credit_condition,
# sale_assignment), promises and tasks (follow_up*), and the default aging buckets.
TRACKED_TABLES = (
    "company",
    "customer",
    "document",
    "credit",
    "payment",
    "external_payment",
    "credit_condition",
    "sale_assignment",
    "follow_up",
    "follow_up_document",
    "follow_up_closure",
    "follow_up_type",
    "aging_setting",
)


class LedgerVersion(Base):
    """One row (id 1). Written only by the triggers of migration 0007."""

    __tablename__ = "ledger_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)
    generation: Mapped[int] = mapped_column(BigInteger)
