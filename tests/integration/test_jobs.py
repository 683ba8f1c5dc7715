"""Background jobs on the ledger database: the automatic REP, exactly once.

On SQLite and PostgreSQL: a payment applied under ``al-aplicar`` queues its REP in the
same transaction; running the queue stamps it; a job delivered again, or re-run after
its worker died in the middle of the stamp (the PAC had stamped, the answer was never
stored), recovers that stamp by its idempotency key instead of stamping twice. The
policy runs (``diario``/``mensual``) are queued once per company and day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from test_rep_examples import NOW_UTC, Book, check_rep

from cfdi_cobranza.cfdi.factory import Line
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Job, Rep
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.states import RepStatus
from cfdi_cobranza.errors import ConflictError, PacError, ValidationError
from cfdi_cobranza.pac.base import StampRequest, StampResult
from cfdi_cobranza.pac.sandbox import SandboxPac
from cfdi_cobranza.services import jobs
from cfdi_cobranza.services import payments as svc
from cfdi_cobranza.services.jobs import Runtime, policy
from cfdi_cobranza.services.jobs import rep as rep_jobs
from cfdi_cobranza.services.stamping import Stamper

D = Decimal
RFC = "EKU9003173C9"


@pytest.fixture
def book(engine: Engine, settings: Settings, tmp_path: Path) -> Book:
    return Book.open(engine, settings, tmp_path)


class Clock:
    def __init__(self, now: datetime = NOW_UTC) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def runtime(book: Book, *, pac: object | None = None, clock: Clock | None = None, worker: str = "w1") -> Runtime:
    def stamper() -> Stamper:
        s = book.stamper
        return Stamper(s.engine, pac or s.pac, s.box, clock=s.clock, now_local=s.now_local)  # type: ignore[arg-type]
    return Runtime(book.engine, clock=clock or Clock(), worker=worker, lease_seconds=60, stamper_factory=stamper)


def _paid(book: Book, mode: str = "al-aplicar") -> int:
    uuids = book.invoices(F1=[Line(D("10000.00"))])  # creates the company (and registers its CSD)
    with transaction(book.engine) as s:
        policy.set_policy(s, RFC, mode, clock=book.clock)
    pid = book.pay("1000.00")
    book.apply(pid, [(uuids["F1"], "1000.00")])
    return pid


def _reps(engine: Engine) -> list[Rep]:
    with transaction(engine) as s:
        return list(s.scalars(select(Rep).order_by(Rep.id)))


def _jobs(engine: Engine) -> list[Job]:
    with transaction(engine) as s:
        return list(s.scalars(select(Job).order_by(Job.id)))


def test_applying_under_al_aplicar_queues_one_rep_job_and_running_it_stamps(book: Book) -> None:
    pid = _paid(book)
    (job,) = _jobs(book.engine)
    assert (job.kind, job.state, job.key.startswith(f"rep.pago:{pid}:")) == ("rep.pago", "queued", True)
    assert _reps(book.engine) == []  # nothing stamped inside the request that applied it

    ran = jobs.run_until_empty(runtime(book))
    assert ran == [(job.id, "done")]
    (rep,) = _reps(book.engine)
    assert rep.status == RepStatus.TIMBRADO and rep.stamped_xml is not None
    check_rep(rep.stamped_xml)
    # The queue delivering the same id again: the job is done, nothing runs.
    assert jobs.run_job(runtime(book), job.id) is None
    assert jobs.run_until_empty(runtime(book)) == []
    assert len(_reps(book.engine)) == 1


def test_other_policies_queue_nothing_on_apply(book: Book) -> None:
    _paid(book, "diario")
    assert _jobs(book.engine) == []


def test_rolled_back_application_leaves_no_job_and_publishes_nothing(book: Book) -> None:
    uuids = book.invoices(F1=[Line(D("10000.00"))])
    with transaction(book.engine) as s:
        policy.set_policy(s, RFC, "al-aplicar", clock=book.clock)
    pid = book.pay("1000.00")
    published: list[int] = []
    previous = jobs.set_publisher(published.extend)
    try:
        with pytest.raises(RuntimeError), transaction(book.engine) as s:
            svc.apply_payment(s, pid, [svc.Allocation(uuids["F1"], "1000.00")], clock=book.clock)
            raise RuntimeError("the request failed after applying")
        assert _jobs(book.engine) == [] and published == []
        book.apply(pid, [(uuids["F1"], "1000.00")])
        assert published == [j.id for j in _jobs(book.engine)] and len(published) == 1
    finally:
        jobs.set_publisher(previous)


def test_jobs_are_published_only_once_the_outer_transaction_committed(book: Book) -> None:
    """Each enqueue takes a SAVEPOINT, whose release is a "commit" to the session: a
    worker handed the id then could not see the row yet (and would drop the message)."""
    seen: list[tuple[int, bool]] = []

    def publisher(ids: list[int]) -> None:
        with transaction(book.engine) as other:  # another connection: only committed rows
            visible = set(other.scalars(select(Job.id).where(Job.id.in_(ids))))
        seen.extend((i, i in visible) for i in ids)

    previous = jobs.set_publisher(publisher)
    try:
        with transaction(book.engine) as s:
            ids = [jobs.enqueue(s, "rep.pendientes", {"monthly": False}, key=f"vis-{n}").id for n in range(3)]
            jobs.enqueue(s, "rep.pendientes", {"monthly": True}, key="vis-0")  # a duplicate key: the first job
            assert seen == []
        assert seen == [(i, True) for i in ids]
    finally:
        jobs.set_publisher(previous)


class DiesAfterStamping:
    """The PAC stamps, then the worker process dies before the answer is stored."""

    name = "sandbox"
    is_sandbox = True

    def __init__(self, inner: SandboxPac) -> None:
        self.inner = inner

    def stamp(self, request: StampRequest) -> StampResult:
        self.inner.stamp(request)
        raise SystemExit("worker killed")  # not an Exception: nothing in the job catches it

    def recover(self, request: StampRequest) -> StampResult | None:
        return self.inner.recover(request)


def test_worker_killed_mid_stamp_then_redelivered_stamps_exactly_once(book: Book) -> None:
    pid = _paid(book)
    sandbox = book.stamper.pac
    assert isinstance(sandbox, SandboxPac)
    clock = Clock()
    (job,) = _jobs(book.engine)
    with pytest.raises(SystemExit):
        jobs.run_job(runtime(book, pac=DiesAfterStamping(sandbox), clock=clock, worker="dead"), job.id)
    (rep,) = _reps(book.engine)
    assert rep.status == RepStatus.ENVIANDO and sandbox.stamp_count() == 1
    (held,) = _jobs(book.engine)
    assert held.state == "running" and held.worker == "dead"

    # Redelivered while the dead worker's lease still holds: not taken.
    assert jobs.run_job(runtime(book, clock=clock, worker="w2"), job.id) is None
    # Once the lease ran out another worker takes it and recovers the stamp by its key.
    clock.now += timedelta(seconds=61)
    assert jobs.run_until_empty(runtime(book, clock=clock, worker="w2")) == [(job.id, "done")]
    (rep,) = _reps(book.engine)
    assert rep.status == RepStatus.TIMBRADO and sandbox.stamp_count() == 1
    assert rep.uuid == sandbox.stamped_uuids()[0].upper()
    (finished,) = _jobs(book.engine)
    assert finished.attempts == 2 and finished.state == "done"
    assert pid  # the payment is covered: nothing pending
    assert jobs.run_until_empty(runtime(book, clock=clock)) == []


class Down:
    name = "sandbox"
    is_sandbox = True

    def stamp(self, request: StampRequest) -> StampResult:
        raise PacError("No se pudo conectar con el PAC (conexión rechazada).", code="PAC_NO_DISPONIBLE")

    def recover(self, request: StampRequest) -> StampResult | None:
        raise PacError("No se pudo conectar con el PAC (conexión rechazada).", code="PAC_NO_DISPONIBLE")


def test_pac_down_requeues_with_backoff_then_fails_and_retry_from_cli_service_stamps(
        book: Book, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rep_jobs, "PAC_PAUSES", ())  # no pause between tries within one attempt
    _paid(book)
    clock = Clock()
    (job,) = _jobs(book.engine)
    assert jobs.run_until_empty(runtime(book, pac=Down(), clock=clock)) == [(job.id, "queued")]
    (waiting,) = _jobs(book.engine)
    assert waiting.error_code == "PAC_NO_DISPONIBLE" and waiting.run_after is not None
    assert _reps(book.engine) == []  # folio given back: the REP was never sent
    # Not due yet: nothing runs.
    assert jobs.run_until_empty(runtime(book, pac=Down(), clock=clock)) == []
    for _ in range(4):
        clock.now += timedelta(hours=2)
        jobs.run_until_empty(runtime(book, pac=Down(), clock=clock))
    (failed,) = _jobs(book.engine)
    assert (failed.state, failed.attempts, failed.error_code) == ("failed", 5, "PAC_NO_DISPONIBLE")
    with transaction(book.engine) as s:
        row = jobs.list_jobs(s, state="failed")[0]
        assert row.to_dict()["error"]["code"] == "PAC_NO_DISPONIBLE"
        jobs.retry(s, job.id, clock=clock)
    assert jobs.run_until_empty(runtime(book, clock=clock)) == [(job.id, "done")]
    (rep,) = _reps(book.engine)
    assert rep.status == RepStatus.TIMBRADO
    with transaction(book.engine) as s, pytest.raises(ConflictError):
        jobs.retry(s, job.id)


def test_daily_policy_run_is_queued_once_per_day_and_issues_the_pending(book: Book) -> None:
    _paid(book, "diario")
    with transaction(book.engine) as s:
        policy.set_policy(s, RFC, "diario", hora="10:00", clock=book.clock)
    # 09:59 in Mexico City (UTC-6): not yet.
    assert policy.tick(book.engine, clock=Clock(datetime(2026, 11, 20, 15, 59, tzinfo=UTC))) == []
    at = Clock(datetime(2026, 11, 20, 16, 1, tzinfo=UTC))
    first = policy.tick(book.engine, clock=at)
    assert len(first) == 1 and policy.tick(book.engine, clock=at) == first
    assert jobs.run_until_empty(runtime(book, clock=at)) == [(first[0], "done")]
    assert [r.status for r in _reps(book.engine)] == [RepStatus.TIMBRADO]
    # The next day: a new run, with nothing left to issue.
    nxt = Clock(datetime(2026, 11, 21, 16, 1, tzinfo=UTC))
    second = policy.tick(book.engine, clock=nxt)
    assert second != first
    assert jobs.run_until_empty(runtime(book, clock=nxt)) == [(second[0], "done")]
    assert len(_reps(book.engine)) == 1


def test_monthly_policy_issues_one_rep_per_customer_for_past_months(book: Book) -> None:
    uuids = book.invoices(F1=[Line(D("10000.00"))], F2=[Line(D("5000.00"))])
    with transaction(book.engine) as s:
        policy.set_policy(s, RFC, "mensual", hora="08:00", dia=3, clock=book.clock)
    for u in ("F1", "F2"):
        pid = book.pay("1000.00")
        book.apply(pid, [(uuids[u], "1000.00")])
    assert policy.tick(book.engine, clock=Clock(datetime(2026, 11, 2, 15, 0, tzinfo=UTC))) == []  # day 2
    at = Clock(datetime(2026, 11, 3, 15, 0, tzinfo=UTC))
    (run,) = policy.tick(book.engine, clock=at)
    assert jobs.run_until_empty(runtime(book, clock=at)) == [(run, "done")]
    (rep,) = _reps(book.engine)  # both October payments of the customer: one REP
    assert rep.status == RepStatus.TIMBRADO
    assert rep.stamped_xml is not None and rep.stamped_xml.count(b"<pago20:Pago ") == 2


def test_enqueue_same_key_twice_returns_the_first_job(book: Book) -> None:
    with transaction(book.engine) as s:
        a = jobs.enqueue(s, "rep.pendientes", {"monthly": False}, key="k-1")
        b = jobs.enqueue(s, "rep.pendientes", {"monthly": True}, key="k-1")
        assert a.id == b.id
    with transaction(book.engine) as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1


def test_bad_policy_input_is_refused_in_spanish(book: Book) -> None:
    book.invoices(F1=[Line(D("100.00"))])
    with transaction(book.engine) as s:
        for kwargs, code in (({"mode": "semanal"}, "REP_POLITICA_MODO_INVALIDO"),
                             ({"mode": "diario", "hora": "25:00"}, "REP_POLITICA_HORA_INVALIDA"),
                             ({"mode": "mensual", "dia": 9}, "REP_POLITICA_DIA_INVALIDO")):
            with pytest.raises(ValidationError) as err:
                policy.set_policy(s, RFC, **kwargs)  # type: ignore[arg-type]
            assert err.value.code == code
        assert policy.policies(s)[0].to_dict()["mode"] == "diario"  # the default, unchanged


def test_bounded_pac_never_runs_more_stamps_at_once_than_its_slots() -> None:
    import threading
    import time

    now, peak = 0, 0
    lock = threading.Lock()

    class Slow:
        name = "fake"

        def stamp(self, request: StampRequest) -> StampResult:
            nonlocal now, peak
            with lock:
                now += 1
                peak = max(peak, now)
            time.sleep(0.05)
            with lock:
                now -= 1
            return "ok"  # type: ignore[return-value]

        def stamp_batch(self, requests: object) -> None:
            raise AssertionError("a batch would bypass the slots")

    pacs = [rep_jobs.BoundedPac(Slow(), "fake:cuenta-prueba", slots=2) for _ in range(6)]  # type: ignore[arg-type]
    threads = [threading.Thread(target=p.stamp, args=(StampRequest(b"<x/>", f"k{i}"),)) for i, p in enumerate(pacs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2
    assert not hasattr(pacs[0], "stamp_batch") and pacs[0].name == "fake"


def test_al_aplicar_waits_for_a_payment_before_its_invoice_and_issues_once_confirmed(book: Book) -> None:
    """A payment received before its invoice (issue 17): its REP is not queued when it is
    applied (it would only fail), and confirming it queues the REP, which then stamps."""
    uuids = book.invoices(F=[Line(D("1000.00"))])
    with transaction(book.engine) as s:
        policy.set_policy(s, RFC, "al-aplicar", clock=book.clock)
    pid = book.pay("1160.00", fecha=datetime(2026, 9, 28, 12, 0))  # before the invoice's day
    book.apply(pid, [(uuids["F"], "1160.00")])
    assert _jobs(book.engine) == []
    with transaction(book.engine) as s:
        svc.confirm_advance(s, pid, actor="ana", clock=book.clock)
    assert [(j.kind, j.state) for j in _jobs(book.engine)] == [("rep.pago", "queued")]
    assert [state for _id, state in jobs.run_until_empty(runtime(book))] == ["done"]
    assert [r.status for r in _reps(book.engine)] == [RepStatus.TIMBRADO]
