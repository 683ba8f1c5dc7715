"""A per-process cache of aggregate reads, valid for one ledger version.

The Tablero, the aging report and the count of the document list read the whole
portfolio (tens of milliseconds each at 100,000 documents). Nothing they show can change
without the ledger version changing: database triggers bump ``ledger_version`` in the
same transaction as any write to the tables they read
(``cfdi_cobranza/db/models/ledger_version.py``). So each gunicorn worker keeps results
keyed by ``(name, arguments, database, generation, version)`` and recomputes only when
the version moves.

Correctness: a result must never be stored under a version older than the data it was
computed from would allow, nor under one a concurrent writer then commits. The writer's
data and its version bump commit atomically (one transaction), so:

1. read the version ``v1``;
2. compute (one or several statements; under READ COMMITTED each may see a newer snapshot);
3. read the version ``v2`` (same session and transaction);
4. store only if ``v1 == v2``.

If any statement in step 2 saw a commit that happened after step 1, that commit's bump is
visible to step 3 (visibility is monotonic in the session), so ``v2 != v1`` and nothing is
stored (the result is still returned: it is a correct, just newer, read). If they agree, no
write to a tracked table committed in between, and every statement saw exactly the
committed state of version ``v1``. On SQLite every transaction runs under ``BEGIN
IMMEDIATE`` (one writer at a time), so both reads always agree; on PostgreSQL the check
is what makes it safe without REPEATABLE READ. A hit costs one primary-key read.

When the row is missing (a database emptied with TRUNCATE/DELETE before its first write)
nothing is cached. The ``generation`` (random, new whenever the row is recreated) and a
per-engine token keep versions of different databases, or of an emptied and refilled
one, from ever sharing a key.

Cached values are shared between requests of the worker: callers must treat them as
read-only (the dataclasses here are not mutated by the views that use them).
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models.ledger_version import LEDGER_VERSION_ID, LedgerVersion
from cfdi_cobranza.db.scope import company_ids
from cfdi_cobranza.services.rates import rates_marker

T = TypeVar("T")

MAX_ENTRIES = 32  # per worker; results of older ledger versions are dropped as soon as a newer one is stored

_tokens: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()
_counter = itertools.count(1)
_token_lock = threading.Lock()


def _engine_token(session: Session) -> int:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _token_lock:
        token = _tokens.get(engine)
        if token is None:
            token = _tokens[engine] = next(_counter)
        return token


def ledger_version(session: Session) -> tuple[int, int] | None:
    """``(generation, version)`` of the ledger as this session's transaction sees it."""
    row = session.execute(
        select(LedgerVersion.generation, LedgerVersion.version).where(LedgerVersion.id == LEDGER_VERSION_ID)
    ).first()
    return None if row is None else (int(row[0]), int(row[1]))


def _older(version: tuple[int, int], than: tuple[int, int]) -> bool:
    return version[0] != than[0] or version[1] < than[1]


class VersionedCache:
    """Results keyed by (name, args, database, ledger version); bounded, least recently used out."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, session: Session, name: str, args: Hashable, compute: Callable[[], T]) -> T:
        before = ledger_version(session)
        if before is None:
            return compute()
        # A session limited to some companies sees other results than an unlimited one; the
        # stored exchange rates (not a ledger table: no version bump) convert the MXN views.
        key = (name, (args, company_ids(session), rates_marker(session)), _engine_token(session), before)
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                value: T = self._data[key]
                return value
            self.misses += 1
        value = compute()
        if ledger_version(session) == before:
            with self._lock:
                # Results of older versions of this database can never be hit again.
                for old in [k for k in self._data if k[2] == key[2] and _older(k[3], before)]:
                    del self._data[old]
                self._data[key] = value
                self._data.move_to_end(key)
                while len(self._data) > self.max_entries:
                    self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


cache = VersionedCache()


def cached(session: Session, name: str, args: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, or its result for the same name and args at this ledger version."""
    return cache.get_or_compute(session, name, args, compute)
