"""The automatic-REP policy and the retry delay, as pure rules."""

from __future__ import annotations

from datetime import datetime

import pytest

from cfdi_cobranza.domain.jobs import Policy, RepMode, retry_delay
from cfdi_cobranza.errors import ValidationError


def test_default_is_daily_at_seven_pm_issued_by_day_three() -> None:
    assert Policy() == Policy(RepMode.DIARIO, "19:00", 3)
    assert Policy.parse("Diario ") == Policy()


@pytest.mark.parametrize(("mode", "now", "due"), [
    ("diario", datetime(2026, 12, 6, 18, 59), None),
    ("diario", datetime(2026, 12, 6, 19, 0), "2026-12-06"),
    ("diario", datetime(2026, 12, 1, 23, 59), "2026-12-01"),
    ("mensual", datetime(2026, 12, 2, 20, 0), None),  # before day 3
    ("mensual", datetime(2026, 12, 3, 18, 0), None),  # day 3, before the hour
    ("mensual", datetime(2026, 12, 3, 19, 0), "2026-12-03"),
    ("mensual", datetime(2026, 12, 4, 19, 30), "2026-12-04"),  # again while something is left
    ("manual", datetime(2026, 12, 3, 23, 0), None),
    ("al-aplicar", datetime(2026, 12, 3, 23, 0), None),
])
def test_run_due_is_keyed_by_the_local_day(mode: str, now: datetime, due: str | None) -> None:
    day = Policy.parse(mode).run_due(now)
    assert (day.isoformat() if day else None) == due


@pytest.mark.parametrize(("args", "code"), [
    (("semanal",), "REP_POLITICA_MODO_INVALIDO"),
    (("diario", "7:00"), "REP_POLITICA_HORA_INVALIDA"),
    (("diario", "24:00"), "REP_POLITICA_HORA_INVALIDA"),
    (("mensual", "08:00", 0), "REP_POLITICA_DIA_INVALIDO"),
    (("mensual", "08:00", 6), "REP_POLITICA_DIA_INVALIDO"),
    (("mensual", "08:00", "x"), "REP_POLITICA_DIA_INVALIDO"),
])
def test_bad_policy_is_refused_with_a_stable_code(args: tuple[object, ...], code: str) -> None:
    with pytest.raises(ValidationError) as err:
        Policy.parse(*args)  # type: ignore[arg-type]
    assert err.value.code == code and err.value.message


def test_retry_delay_doubles_up_to_an_hour() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4, 8, 20)] == [30, 60, 120, 240, 3600, 3600]
