"""How a batch of REPs is cut into chunks and stamped: ``_chunk_bounds``, ``stamp_each``
and the ``ThreadLane`` a remote PAC gets."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from cfdi_cobranza.errors import PacError
from cfdi_cobranza.pac.base import (
    PAC_NO_DISPONIBLE,
    StampRequest,
    StampResult,
    ThreadLane,
    stamp_each,
    stamp_lane,
)
from cfdi_cobranza.services.stamping import _chunk_bounds


@pytest.mark.parametrize("n,size", [(0, 50), (1, 50), (3, 50), (8, 50), (50, 50), (51, 50), (200, 50),
                                    (230, 50), (5, 2), (7, 1), (1000, 50)])
def test_chunks_cover_every_group_once_in_order(n: int, size: int) -> None:
    bounds = _chunk_bounds(n, size)
    assert [i for a, b in bounds for i in range(a, b)] == list(range(n))
    assert all(0 < b - a <= size for a, b in bounds)


def test_the_tail_is_cut_down() -> None:
    sizes = [b - a for a, b in _chunk_bounds(200, 50)]
    assert sizes[:3] == [50, 50, 50]
    assert sizes[3:] == sorted(sizes[3:], reverse=True) and sizes[-1] <= 4


class _Pac:
    name = "fake"
    is_sandbox = False

    def __init__(self, fail: dict[int, str]) -> None:
        self.fail, self.calls = fail, 0
        self.threads: set[str] = set()

    def stamp(self, request: StampRequest) -> StampResult:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.calls in self.fail:
            raise PacError("falla", code=self.fail[self.calls])
        return StampResult(f"UUID-{self.calls}", request.xml, datetime(2026, 11, 20), "0001")


def _requests(n: int) -> list[StampRequest]:
    return [StampRequest(b"<x/>", f"k{i}") for i in range(n)]


def test_stamp_each_keeps_errors_in_place_and_stops_once_the_pac_is_down() -> None:
    pac = _Pac({2: "CFDI40102", 3: PAC_NO_DISPONIBLE})
    out = stamp_each(pac, _requests(5))
    assert isinstance(out[0], StampResult) and out[0].uuid == "UUID-1"
    assert isinstance(out[1], PacError) and out[1].code == "CFDI40102"
    assert isinstance(out[2], PacError) and out[2].code == PAC_NO_DISPONIBLE
    assert out[3:] == [None, None]  # not sent
    assert pac.calls == 3


def test_a_remote_pac_stamps_on_a_thread_while_the_caller_goes_on() -> None:
    release = threading.Event()
    released: list[bool] = []

    class Waiting(_Pac):
        def stamp(self, request: StampRequest) -> StampResult:
            # Answers only once the caller got control back from ``submit``.
            released.append(release.wait(timeout=5))
            return super().stamp(request)

    pac = Waiting({})
    with stamp_lane(pac) as lane:  # no open_lane(): a ThreadLane
        assert isinstance(lane, ThreadLane)
        wait = lane.submit(_requests(4))
        release.set()  # reached only if submit did not wait for the PAC
        out = wait()
    assert released == [True] * 4
    assert [r.uuid for r in out if isinstance(r, StampResult)] == ["UUID-1", "UUID-2", "UUID-3", "UUID-4"]
    assert pac.threads and threading.current_thread().name not in pac.threads


def _answer_nobody_reads(conn) -> None:  # type: ignore[no-untyped-def]
    from cfdi_cobranza.workers import messages

    for _item in messages(conn):
        conn.send(b"x" * 4_000_000)  # far more than the pipe holds: blocks until read


def test_closing_a_worker_whose_answer_nobody_reads_lets_it_finish() -> None:
    """The caller stopped early (an error mid-run) while the worker was sending a large
    answer: ``close`` reads and drops it, so the worker gets its cue and exits by itself
    instead of being killed after the timeout."""
    from cfdi_cobranza.workers import ForkedWorker

    worker = ForkedWorker(_answer_nobody_reads, name="test-worker")
    worker.conn.send("go")
    worker.close()
    assert worker._proc.exitcode == 0  # not -15 (terminated)
