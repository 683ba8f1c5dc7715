"""Background jobs: a durable record in the ledger database, run by any number of workers.

The ``job`` table is the source of truth (``cobranza jobs list``, the Jobs page). A
queue carries only a job's id: Celery over Redis or RabbitMQ in production
(``worker.broker``), or, with no broker configured, the table itself polled by
the worker thread of ``cobranza serve`` / ``cobranza worker`` / ``jobs run --until-empty``
(``worker.embedded``). Either way a job runs through ``run_job``:

- ``enqueue`` writes the row in the caller's transaction (the work and its job commit
  together, or neither does) under a unique ``key``: asking twice returns the first job.
  Once that transaction commits the id is published to the queue.
- ``claim`` moves the row to ``running`` with a lease, in one conditional UPDATE: a
  message delivered twice finds the job running (or done) and does nothing; a job whose
  worker died is claimed again once its lease ran out (the lease is renewed while the
  job runs).
- the job's handler (``registry``) must be idempotent: re-run after a crash it finds
  what the first run did (a REP already in flight is recovered with its idempotency
  key by the stamping services, never stamped again).
- a transient failure (``RetryLater``, a PAC that cannot be reached) puts the job back
  in the queue after ``domain.jobs.retry_delay``; a refusal, or the last attempt, marks
  it ``failed`` with its code and message, and ``retry`` queues it again.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models.jobs import Job
from cfdi_cobranza.db.session import session_factory, transaction
from cfdi_cobranza.domain.jobs import JOB_STATE_LABELS, JobState, retry_delay
from cfdi_cobranza.errors import CobranzaError, ConflictError, NotFoundError, PacError
from cfdi_cobranza.services.clock import Clock, system_clock

if TYPE_CHECKING:
    from cfdi_cobranza.services.stamping import Stamper

log = logging.getLogger(__name__)

LEASE_SECONDS = int(os.environ.get("COBRANZA_JOB_LEASE", "60"))
TRANSIENT_PAC_CODES = {"PAC_NO_DISPONIBLE", "PAC_SIN_RESPUESTA", "PAC_RESPUESTA_INVALIDA", "PAC_LIMITE"}


class RetryLater(CobranzaError):
    """A job that could not finish now and should run again later (nothing lost)."""

    code = "REINTENTAR"


# --------------------------------------------------------------------------- registry


@dataclass
class Runtime:
    """What a worker runs jobs with: the database and how to build a REP stamper."""

    engine: Engine
    instance_path: Path | None = None
    clock: Clock = system_clock
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    lease_seconds: int = LEASE_SECONDS
    stamper_factory: Callable[[], Stamper] | None = None
    # Renews a running job's lease while its handler works (a slow PAC is not a dead
    # worker): the worker process provides it (``cfdi_cobranza.worker.lease``); a short
    # in-process run needs none.
    keep_lease: Callable[[Runtime, int], AbstractContextManager[object]] | None = None
    _stampers: dict[int, Stamper] = field(default_factory=dict, repr=False)

    def stamper(self) -> Stamper:
        """One Stamper per worker thread (it caches opened CSDs), built from the PAC
        configured for the instance unless ``stamper_factory`` says otherwise."""
        if self.stamper_factory is not None:
            return self.stamper_factory()
        thread = threading.get_ident()
        if thread not in self._stampers:
            from cfdi_cobranza.services.jobs.rep import (
                default_stamper,  # stamping: only for jobs that stamp
            )

            self._stampers[thread] = default_stamper(self)
        return self._stampers[thread]


@dataclass
class JobContext:
    """Handed to a job's handler: its id, the runtime, and progress reporting."""

    job_id: int
    runtime: Runtime
    args: dict[str, Any]

    def progress(self, done: int, total: int | None = None) -> None:
        """Record progress (shown as a bar) and renew the lease."""
        now = self.runtime.clock()
        values: dict[str, Any] = {"progress_done": done,
                                  "lease_until": now + timedelta(seconds=self.runtime.lease_seconds)}
        if total is not None:
            values["progress_total"] = total
        with transaction(self.runtime.engine) as session:
            session.execute(update(Job).where(Job.id == self.job_id).values(**values))


