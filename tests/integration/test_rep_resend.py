"""Sending a REP again, or twice at once: never stamped twice, never half-applied, no
unexplained folio gap.

A REP whose first send may have reached the PAC is never deleted (a retry that finds the
PAC down, a recovery that cannot connect after a lost answer); a stamp stored twice (two
retries at once, a retry during a run) is answered as it is; a folio that is no longer
the last one keeps its row; a substitution a crash interrupted is ended by ``rep retry``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fakes.finkok import PASSWORD, USER, FinkokFake
from fakes.stamper import signed_cfdi
from fakes.sw import SwFake
from sqlalchemy import Engine, select
from test_rep_examples import LOCAL_NOW, Book
from test_rep_failures import next_folio, ppd_payment

from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import AuditEntry, Rep
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.states import RepStatus
from cfdi_cobranza.errors import ConflictError, PacError
from cfdi_cobranza.pac import sw as sw_module
from cfdi_cobranza.pac.base import PAC_NO_DISPONIBLE, PAC_SIN_RESPUESTA, StampRequest, StampResult
from cfdi_cobranza.pac.finkok import FinkokPac
from cfdi_cobranza.pac.sandbox import SandboxPac
from cfdi_cobranza.pac.transport import (
    HttpResponse,
    HttpTransport,
    NotSentError,
    RetryPolicy,
    Timeouts,
)
from cfdi_cobranza.services.stamping import RepRefused, pending, sending
from cfdi_cobranza.services.stamping.issuing import Prepared


@pytest.fixture
def book(engine: Engine, settings: Settings, tmp_path: Path) -> Book:
    return Book.open(engine, settings, tmp_path)


class _Faulty:
    """Wraps the sandbox. ``mode``: None passes; "lost" stamps and loses the answer;
    "silent" loses the request (nothing stamped, no answer); "down" sends nothing;
    "reject" is the PAC refusing. ``before`` runs once before the next stamp;
    ``doctor`` may change a stamp before it is answered."""

    name = "sandbox"
    is_sandbox = True

    def __init__(self, inner: SandboxPac) -> None:
        self.inner = inner
        self.mode: str | None = None
        self.before: Callable[[], None] | None = None
        self.doctor: Callable[[StampRequest, StampResult], StampResult] = lambda _req, res: res

    def stamp(self, request: StampRequest) -> StampResult:
        if self.before is not None:
            hook, self.before = self.before, None
            hook()
        if self.mode == "down":
            raise PacError("No se pudo conectar con el PAC (conexión rechazada).", code=PAC_NO_DISPONIBLE)
        if self.mode == "reject":
            raise PacError("El resultado de la digestión debe ser igual al de la desencripción del sello.",
                           code="CFDI40102")
        if self.mode == "silent":
            raise PacError("El PAC no respondió a tiempo.", code=PAC_SIN_RESPUESTA)
        result = self.inner.stamp(request)
        if self.mode == "lost":
            raise PacError("El PAC no respondió a tiempo.", code=PAC_SIN_RESPUESTA)
        return self.doctor(request, result)

    def recover(self, request: StampRequest) -> StampResult | None:
        return self.inner.recover(request)

    def cancel(self, request: Any) -> Any:
        return self.inner.cancel(request)

    def status(self, *args: str) -> Any:
        return self.inner.status(*args)


def faulty(book: Book) -> _Faulty:
    inner = book.stamper.pac
    assert isinstance(inner, SandboxPac)
    pac = _Faulty(inner)
    book.stamper.pac = pac  # type: ignore[assignment]
    return pac


def rows(engine: Engine) -> dict[int, str]:
    with transaction(engine) as s:
        return {r.folio: r.status for r in s.scalars(select(Rep))}


def request_of(engine: Engine, rep_id: int | None) -> Prepared:
    with transaction(engine) as s:
        rep = s.get(Rep, rep_id)
        assert rep is not None and rep.signed_xml is not None
        return Prepared(rep.id, StampRequest(rep.signed_xml, rep.idempotency_key))


# --------------------------------------------------------------------------- in flight is never dropped


def test_retry_while_the_pac_is_down_keeps_the_rep_then_recovers_the_same_stamp(book: Book) -> None:
    pac = faulty(book)
    _inv, pid = ppd_payment(book)
    pac.mode = "lost"  # stamped at the PAC, the answer lost
    first = book.stamper.issue([pid])
    assert (first.status, first.folio) == ("enviando", 1)
    pac.mode = "down"
    (down,) = book.stamper.retry()
    assert (down.status, down.rep_id, down.folio) == ("enviando", first.rep_id, 1)
    assert [f.code for f in down.findings] == [PAC_NO_DISPONIBLE] and "rep retry" in (down.message or "")
    assert rows(book.engine) == {1: "enviando"} and next_folio(book.engine) == 2  # nothing deleted, folio kept
    with pytest.raises(RepRefused) as covered:  # still covered by the REP in flight: no second REP
        book.stamper.issue([pid])
    assert covered.value.code == "REP_SIN_APLICACIONES"
    pac.mode = None
    (again,) = book.stamper.retry()
    assert (again.status, again.rep_id, again.folio) == ("timbrado", first.rep_id, 1)
    assert pac.inner.stamped_uuids() == [again.uuid]  # one CFDI for the payment, the one stored
    assert book.stamper.retry() == []


class _GoneAfterFirst(HttpTransport):
    """A transport whose PAC disappears after the first request: recovering finds it down."""

    def __init__(self) -> None:
        super().__init__(timeouts=Timeouts(connect=1.0, read=5.0), retry=RetryPolicy(attempts=1),
                         sleep=lambda _s: None)
        self.sent = 0
        self.down = True

    def request(self, method: str, url: str, **kw: Any) -> HttpResponse:
        self.sent += 1
        if self.sent > 1 and self.down:
            raise NotSentError("ConnectionRefusedError: [Errno 111] Connection refused")
        return super().request(method, url, **kw)


def test_a_lost_answer_then_a_pac_gone_is_not_nothing_sent(engine: Engine, settings: Settings,
                                                             tmp_path: Path) -> None:
    """Finkok stamps, the answer is lost, and the recovery cannot connect: the PAC may hold
    the stamp, so the REP stays in flight (before: PAC_NO_DISPONIBLE, REP deleted)."""
    with FinkokFake(folder=tmp_path / "fake-finkok") as finkok:
        assert isinstance(finkok, FinkokFake)
        transport = _GoneAfterFirst()
        pac = FinkokPac(USER, PASSWORD, base_url=finkok.url, transport=transport, recover_attempts=1,
                        recover_delay=0.0, sleep=lambda _s: None)
        book = Book.open(engine, settings, tmp_path, pac=pac)  # type: ignore[arg-type]
        _inv, pid = ppd_payment(book)
        finkok.drop_after = {"stamp"}
        first = book.stamper.issue([pid])
        assert first.status == "enviando" and [f.code for f in first.findings] == [PAC_SIN_RESPUESTA]
        assert finkok.stamper.stamps == 1 and rows(engine) == {1: "enviando"}
        transport.down = False
        (again,) = book.stamper.retry()
        assert (again.status, again.folio) == ("timbrado", 1) and finkok.stamper.stamps == 1


def test_sw_recovery_that_cannot_connect_is_no_answer(tmp_path: Path) -> None:
    with SwFake(folder=tmp_path / "fake-sat") as fake:
        assert isinstance(fake, SwFake)
        fake.drop_after = {"stamp"}
        transport = _GoneAfterFirst()
        pac = sw_module.SwPac(token="fixed-account-token", base_url=fake.url, transport=transport)
        with pytest.raises(PacError) as info:
            pac.stamp(StampRequest(signed_cfdi(tmp_path / "issuer"), "rep-1"))
        assert info.value.code == PAC_SIN_RESPUESTA


# --------------------------------------------------------------------------- the same stamp stored twice


def test_a_second_store_of_the_same_stamp_is_answered_as_it_is(book: Book) -> None:
    pac = faulty(book)
    _inv, pid = ppd_payment(book)
    pac.mode = "lost"
    first = book.stamper.issue([pid])
    pac.mode = None
    late = request_of(book.engine, first.rep_id)  # a second sender read the row while it was in flight
    (stored,) = book.stamper.retry()
    assert stored.status == "timbrado"
    again = sending.send(book.stamper, late)
    assert (again.status, again.rep_id, again.uuid, again.folio) == ("timbrado", first.rep_id, stored.uuid, 1)
    assert pac.inner.stamp_count() == 1


def test_a_run_goes_on_past_a_rep_stored_meanwhile_and_reports_a_different_stamp(book: Book) -> None:
    pac = faulty(book)
    (_i1, p1), (_i2, p2), (_i3, p3) = (ppd_payment(book, "1000.00") for _ in range(3))
    pac.mode = "lost"
    reps = [book.stamper.issue([p]) for p in (p1, p2, p3)]
    pac.mode = None
    late = [request_of(book.engine, r.rep_id) for r in reps]
    stored = book.stamper.retry()  # all three stored
    with transaction(book.engine) as s:  # the second is back in flight (another run's chunk)
        rep = s.get(Rep, reps[1].rep_id)
        assert rep is not None
        rep.status, rep.uuid, rep.stamped_xml = RepStatus.ENVIANDO, None, None
    other = str(uuid4()).upper()
    pac.doctor = lambda req, res: (dataclasses.replace(res, uuid=other)
                                   if req.idempotency_key == late[2].request.idempotency_key else res)
    done, down = sending.send_batch(book.stamper, [(p, f"Pago {i}: ") for i, p in enumerate(late)])
    assert down is None
    assert [done[r.rep_id].status for r in late] == ["timbrado"] * 3
    assert (done[reps[0].rep_id].uuid, done[reps[0].rep_id].findings) == (stored[0].uuid, ())  # as it is
    assert done[reps[1].rep_id].uuid is not None and done[reps[1].rep_id].findings == ()
    conflict = done[reps[2].rep_id]
    assert [f.code for f in conflict.findings] == ["REP_TIMBRE_EN_CONFLICTO"] and other in (conflict.message or "")
    with transaction(book.engine) as s:
        assert {r.status for r in s.scalars(select(Rep))} == {"timbrado"}
        kept = s.get(Rep, reps[2].rep_id)
        assert kept is not None and kept.uuid == conflict.uuid and kept.uuid != other
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "timbre_en_conflicto")).one()


# --------------------------------------------------------------------------- folios


def test_pac_down_for_a_folio_no_longer_the_last_keeps_its_row(book: Book) -> None:
    pac = faulty(book)
    _i1, p1 = ppd_payment(book, "1000.00")
    _i2, p2 = ppd_payment(book, "1000.00")
    later: list[Any] = []

    def concurrent_run() -> None:  # takes folio 2 while folio 1 is on its way to the PAC
        later.append(book.stamper.issue([p2]))
        pac.mode = "down"

    pac.before = concurrent_run
    with pytest.raises(RepRefused) as info:
        book.stamper.issue([p1])
    assert info.value.code == PAC_NO_DISPONIBLE
    assert later[0].folio == 2 and later[0].status == "timbrado"
    assert rows(book.engine) == {1: "rechazado", 2: "timbrado"}  # the gap has its row
    assert next_folio(book.engine) == 3
    with transaction(book.engine) as s:
        rep = s.scalars(select(Rep).where(Rep.folio == 1)).one()
        assert PAC_NO_DISPONIBLE in (rep.findings or "")
        assert p1 in {p.payment_id for p in pending(s, today=LOCAL_NOW.date())}


def test_retry_refused_and_deleted_has_no_rep_id(book: Book) -> None:
    pac = faulty(book)
    _inv, _pid = ppd_payment(book)
    pac.mode = "silent"
    first = book.stamper.issue([_pid])
    assert first.status == "enviando" and first.rep_id is not None
    pac.mode = "reject"
    (refused,) = book.stamper.retry()
    assert (refused.status, refused.rep_id) == ("rechazado", None)  # deleted: its folio was the last
    assert rows(book.engine) == {} and next_folio(book.engine) == 1


# --------------------------------------------------------------------------- states


def test_a_rejected_cancellation_returns_to_stamped() -> None:
    assert RepStatus.CANCELACION_SOLICITADA.check_move(RepStatus.TIMBRADO) is RepStatus.TIMBRADO


def _interrupt(engine: Engine, rep_id: int | None) -> None:
    """What a crash inside ``cancelling._replacement`` leaves: the REP ``sustituyendo``."""
    with transaction(engine) as s:
        rep = s.get(Rep, rep_id)
        assert rep is not None
        rep.status = RepStatus.SUSTITUYENDO


def test_retry_ends_a_substitution_a_crash_interrupted(book: Book) -> None:
    _inv, pid = ppd_payment(book)
    old = book.issue(pid)
    _interrupt(book.engine, old.rep_id)
    with pytest.raises(ConflictError):
        book.stamper.cancel(old.uuid or "", "01", replace=True)
    (resumed,) = book.stamper.retry()
    assert (resumed.rep_id, resumed.status, resumed.uuid) == (old.rep_id, "timbrado", old.uuid)
    assert book.stamper.cancel(old.uuid or "", "01", replace=True).status == "sustituido"


def test_a_substitution_waits_for_its_replacement_in_flight(book: Book) -> None:
    pac = faulty(book)
    _inv, pid = ppd_payment(book)
    old = book.issue(pid)
    pac.mode = "lost"
    with pytest.raises(RepRefused) as info:
        book.stamper.cancel(old.uuid or "", "01", replace=True)
    assert info.value.code == "SUSTITUTO_NO_TIMBRADO"
    pac.mode = None
    with pytest.raises(RepRefused) as again:  # its replacement is in flight: retry first
        book.stamper.cancel(old.uuid or "", "01", replace=True)
    assert again.value.code == "SUSTITUTO_NO_TIMBRADO" and "rep retry" in again.value.message
    _interrupt(book.engine, old.rep_id)
    pac.mode = "down"
    (in_flight,) = book.stamper.retry()
    assert in_flight.status == "enviando" and rows(book.engine) == {1: "sustituyendo", 2: "enviando"}
    pac.mode = None
    replacement, resumed = book.stamper.retry()
    assert (replacement.status, resumed.rep_id, resumed.status) == ("timbrado", old.rep_id, "timbrado")
    out = book.stamper.cancel(old.uuid or "", "01", replace=True)
    assert out.status == "sustituido" and out.sustituto is not None and out.sustituto.uuid == replacement.uuid
    assert pac.inner.stamp_count() == 2


def test_a_second_replacement_is_refused_in_its_own_transaction(book: Book) -> None:
    """Two cancellations with motive 01 at once: the REP is marked ``sustituyendo`` with its
    replacement's row, under its lock, so the second never saves another replacement."""
    pac = faulty(book)
    _inv, pid = ppd_payment(book)
    old = book.issue(pid)
    with book.stamper.session() as s:
        rep = s.get(Rep, old.rep_id)
        assert rep is not None
        credit_ids = [line.credit_id for line in rep.lines]
    pac.mode = "lost"
    first = book.stamper.issue([pid], replaces=rep, credit_ids=credit_ids)
    assert first.status == "enviando" and rows(book.engine) == {1: "sustituyendo", 2: "enviando"}
    with pytest.raises(ConflictError):  # still sustituyendo
        book.stamper.issue([pid], replaces=rep, credit_ids=credit_ids)
    # the first cancellation's ``finally`` put it back to timbrado:
    with transaction(book.engine) as s:
        stamped = s.get(Rep, old.rep_id)
        assert stamped is not None
        stamped.status = RepStatus.TIMBRADO
    with pytest.raises(ConflictError) as info:
        book.stamper.issue([pid], replaces=rep, credit_ids=credit_ids)
    assert info.value.code == "REP_SUSTITUTO_VIGENTE"
    assert rows(book.engine) == {1: "timbrado", 2: "enviando"} and next_folio(book.engine) == 3
