"""Debt types as data narrow DebtStatus's table and never widen it; the post-dated rule;
a bounced instrument in the ledger; the cash cut sums."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cfdi_cobranza.domain.debts import (
    DEFAULT_TYPES,
    Bounce,
    BouncedCredit,
    CashReceipt,
    cash_cut,
    check_cash_date,
    debt_type,
    with_bounces,
)
from cfdi_cobranza.domain.ledger import ledger_entries
from cfdi_cobranza.domain.receivables import Application, Receivable, open_items
from cfdi_cobranza.domain.states import TRANSITIONS, DebtStatus
from cfdi_cobranza.errors import ConflictError, ValidationError


def test_default_types_only_use_moves_of_the_state_table():
    table = TRANSITIONS[DebtStatus]
    for kind in DEFAULT_TYPES:
        for old, moves in kind.transiciones.items():
            assert moves <= table[old], (kind.code, old)
    cheque = next(t for t in DEFAULT_TYPES if t.code == "cheque")
    assert cheque.transiciones == {s: table[s] for s in DebtStatus}  # every state: the whole table


@pytest.mark.parametrize("estados,transiciones,code", [
    (["cobrado"], None, "ESTADOS_INVALIDOS"),  # no en_cartera
    (["en_cartera", "magia"], None, "ESTADO_INVALIDO"),
    (["en_cartera", "cobrado"], {"en_cartera": ["cancelado"]}, "ESTADOS_INVALIDOS"),
    (None, {"cancelado": ["en_cartera"]}, "TRANSICION_NO_PERMITIDA"),
    (None, {"cobrado": ["depositado"]}, "TRANSICION_NO_PERMITIDA"),
])
def test_a_type_cannot_widen_the_table(estados, transiciones, code):
    with pytest.raises(ValidationError) as err:
        debt_type("x", "X", False, estados, transiciones)
    assert err.value.code == code


def test_a_type_narrows_check_move():
    letra = debt_type("letra", "Letra", True, ["en_cartera", "cobrado", "cancelado"], {"en_cartera": ["cobrado"]})
    assert letra.check_move(DebtStatus.EN_CARTERA, DebtStatus.COBRADO) is DebtStatus.COBRADO
    with pytest.raises(ConflictError) as err:  # the table allows it, the type does not
        letra.check_move(DebtStatus.EN_CARTERA, DebtStatus.CANCELADO)
    assert err.value.code == "TRANSICION_INVALIDA"
    with pytest.raises(ConflictError):  # the table itself refuses
        letra.check_move(DebtStatus.COBRADO, DebtStatus.EN_CARTERA)
    with pytest.raises(ValidationError):
        debt_type("con espacio", "X", False)


def test_post_dated_stays_en_cartera_until_its_date():
    check_cash_date(DebtStatus.PROTESTADO, date(2026, 1, 1), date(2026, 2, 1))
    check_cash_date(DebtStatus.DEPOSITADO, date(2026, 2, 1), date(2026, 2, 1))
    with pytest.raises(ConflictError) as err:
        check_cash_date(DebtStatus.DEPOSITADO, date(2026, 1, 31), date(2026, 2, 1))
    assert err.value.code == "DOCUMENTO_POSFECHADO"


def _inv():
    return Receivable("F1", "AAA010101AAA", "A", "MXN", Decimal("1000"), date(2026, 1, 1), date(2026, 1, 31))


def test_bounce_in_the_ledger_keeps_the_balance_and_shows_the_charge():
    bounce = Bounce(7, "cheque", date(2026, 1, 20), "Cheque 12 devuelto: sin fondos",
                    (BouncedCredit("F1", date(2026, 1, 10), Decimal("400"), "P1", Decimal("400"), "Pago 1"),))
    docs, apps = with_bounces([_inv()], [], [bounce], date(2026, 1, 31))
    entries = ledger_entries(docs, apps)
    assert [(e.fecha, e.cargo, e.abono, e.concepto) for e in entries] == [
        (date(2026, 1, 1), Decimal("1000"), 0, "Factura"), (date(2026, 1, 10), 0, Decimal("400"), "Pago"),
        (date(2026, 1, 20), Decimal("400"), 0, "Cheque devuelto")]
    assert sum(e.cargo - e.abono for e in entries) == Decimal("1000")
    assert {i.doc_id: i.saldo for i in open_items(docs, apps, date(2026, 1, 31))} == {"F1": Decimal("1000")}
    # Looked at before the bounce: the payment still stood.
    docs, apps = with_bounces([_inv()], [], [bounce], date(2026, 1, 15))
    assert apps == [Application("F1", date(2026, 1, 10), Decimal("400"), payment_id="P1",
                                importe_pago=Decimal("400"), referencia="Pago 1")]
    assert len(docs) == 1


def test_cash_cut_groups_by_form_user_and_currency():
    receipts = [CashReceipt(1, "01", "ana", "MXN", Decimal("10.10"), False),
                CashReceipt(2, "01", "ana", "MXN", Decimal("0.90"), False),
                CashReceipt(3, "02", "beto", "USD", Decimal("5"), True)]
    cut = cash_cut("Caja", date(2026, 1, 1), receipts, [])
    assert [(ln.forma_pago, ln.usuario, ln.moneda, ln.recibos, ln.importe) for ln in cut.lineas] == [
        ("01", "ana", "MXN", 2, Decimal("11.00")), ("02", "beto", "USD", 1, Decimal("5"))]
    assert cut.totales == {"MXN": Decimal("11.00"), "USD": Decimal("5")}
    assert cut.devueltos == {"USD": Decimal("5")}
