"""The pure rules of issue 15: the DOF rate of a payment date, and the 69-B list in the credit check."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from cfdi_cobranza.domain.credit import (
    CreditConditions,
    DecisionLevel,
    EfosStanding,
    Exposure,
    Operation,
    OperationKind,
    credit_check,
)
from cfdi_cobranza.domain.fx import dof_rate

# FIX by date of determination, October 2026: Mon 12 is a banking day, Fri 16 then Mon 19.
FIX = [(date(2026, 10, 12), D("19.0000")), (date(2026, 10, 13), D("19.1234")), (date(2026, 10, 14), D("19.1500")),
       (date(2026, 10, 15), D("19.2001")), (date(2026, 10, 16), D("19.3000")), (date(2026, 10, 19), D("19.4000"))]


@pytest.mark.parametrize(("day", "fix_day"), [
    (date(2026, 10, 13), date(2026, 10, 12)),  # Tuesday: the DOF publishes Monday's FIX
    (date(2026, 10, 15), date(2026, 10, 14)),  # Thursday
    (date(2026, 10, 16), date(2026, 10, 15)),  # Friday: Thursday's FIX
    (date(2026, 10, 17), date(2026, 10, 15)),  # Saturday: no DOF; Friday's publication rules
    (date(2026, 10, 18), date(2026, 10, 15)),  # Sunday
    (date(2026, 10, 19), date(2026, 10, 16)),  # Monday: Friday's FIX, published Monday
    (date(2026, 10, 20), date(2026, 10, 19)),  # the newest FIX is published the next weekday
])
def test_dof_rate_is_the_fix_published_on_or_before_the_day(day, fix_day):
    got = dof_rate(list(reversed(FIX)), day)
    assert got is not None and got[0] == fix_day and got[1] == dict(FIX)[fix_day]


def test_dof_rate_none_before_the_series_or_after_a_gap():
    assert dof_rate(FIX, date(2026, 10, 12)) is None  # Monday's FIX is not yet published that day
    assert dof_rate(FIX, date(2026, 11, 30)) is None  # 6 weeks without data: ask, do not guess
    assert dof_rate([], date(2026, 10, 13)) is None


def _check(efos: EfosStanding | None, kind: OperationKind = OperationKind.VENTA_CREDITO):
    cond = CreditConditions(limites={"MXN": D("100000")}, plazo_maximo_dias=30)
    return credit_check(cond, Exposure({"MXN": D("0")}), Operation(kind, D("1000"), "MXN", None), efos)


def test_efos_definitivo_restricts_with_the_reason():
    d = _check(EfosStanding("Definitivo", date(2023, 10, 13)))
    assert d.nivel is DecisionLevel.RESTRICCION and d.codes[0] == "EFOS_DEFINITIVO" and not d.permitida
    assert "69-B" in d.razones[0].mensaje and "13/10/2023" in d.razones[0].mensaje


def test_efos_presunto_warns_and_others_add_nothing():
    d = _check(EfosStanding("Presunto", None))
    assert (d.nivel, d.codes) == (DecisionLevel.ADVERTENCIA, ("EFOS_PRESUNTO",))
    for situacion in ("Desvirtuado", "Sentencia Favorable"):
        assert _check(EfosStanding(situacion, None)).codes == ("DENTRO_DE_CONDICIONES",)
    assert _check(EfosStanding("Definitivo", None), OperationKind.COBRO).nivel is DecisionLevel.INFORMACION
