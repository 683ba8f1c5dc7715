"""Credit check: one test per level rule, plus refusals of bad conditions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from cfdi_cobranza.domain.credit import (
    CollectionType,
    ControlLevel,
    CreditConditions,
    DecisionLevel,
    Exposure,
    Operation,
    OperationKind,
    credit_check,
)
from cfdi_cobranza.domain.receivables import OpenItem
from cfdi_cobranza.domain.states import CreditStatus
from cfdi_cobranza.errors import ValidationError

INFO = DecisionLevel.INFORMACION
WARN = DecisionLevel.ADVERTENCIA
AUTH = DecisionLevel.SOLICITUD_AUTORIZACION
STOP = DecisionLevel.RESTRICCION
VENTA = OperationKind.VENTA_CREDITO


def cond(**kw):
    base = {"limites": {"MXN": D("100000")}, "plazo_maximo_dias": 30}
    base.update(kw)
    return CreditConditions(**base)


def op(kind=VENTA, importe="10000", moneda="MXN", plazo=None):
    return Operation(kind, D(importe), moneda, plazo)


def check(c=None, e=None, o=None):
    return credit_check(c or cond(), e or Exposure({"MXN": D("20000")}), o or op())


def test_within_conditions():
    d = check()
    assert (d.nivel, d.codes) == (INFO, ("DENTRO_DE_CONDICIONES",))
    assert d.permitida
    assert d.disponible == {"MXN": D("80000")}
    assert d.nivel.etiqueta == "Información"


@pytest.mark.parametrize("kind", [VENTA, OperationKind.VENTA_CONTADO, OperationKind.PEDIDO])
def test_blocked_restricts_every_sale(kind):
    d = check(cond(estatus=CreditStatus.BLOQUEADO), o=op(kind))
    assert d.nivel is STOP
    assert "CLIENTE_BLOQUEADO" in d.codes
    assert not d.permitida
    assert "bloqueado" in d.razones[0].mensaje


def test_blocked_customer_can_still_be_collected():
    d = check(cond(estatus=CreditStatus.BLOQUEADO), o=op(OperationKind.COBRO, "0"))
    assert d.nivel is INFO


def test_judicial_restricts_and_collection_needs_authorization():
    c = cond(tipo_cobranza=CollectionType.JUDICIAL, nivel_control=ControlLevel.INFORMATIVO)
    assert check(c).nivel is STOP
    assert check(c, o=op(OperationKind.VENTA_CONTADO)).nivel is STOP
    d = check(c, o=op(OperationKind.COBRO))
    assert (d.nivel, d.codes) == (AUTH, ("COBRANZA_JUDICIAL",))


def test_suspended():
    c = cond(estatus=CreditStatus.SUSPENDIDO)
    assert check(c).nivel is AUTH
    assert check(c, o=op(OperationKind.VENTA_CONTADO)).nivel is WARN
    assert check(c, o=op(OperationKind.COBRO)).nivel is INFO


@pytest.mark.parametrize(
    ("tipo", "code"),
    [(CollectionType.ESPECIAL, "COBRANZA_ESPECIAL"), (CollectionType.OTRA, "COBRANZA_OTRA")],
)
def test_special_collection_types_warn(tipo, code):
    d = check(cond(tipo_cobranza=tipo))
    assert (d.nivel, d.codes) == (WARN, (code,))


@pytest.mark.parametrize(
    ("control", "level"),
    [
        (ControlLevel.INFORMATIVO, INFO),
        (ControlLevel.ADVERTENCIA, WARN),
        (ControlLevel.AUTORIZACION, AUTH),
        (ControlLevel.RESTRICTIVO, STOP),
    ],
)
def test_over_limit_follows_control_level(control, level):
    d = check(cond(nivel_control=control), o=op(importe="80000.01"))
    assert d.nivel is level
    assert d.codes == ("LIMITE_EXCEDIDO",)
    assert "$100,000.01 MXN" in d.razones[0].mensaje
    assert "por $0.01 MXN" in d.razones[0].mensaje


def test_exactly_at_the_limit_is_allowed_but_noted():
    d = check(o=op(importe="80000"))
    assert (d.nivel, d.codes) == (INFO, ("LIMITE_CERCANO",))
    assert "100 %" in d.razones[0].mensaje


def test_limit_is_per_currency():
    d = check(o=op(importe="10", moneda="USD"))
    assert (d.nivel, d.codes) == (AUTH, ("SIN_LIMITE_MONEDA",))
    c = cond(limites={"MXN": D("100000"), "USD": D("5000")})
    e = Exposure({"MXN": D("99000"), "USD": D("100")})
    assert check(c, e, op(importe="4000", moneda="USD")).codes == ("DENTRO_DE_CONDICIONES",)


def test_zero_limit_means_no_credit():
    d = check(cond(limites={"MXN": D("0")}), Exposure({}), op(importe="1"))
    assert d.codes == ("LIMITE_EXCEDIDO",)


def test_term_beyond_maximum():
    d = check(o=op(plazo=45))
    assert (d.nivel, d.codes) == (AUTH, ("PLAZO_EXCEDIDO",))
    assert check(o=op(plazo=30)).nivel is INFO


def test_overdue_beyond_tolerance():
    e = Exposure({"MXN": D("20000")}, dias_vencido_max=16)
    d = check(cond(dias_atraso_tolerados=15, nivel_control=ControlLevel.RESTRICTIVO), e)
    assert (d.nivel, d.codes) == (STOP, ("ATRASO_EXCEDIDO",))
    within = check(cond(dias_atraso_tolerados=16), e)
    assert (within.nivel, within.codes) == (INFO, ("SALDO_VENCIDO",))
    cash = check(cond(), e, op(OperationKind.VENTA_CONTADO))
    assert (cash.nivel, cash.codes) == (INFO, ("SALDO_VENCIDO",))


def test_several_reasons_most_severe_first():
    c = cond(estatus=CreditStatus.SUSPENDIDO, nivel_control=ControlLevel.RESTRICTIVO)
    e = Exposure({"MXN": D("95000")}, dias_vencido_max=40)
    d = credit_check(c, e, op(importe="10000", plazo=60))
    assert d.nivel is STOP
    assert d.razones[0].nivel is STOP
    assert set(d.codes) == {
        "CLIENTE_SUSPENDIDO",
        "LIMITE_EXCEDIDO",
        "PLAZO_EXCEDIDO",
        "ATRASO_EXCEDIDO",
    }
    assert d.disponible == {"MXN": D("5000")}


def test_exposure_from_open_items():
    as_of = date(2026, 5, 31)
    items = [
        OpenItem("1", "X", "X", "MXN", D("100"), date(2026, 4, 1)),
        OpenItem("2", "X", "X", "MXN", D("50"), date(2026, 6, 30)),
        OpenItem("3", "X", "X", "USD", D("10"), date(2026, 5, 21)),
    ]
    e = Exposure.from_items(items, as_of)
    assert e.saldos == {"MXN": D("150"), "USD": D("10")}
    assert e.saldo_vencido == {"MXN": D("100"), "USD": D("10")}
    assert e.dias_vencido_max == 60


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"limites": {"MXN": D("-1")}}, "LIMITE_INVALIDO"),
        ({"limites": {"XYZ": D("1")}}, "MONEDA_INVALIDA"),
        ({"plazo_maximo_dias": -1}, "PLAZO_INVALIDO"),
        ({"dias_atraso_tolerados": -1}, "PLAZO_INVALIDO"),
    ],
)
def test_bad_conditions_refused(kw, code):
    with pytest.raises(ValidationError) as err:
        cond(**kw)
    assert err.value.code == code


def test_bad_operations_refused():
    with pytest.raises(ValidationError) as err:
        op(importe="-5")
    assert err.value.code == "IMPORTE_INVALIDO"
    with pytest.raises(ValidationError) as err:
        op(moneda="PESOS")
    assert err.value.code == "MONEDA_INVALIDA"
    with pytest.raises(ValidationError) as err:
        op(plazo=-3)
    assert err.value.code == "PLAZO_INVALIDO"
