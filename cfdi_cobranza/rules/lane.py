"""The validator in a worker process, for a batch of REPs being built.

Issuing a month-end run builds, signs and validates each REP before its chunk is saved.
Validating (XSD, catalogs, the ~110 CRP rules) is about a third of that work, and it
needs nothing but the signed bytes: ``ValidationLane`` runs it in a process forked from
this one while this one builds the next REP. Its verdicts come back in the order the
REPs were sent, and the chunk is saved only once every verdict is in, so nothing that
fails validation is ever saved or sent (``services.stamping`` rebuilds what follows a
refused REP, which had taken a folio too early).

The worker validates the very bytes that are saved and sent to the PAC, parsed again
with the validator's strict parser.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import datetime
from typing import Any

from cfdi_cobranza.cfdi.validator import INTERNAL_CODE, errors_only, validate_rep
from cfdi_cobranza.domain.findings import Finding, Severity
from cfdi_cobranza.workers import ANSWER_TIMEOUT_S, ForkedWorker, can_fork, messages

log = logging.getLogger(__name__)

_Verdict = list[tuple[str, str, str, str]]  # ERROR findings as (code, severity, message, location)


class ValidationLane:
    """A forked process that validates the signed REPs it receives, in order.

    REPs go to the worker ``BATCH`` at a time (and the rest at ``collect``), and come back
    as one list of verdicts per batch: each write to the pipe wakes the other process,
    which costs this one about as much CPU as building a small part of a REP.
    """

    BATCH = 4

    def __init__(self) -> None:
        self._worker = ForkedWorker(_main, name="rep-validator")
        self._conn = self._worker.conn
        self._pending = 0  # REPs sent (or queued) whose verdict has not been collected
        self._queued: list[tuple[bytes, datetime]] = []
        self.alive = True  # False once the worker is found gone: callers validate inline
        self._ready: list[_Verdict] = []

    def submit(self, xml: bytes, now: datetime) -> None:
        """Queue ``xml`` for validation as of ``now``; its verdict comes with ``collect``."""
        self._queued.append((xml, now))
        self._pending += 1
        if len(self._queued) >= self.BATCH:
            self._flush()
            # Verdicts already back are taken now, so the worker never waits on a full pipe.
            with suppress(EOFError, OSError):
                while len(self._ready) < self._pending and self._conn.poll():
                    self._ready.extend(self._conn.recv())

    def _flush(self) -> None:
        if self._queued:
            with suppress(OSError):  # the worker is gone: ``collect`` reports these as not validated
                self._conn.send(self._queued)
            self._queued = []

    def collect(self) -> list[list[Finding] | None]:
        """The ERROR findings of each REP submitted since the last call, in order; None
        for a REP the worker did not judge because it is gone (the caller validates it)."""
        self._flush()
        verdicts: list[_Verdict | None] = list(self._ready)
        self._ready = []
        while len(verdicts) < self._pending:
            try:
                if not self._conn.poll(ANSWER_TIMEOUT_S):
                    raise TimeoutError("the REP validator worker does not answer")
                verdicts.extend(self._conn.recv())
            except (EOFError, OSError):  # TimeoutError is an OSError
                log.warning("the REP validator worker is gone; validating inline")
                self.alive = False
                verdicts.extend([None] * (self._pending - len(verdicts)))
        self._pending = 0
        return [None if verdict is None else
                [Finding(code, message, location, Severity(sev)) for code, sev, message, location in verdict]
                for verdict in verdicts]

    def close(self) -> None:
        self._worker.close()


def open_validation_lane() -> ValidationLane | None:
    """A ``ValidationLane`` where one can be forked safely (POSIX, and this process runs a
    single thread, so no other thread holds a lock the child would inherit); else None,
    and the caller validates inline."""
    return ValidationLane() if can_fork() else None


def _verdict(xml: bytes, now: datetime) -> _Verdict:
    try:
        found = errors_only(validate_rep(xml, now=now))
    except Exception:  # validate_rep reports problems as findings; this is a bug
        log.exception("the validator worker failed")
        found = [Finding(INTERNAL_CODE, "No fue posible validar el REP.", "/")]
    return [(f.code, f.severity.value, f.message, f.location or "/") for f in found]


def _main(conn: Any) -> None:
    for batch in messages(conn):
        try:
            conn.send([_verdict(xml, now) for xml, now in batch])
        except OSError:  # the parent went away
            return
