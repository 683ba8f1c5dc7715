"""How a batch of REPs is stamped: ``stamp_each`` keeps each outcome in place and stops
knocking once the PAC is down."""

from __future__ import annotations

from datetime import datetime

from cfdi_cobranza.errors import PacError
from cfdi_cobranza.pac.base import PAC_NO_DISPONIBLE, StampRequest, StampResult, stamp_each


class _Pac:
    name = "fake"
    is_sandbox = False

    def __init__(self, fail: dict[int, str]) -> None:
        self.fail, self.calls = fail, 0

    def stamp(self, request: StampRequest) -> StampResult:
        self.calls += 1
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