Handler = Callable[[JobContext], Mapping[str, Any] | None]


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str
    handler: Handler
    max_attempts: int = 5


registry: dict[str, JobKind] = {}


def job_kind(name: str, label: str, *, max_attempts: int = 5) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the job kind ``name`` (an idempotent function of its args)."""
    def wrap(handler: Handler) -> Handler:
        registry[name] = JobKind(name, label, handler, max_attempts)
        return handler
    return wrap


# --------------------------------------------------------------------------- publishing

Publisher = Callable[[Sequence[int]], None]
_publisher: Publisher | None = None


def set_publisher(publisher: Publisher | None) -> Publisher | None:
    """Where committed job ids go (Celery's queue, or the embedded worker's wake-up);
    returns the previous one. None: they wait in the table for a poller."""
    global _publisher
    previous, _publisher = _publisher, publisher
    return previous


def publish(ids: Sequence[int]) -> None:
    if _publisher is not None and ids:
        try:
            _publisher(list(ids))
        except Exception:  # the broker is down: the row stays queued and the sweep publishes it
            log.exception("could not publish jobs %s", list(ids))


def _after_commit(session: Session) -> None:
    # Also called when a SAVEPOINT is released (``enqueue`` takes one): only the outer
    # commit makes the rows visible to a worker.
    if session.in_nested_transaction():
        return
    ids = session.info.pop("jobs_to_publish", [])
    publish(ids)


def _after_rollback(session: Session, previous: Any) -> None:
    if not previous.nested:  # a SAVEPOINT rolled back leaves the outer transaction's jobs
        session.info.pop("jobs_to_publish", None)


def _listen(session: Session) -> None:
    from sqlalchemy import event  # listeners on this session only

    if not event.contains(session, "after_commit", _after_commit):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_soft_rollback", _after_rollback)


# --------------------------------------------------------------------------- enqueue


def enqueue(session: Session, kind: str, args: Mapping[str, Any], *, key: str | None = None,
            label: str | None = None, actor: str = "sistema", clock: Clock = system_clock,
            run_after: datetime | None = None) -> Job:
    """Queue ``kind(args)`` in the caller's transaction; published once it commits.
    The same ``key`` twice returns the first job (whatever its state)."""
    if kind not in registry:
        _load_kinds()
    if kind not in registry:
        raise NotFoundError(f"No existe el tipo de tarea «{kind}».", code="TAREA_TIPO_DESCONOCIDO")
    spec = registry[kind]
    key = key or f"{kind}:{json.dumps(args, sort_keys=True, default=str)}"
    existing = session.scalar(select(Job).where(Job.key == key))
    if existing is not None:
        return existing
    job = Job(kind=kind, args=json.dumps(dict(args), sort_keys=True, default=str), key=key[:200],
              label=(label or spec.label)[:300], state=JobState.QUEUED, progress_done=0, attempts=0,
              max_attempts=spec.max_attempts, created_by=actor, created_at=clock(), run_after=run_after,
              published_at=clock())
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:  # the same key queued by a concurrent transaction: that one
        found = session.scalar(select(Job).where(Job.key == key))
        if found is None:
            raise
        return found
    _listen(session)
    session.info.setdefault("jobs_to_publish", []).append(job.id)
    return job


def _load_kinds() -> None:
    """The job kinds of this package, registered on first use."""
    from cfdi_cobranza.services.jobs import (
        rep,  # noqa: F401  (registers the REP kinds)
        scheduled,  # noqa: F401  (email, SAT, Banxico)
    )


# --------------------------------------------------------------------------- running


def _claimable(now: datetime) -> Any:
    return or_(and_(Job.state == JobState.QUEUED, or_(Job.run_after.is_(None), Job.run_after <= now)),
               and_(Job.state == JobState.RUNNING, Job.lease_until < now))


def claim(runtime: Runtime, job_id: int) -> bool:
    """Take ``job_id`` for this worker if it is queued and due, or its lease ran out."""
    now = runtime.clock()
    with transaction(runtime.engine) as session:
        taken = session.execute(
            update(Job).where(Job.id == job_id, _claimable(now))
            .values(state=JobState.RUNNING, attempts=Job.attempts + 1, worker=runtime.worker[:120],
                    lease_until=now + timedelta(seconds=runtime.lease_seconds), started_at=now,
                    error_code=None, error_message=None))
    return bool(getattr(taken, "rowcount", 0))


def next_claimable(runtime: Runtime) -> int | None:
    """The oldest job this worker could claim now (not claimed yet)."""
    with session_factory(runtime.engine)() as session:
        return session.scalar(select(Job.id).where(_claimable(runtime.clock())).order_by(Job.id).limit(1))


def run_job(runtime: Runtime, job_id: int) -> str | None:
    """Claim and run one job; its final state, or None when it was not ours to run
    (already running elsewhere, done, failed, or not due yet)."""
    if not claim(runtime, job_id):
        return None
    with session_factory(runtime.engine)() as session:
        job = session.get(Job, job_id)
        assert job is not None
        kind, args, attempts, max_attempts = job.kind, json.loads(job.args), job.attempts, job.max_attempts
    if kind not in registry:
        _load_kinds()
    spec = registry.get(kind)
    result: Mapping[str, Any] | None = None
    error: CobranzaError | None = None
    transient = False
    try:
        if spec is None:
            raise NotFoundError(f"No existe el tipo de tarea «{kind}».", code="TAREA_TIPO_DESCONOCIDO")
        with runtime.keep_lease(runtime, job_id) if runtime.keep_lease is not None else nullcontext():
            result = spec.handler(JobContext(job_id, runtime, args))
    except RetryLater as exc:
        error, transient = exc, True
    except PacError as exc:
        error, transient = exc, exc.code in TRANSIENT_PAC_CODES
    except CobranzaError as exc:
        error = exc
    except Exception as exc:  # a bug or the database away: retried, then failed with the reason
        log.exception("job %s (%s) failed", job_id, kind)
        error, transient = CobranzaError(f"Error interno inesperado ({type(exc).__name__}: {exc}).",
                                         code="ERROR_INTERNO"), True
    return _finish(runtime, job_id, result, error, transient and attempts < max_attempts, attempts)


def _finish(runtime: Runtime, job_id: int, result: Mapping[str, Any] | None, error: CobranzaError | None,
            again: bool, attempts: int) -> str:
    now = runtime.clock()
    values: dict[str, Any] = {"lease_until": None, "finished_at": now}
    if error is None:
        values.update(state=JobState.DONE, result=json.dumps(dict(result or {}), default=str, ensure_ascii=False))
    else:
        values.update(error_code=error.code[:60], error_message=error.message)
        if again:
            values.update(state=JobState.QUEUED, run_after=now + timedelta(seconds=retry_delay(attempts)),
                          finished_at=None)
        else:
            values.update(state=JobState.FAILED)
        if result is not None:
            values["result"] = json.dumps(dict(result), default=str, ensure_ascii=False)
    with transaction(runtime.engine) as session:
        session.execute(update(Job).where(Job.id == job_id, Job.worker == runtime.worker[:120],
                                          Job.state == JobState.RUNNING).values(**values))
    return str(values["state"])


def run_until_empty(runtime: Runtime, *, limit: int | None = None) -> list[tuple[int, str]]:
    """Run, in this process, every job that is due now (and those its jobs queue), oldest
    first; the job ids and their final states."""
    out: list[tuple[int, str]] = []
    seen: dict[int, int] = {}
    while limit is None or len(out) < limit:
        job_id = next_claimable(runtime)
        if job_id is None:
            break
        seen[job_id] = seen.get(job_id, 0) + 1
        state = run_job(runtime, job_id)
        if state is not None:
            out.append((job_id, state))
    return out


# --------------------------------------------------------------------------- reading and retrying


@dataclass(frozen=True)
class JobRow:
    id: int
    kind: str
    label: str
    state: str
    progress_done: int
    progress_total: int | None
    attempts: int
    error_code: str | None
    error_message: str | None
    result: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    run_after: datetime | None
    key: str
    args: dict[str, Any]

    @property
    def state_label(self) -> str:
        return JOB_STATE_LABELS.get(JobState(self.state), self.state)

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return 100 if self.state == JobState.DONE else None
        return min(100, round(100 * self.progress_done / self.progress_total))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "state": self.state,
                "progress": {"done": self.progress_done, "total": self.progress_total},
                "attempts": self.attempts,
                "error": {"code": self.error_code, "message": self.error_message} if self.error_code else None,
                "result": self.result, "key": self.key, "args": self.args,
                "created_at": self.created_at.isoformat(),
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "run_after": self.run_after.isoformat() if self.run_after else None}


def _row(job: Job) -> JobRow:
    return JobRow(job.id, job.kind, job.label or job.kind, job.state, job.progress_done, job.progress_total,
                  job.attempts, job.error_code, job.error_message, json.loads(job.result) if job.result else None,
                  job.created_at, job.started_at, job.finished_at, job.run_after, job.key, json.loads(job.args))


def list_jobs(session: Session, *, state: str | None = None, limit: int = 200) -> list[JobRow]:
    """The newest jobs first (``state``: only those)."""
    if state is not None and state not in set(JobState):
        raise NotFoundError(f"Estado de tarea desconocido «{state}»; use queued, running, done o failed.",
                            code="TAREA_ESTADO_DESCONOCIDO")
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if state is not None:
        stmt = stmt.where(Job.state == state)
    return [_row(j) for j in session.scalars(stmt)]


def get_job(session: Session, job_id: int) -> JobRow:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"No existe la tarea {job_id}.", code="TAREA_NO_ENCONTRADA")
    return _row(job)


def retry(session: Session, job_id: int, *, actor: str = "sistema", clock: Clock = system_clock) -> JobRow:
    """Queue a failed job again (its attempts start over); published on commit."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None:
        raise NotFoundError(f"No existe la tarea {job_id}.", code="TAREA_NO_ENCONTRADA")
    if job.state != JobState.FAILED:
        raise ConflictError(f"La tarea {job_id} está «{JOB_STATE_LABELS[JobState(job.state)]}»; solo se reintenta "
                            "una tarea que falló.", code="TAREA_NO_REINTENTABLE")
    job.state, job.attempts, job.run_after, job.finished_at = JobState.QUEUED, 0, None, None
    job.published_at = clock()
    _listen(session)
    session.info.setdefault("jobs_to_publish", []).append(job.id)
    return _row(job)


