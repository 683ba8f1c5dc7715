"""Issuing many REPs at once (``issue_each``, ``issue_all_pending``): same guarantees as one.

A batch saves each chunk's REPs signed before the PAC sees any, then stamps them, then
saves the stamps. Checked here: results in the order asked, consecutive folios, a
refused group not spoiling the others nor leaving a gap, a PAC that is down giving
every folio back, a PAC rejection in the middle, a lost answer recovered by ``retry``
without stamping twice, and chunk boundaries.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine, func, select
from test_rep_examples import LOCAL_NOW, Book, check_rep
from test_rep_failures import book_with, next_folio

from cfdi_cobranza.cfdi.factory import Line
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Rep, RepLine
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.states import LIVE_REP_STATUSES
from cfdi_cobranza.errors import PacError
from cfdi_cobranza.pac.base import PAC_NO_DISPONIBLE, PAC_SIN_RESPUESTA, StampRequest, StampResult
from cfdi_cobranza.pac.sandbox import SandboxPac
from cfdi_cobranza.services.stamping import pending

D = Decimal


@pytest.fixture
def book(engine: Engine, settings: Settings, tmp_path: Path) -> Book:
    return Book.open(engine, settings, tmp_path)


def _payments(book: Book, n: int) -> list[int]:
    """``n`` payments, each paying 1,000.00 of its own 11,600.00 PPD invoice."""
    uuids = book.invoices(**{f"F{i}": [Line(D("10000.00"))] for i in range(n)})
    pids = []
    for i in range(n):
        pid = book.pay("1000.00")
        book.apply(pid, [(uuids[f"F{i}"], "1000.00")])
        pids.append(pid)
    return pids


class _Scripted:
    """Wraps the sandbox; answers for the i-th call (1-based) can be scripted."""

    name = "sandbox"
    is_sandbox = True

    def __init__(self, inner: SandboxPac, *, reject: set[int] = frozenset(), lose: set[int] = frozenset(),
                 down_from: int | None = None) -> None:
        self.inner, self.reject, self.lose, self.down_from = inner, reject, lose, down_from
        self.calls = 0

    def stamp(self, request: StampRequest) -> StampResult:
        self.calls += 1
        if self.down_from is not None and self.calls >= self.down_from:
            raise PacError("No se pudo conectar con el PAC (conexión rechazada).", code=PAC_NO_DISPONIBLE)
        if self.calls in self.reject:
            raise PacError("El resultado de la digestión debe ser igual al resultado de la desencripción del "
                           "sello.", code="CFDI40102")
        result = self.inner.stamp(request)
        if self.calls in self.lose:
            raise PacError("El PAC no respondió a tiempo.", code=PAC_SIN_RESPUESTA)
        return result

    def recover(self, request: StampRequest) -> StampResult | None:
        return self.inner.recover(request)


def _sandbox(book: Book) -> SandboxPac:
    pac = book.stamper.pac
    assert isinstance(pac, SandboxPac)
    return pac


def test_issue_each_stamps_all_in_order_with_consecutive_folios(book: Book) -> None:
    pids = _payments(book, 5)
    results = book.stamper.issue_many([[p] for p in pids], chunk=2)  # chunks of 2, 2 and 1
    assert [r.status for r in results] == ["timbrado"] * 5
    assert [r.folio for r in results] == [1, 2, 3, 4, 5]
    assert len({r.uuid for r in results}) == 5
    for pid, r in zip(pids, results, strict=True):
        root = check_rep(r.xml or b"")
        assert root.get("Folio") == str(r.folio)
        with transaction(book.engine) as s:
            rep = s.get(Rep, r.rep_id)
            assert rep is not None and rep.status == "timbrado" and rep.uuid == r.uuid
            assert {line.payment_id for line in rep.lines} == {pid}
    with transaction(book.engine) as s:
        assert pending(s, today=LOCAL_NOW.date()) == []
    assert next_folio(book.engine) == 6


def test_a_refused_group_spoils_nothing_and_leaves_no_gap(book: Book) -> None:
    pids = _payments(book, 3)
    book.issue(pids[1])  # already covered: that group has nothing to issue
    results = book.stamper.issue_each(pids)
    assert [r.status for r in results] == ["timbrado", "rechazado", "timbrado"]
    assert results[1].message is not None and results[1].message.startswith(f"Pago {pids[1]}: ")
    assert "ya están amparadas por un REP vigente" in results[1].message
    assert [results[0].folio, results[2].folio] == [2, 3]  # folio 1 went to the REP issued before
    assert next_folio(book.engine) == 4


def test_pac_down_in_a_batch_gives_every_folio_back(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    book = book_with(engine, settings, tmp_path, None)
    scripted = _Scripted(_sandbox(book), down_from=2)
    book.stamper.pac = scripted  # type: ignore[assignment]
    pids = _payments(book, 4)
    results = book.stamper.issue_each(pids)
    assert [r.status for r in results] == ["timbrado", "rechazado", "rechazado", "rechazado"]
    assert scripted.calls == 2  # it stopped knocking once the PAC was down
    for pid, r in zip(pids[1:], results[1:], strict=True):
        assert r.message is not None and "No se pudo contactar al PAC" in r.message and str(pid) in r.message
        assert [f.code for f in r.findings] == [PAC_NO_DISPONIBLE]
    with transaction(engine) as s:
        assert s.scalar(select(func.count(Rep.id))) == 1
        assert s.scalar(select(func.count(RepLine.id))) == 1
        assert {p.payment_id for p in pending(s, today=LOCAL_NOW.date())} == set(pids[1:])
    assert next_folio(engine) == 2  # folios 2, 3 and 4 all went back
    book.stamper.pac = scripted.inner
    again = book.stamper.issue_each(pids[1:])
    assert [r.folio for r in again] == [2, 3, 4]


def test_pac_rejection_in_the_middle(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    book = book_with(engine, settings, tmp_path, None)
    book.stamper.pac = _Scripted(_sandbox(book), reject={2})  # type: ignore[assignment]
    pids = _payments(book, 3)
    results = book.stamper.issue_each(pids)
    assert [r.status for r in results] == ["timbrado", "rechazado", "timbrado"]
    assert results[1].message is not None and "CFDI40102" in results[1].message
    assert [f.code for f in results[1].findings] == ["CFDI40102"]
    with transaction(engine) as s:
        by_folio = {r.folio: r.status for r in s.scalars(select(Rep))}
        # Folio 2 was not the last one taken: its row stays, rejected, to explain the gap.
        assert by_folio == {1: "timbrado", 2: "rechazado", 3: "timbrado"}
        assert {p.payment_id for p in pending(s, today=LOCAL_NOW.date())} == {pids[1]}


def test_lost_answer_in_a_batch_is_recovered_once(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    book = book_with(engine, settings, tmp_path, None)
    inner = _sandbox(book)
    book.stamper.pac = _Scripted(inner, lose={2})  # type: ignore[assignment]
    pids = _payments(book, 3)
    results = book.stamper.issue_each(pids)
    assert [r.status for r in results] == ["timbrado", "enviando", "timbrado"]
    assert [f.code for f in results[1].findings] == [PAC_SIN_RESPUESTA]
    with transaction(engine) as s:
        assert s.scalar(select(func.count(Rep.id)).where(Rep.status.in_(LIVE_REP_STATUSES))) == 3
    (again,) = book.stamper.retry()
    assert again.status == "timbrado" and again.folio == 2
    assert inner.stamp_count() == 3  # stamped exactly once each


@pytest.mark.parametrize("chunk", [1, 50])
def test_all_pending_uses_batches(book: Book, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    pids = _payments(book, 3)
    sizes: list[int] = []
    original = book.stamper.issue_many

    def spy(groups, *, chunk: int = chunk, label: str = "Pagos"):  # type: ignore[no-untyped-def]
        sizes.append(len(groups))
        return original(groups, chunk=chunk, label=label)

    monkeypatch.setattr(book.stamper, "issue_many", spy)
    results = book.stamper.issue_all_pending()
    assert sizes == [3]
    assert [r.status for r in results] == ["timbrado"] * 3
    assert sorted(r.folio for r in results) == [1, 2, 3]  # type: ignore[type-var]
    assert {p for r in results for p in _payments_of(book, r.rep_id)} == set(pids)


def _payments_of(book: Book, rep_id: int | None) -> set[int]:
    with transaction(book.engine) as s:
        rep = s.get(Rep, rep_id)
        assert rep is not None
        return {line.payment_id for line in rep.lines}


def test_pac_down_stops_the_run(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    book = book_with(engine, settings, tmp_path, None)
    scripted = _Scripted(_sandbox(book), down_from=1)
    book.stamper.pac = scripted  # type: ignore[assignment]
    pids = _payments(book, 5)
    results = book.stamper.issue_many([[p] for p in pids], chunk=2)
    assert [r.status for r in results] == ["rechazado"] * 5
    assert scripted.calls == 1  # one knock, then nothing more for this run
    assert all([f.code for f in r.findings] == [PAC_NO_DISPONIBLE] for r in results)
    assert "No se intentó" in (results[4].message or "") and str(pids[4]) in (results[4].message or "")
    with transaction(engine) as s:
        assert s.scalar(select(func.count(Rep.id))) == 0
    assert next_folio(engine) == 1


def test_two_concurrent_runs_issue_each_payment_once(pg_engine: Engine, settings: Settings,
                                                      tmp_path: Path) -> None:
    """Two month-end runs at once (two web workers): one REP per payment, folios 1..n."""
    import threading

    book = Book.open(pg_engine, settings, tmp_path)
    pids = _payments(book, 6)
    barrier = threading.Barrier(2)
    runs: list[object] = []

    def run(order: list[int]) -> None:
        barrier.wait()
        try:
            runs.append(book.stamper.issue_many([[p] for p in order], chunk=2))
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            runs.append(exc)

    threads = [threading.Thread(target=run, args=(order,)) for order in (pids, pids[::-1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(isinstance(r, list) for r in runs), runs
    stamped = [r for results in runs for r in results if r.status == "timbrado"]  # type: ignore[attr-defined]
    refused = [r for results in runs for r in results if r.status == "rechazado"]  # type: ignore[attr-defined]
    assert len(stamped) == 6 and len(refused) == 6
    assert all("ya están amparadas" in (r.message or "") for r in refused)
    assert sorted(r.folio for r in stamped) == list(range(1, 7))
    with transaction(pg_engine) as s:
        assert sorted(s.scalars(select(Rep.folio))) == list(range(1, 7))
        assert s.scalar(select(func.count(RepLine.id))) == 6
        assert sorted(s.scalars(select(RepLine.payment_id))) == sorted(pids)
    assert next_folio(pg_engine) == 7


def test_pac_down_in_the_middle_of_a_run(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    """Chunks run one after the other. When chunk 2 finds the PAC down, its folios go
    back, last first; the chunks after it are not prepared: nothing after folio 2
    remains and the run stops knocking."""
    book = book_with(engine, settings, tmp_path, None)
    scripted = _Scripted(_sandbox(book), down_from=3)
    book.stamper.pac = scripted  # type: ignore[assignment]
    pids = _payments(book, 7)
    results = book.stamper.issue_many([[p] for p in pids], chunk=2)  # chunks of 2, 2, 2 and 1
    assert [r.status for r in results] == ["timbrado"] * 2 + ["rechazado"] * 5
    assert scripted.calls == 3
    assert all([f.code for f in r.findings] == [PAC_NO_DISPONIBLE] for r in results[2:])
    assert "No se intentó" in (results[6].message or "")  # chunks 3 and 4 were never prepared
    with transaction(engine) as s:
        assert s.scalar(select(func.count(Rep.id))) == 2
        assert {p.payment_id for p in pending(s, today=LOCAL_NOW.date())} == set(pids[2:])
    assert next_folio(engine) == 3
    book.stamper.pac = scripted.inner
    again = book.stamper.issue_each(pids[2:])
    assert [r.folio for r in again] == [3, 4, 5, 6, 7]


def _refusing(target_uuid: str, pids_file: Path):  # type: ignore[no-untyped-def]
    """validate_rep, plus an ERROR for the REP that pays ``target_uuid``; notes its pid."""
    from cfdi_cobranza.cfdi.validator import validate_rep
    from cfdi_cobranza.domain.findings import Finding as RuleFinding

    def check(root_or_bytes, **kwargs):  # type: ignore[no-untyped-def]
        with pids_file.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        found = validate_rep(root_or_bytes, **kwargs)
        text = root_or_bytes if isinstance(root_or_bytes, bytes) else etree.tostring(root_or_bytes)
        if target_uuid.encode() in text:
            found.append(RuleFinding("CRP20999", "Rechazo de prueba.", "/"))
        return found

    return check


def test_a_refusal_by_the_validator_in_a_run_leaves_no_gap(book: Book, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A REP the validator refuses in the middle of a chunk is not saved and takes no
    folio: the REPs after it get consecutive folios."""
    from cfdi_cobranza.services.stamping import issuing

    uuids = book.invoices(**{f"F{i}": [Line(D("10000.00"))] for i in range(6)})
    pids = []
    for i in range(6):
        pid = book.pay("1000.00")
        book.apply(pid, [(uuids[f"F{i}"], "1000.00")])
        pids.append(pid)
    pids_file = tmp_path / "pids"
    check = _refusing(uuids["F1"], pids_file)
    monkeypatch.setattr(issuing, "validate_rep", check)
    results = book.stamper.issue_many([[p] for p in pids], chunk=3)  # two chunks of 3
    assert [r.status for r in results] == ["timbrado", "rechazado", "timbrado", "timbrado", "timbrado", "timbrado"]
    assert [r.folio for r in results if r.status == "timbrado"] == [1, 2, 3, 4, 5]
    assert "CRP20999" in [f.code for f in results[1].findings]
    assert "no pasó la validación" in (results[1].message or "")
    assert next_folio(book.engine) == 6
    with transaction(book.engine) as s:
        assert {r.folio for r in s.scalars(select(Rep))} == {1, 2, 3, 4, 5}
        assert {p.payment_id for p in pending(s, today=LOCAL_NOW.date())} == {pids[1]}
    for r in results:
        if r.status == "timbrado":
            assert check_rep(r.xml or b"").get("Folio") == str(r.folio)


def test_a_payment_in_two_groups_of_a_run_is_covered_once(book: Book) -> None:
    """A chunk's inputs are read once, before any of its REPs is prepared: an application
    the first REP covers is not covered again by a later group naming the same payment."""
    pids = _payments(book, 2)
    results = book.stamper.issue_many([[pids[0]], [pids[0], pids[1]], [pids[0]]])
    assert [r.status for r in results] == ["timbrado", "timbrado", "rechazado"]
    assert "ya están amparadas por un REP vigente" in (results[2].message or "")
    assert [_payments_of(book, r.rep_id) for r in results[:2]] == [{pids[0]}, {pids[1]}]
    assert next_folio(book.engine) == 3