def mark_republished(engine: Engine, job_id: int) -> datetime | None:
    """A queued job's ``run_after``, recorded as already published for then (so the
    sweep leaves it to the message sent with that countdown); None if not waiting."""
    with transaction(engine) as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.state != JobState.QUEUED or job.run_after is None:
            return None
        job.published_at = job.run_after
        return job.run_after


def republish_due(engine: Engine, *, clock: Clock = system_clock, stale_after: int = LEASE_SECONDS) -> list[int]:
    """The sweep: jobs the queue may have lost (a broker restarted, a publish that failed
    after commit, a worker that died holding one) published again. A job published in
    the last ``stale_after`` seconds and still queued is left alone; claiming makes a
    duplicate harmless."""
    now = clock()
    with transaction(engine) as session:
        ids = list(session.scalars(select(Job.id).where(
            or_(and_(Job.state == JobState.QUEUED, or_(Job.run_after.is_(None), Job.run_after <= now),
                     or_(Job.published_at.is_(None), Job.published_at < Job.run_after,
                         Job.published_at < now - timedelta(seconds=stale_after))),
                and_(Job.state == JobState.RUNNING, Job.lease_until < now)))
            .order_by(Job.id).limit(10000)))
        if ids:
            session.execute(update(Job).where(Job.id.in_(ids)).values(published_at=now))
    publish(ids)
    return ids
