"""A payment received before the invoice it pays (docs/pagos20-decisions.md section 9)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from cfdi_cobranza.domain import advances
from cfdi_cobranza.domain.advances import AdvanceClass, classify
from cfdi_cobranza.domain.findings import Severity
from cfdi_cobranza.domain.payments import (
    OpenDocument,
    PaymentFunds,
    plan_application,
    plan_oldest_first,
)
from cfdi_cobranza.errors import ConflictError

D = Decimal


def doc(fecha: datetime, metodo: str = "PPD", uuid: str = "AAAAAAAA-0000-0000-0000-000000000001",
        folio: str = "7", total: str = "1160.00") -> OpenDocument:
    return OpenDocument(uuid=uuid, serie="A", folio=folio, customer="C1", moneda="MXN", total=D(total),
                        saldo=D(total), fecha=fecha, vencimiento=None, metodo_pago=metodo)


def funds(fecha: datetime, monto: str = "1160.00") -> PaymentFunds:
    return PaymentFunds("C1", "MXN", D(monto), D(1), fecha)


@pytest.mark.parametrize("metodo", ["PPD", "PUE"])
def test_paid_on_or_after_the_invoice_day_is_normal(metodo: str) -> None:
    invoice = datetime(2024, 3, 10, 18, 0)
    assert classify(datetime(2024, 3, 11, 9, 0), invoice, metodo).clase is AdvanceClass.NORMAL
    # The same day, even at an earlier hour: 12:00:00 is the SAT's placeholder for "no time known".
    assert classify(datetime(2024, 3, 10, 12, 0), invoice, metodo).clase is AdvanceClass.NORMAL
    assert classify(date(2024, 3, 10), invoice, metodo).code is None


def test_ppd_invoice_issued_within_the_rep_deadline_needs_confirmation() -> None:
    check = classify(datetime(2024, 3, 28, 12, 0), datetime(2024, 4, 5, 23, 59), "PPD", "A-7")
    assert check.clase is AdvanceClass.REQUIERE_CONFIRMACION and check.needs_confirmation
    assert check.code == "PAGO_ANTERIOR_A_FACTURA"
    assert check.deadline == date(2024, 4, 5)
    assert "28/03/2024" in (check.message or "") and "A-7" in (check.message or "")
    assert "confirm-advance" in (check.message or "")


@pytest.mark.parametrize("metodo", ["PPD", "PUE"])
def test_invoice_after_the_rep_deadline_is_an_anticipo(metodo: str) -> None:
    check = classify(datetime(2024, 3, 28, 12, 0), datetime(2024, 4, 6, 0, 1), metodo, "A-7")
    assert check.refused and check.code == "ANTICIPO_REQUERIDO"
    assert "TipoRelacion 07" in (check.message or "") and "forma de pago 30" in (check.message or "")
    assert "saldo a favor" in (check.message or "")


def test_december_payment_deadline_is_january_fifth() -> None:
    assert advances.rep_deadline(date(2024, 12, 20)) == date(2025, 1, 5)
    assert classify(date(2024, 12, 20), date(2025, 1, 5), "PPD").needs_confirmation
    assert classify(date(2024, 12, 20), date(2025, 1, 6), "PPD").refused


def test_pue_invoice_within_the_deadline_is_normal() -> None:
    # Received, then invoiced PUE with that forma de pago: the invoice documents the payment.
    assert classify(date(2024, 3, 28), date(2024, 4, 2), "PUE").clase is AdvanceClass.NORMAL


def test_planner_flags_a_line_paid_before_its_invoice() -> None:
    plan = plan_application(funds(datetime(2024, 3, 28, 12, 0)), [(doc(datetime(2024, 4, 2)), "1160.00", None)])
    (line,) = plan.lines
    assert line.requiere_confirmacion
    assert [(a.code, a.severity) for a in line.avisos] == [("PAGO_ANTERIOR_A_FACTURA", Severity.WARNING)]
    assert [a.code for a in plan.avisos] == ["PAGO_ANTERIOR_A_FACTURA"]


def test_planner_does_not_flag_a_normal_line() -> None:
    plan = plan_application(funds(datetime(2024, 4, 2, 12, 0)), [(doc(datetime(2024, 4, 2, 18, 0)), "1160.00", None)])
    assert not plan.lines[0].requiere_confirmacion and plan.avisos == ()


def test_planner_refuses_an_anticipo_all_or_nothing() -> None:
    normal = doc(datetime(2024, 3, 1), uuid="AAAAAAAA-0000-0000-0000-000000000002", folio="1", total="100.00")
    late = doc(datetime(2024, 5, 2))
    with pytest.raises(ConflictError) as exc:
        plan_application(funds(datetime(2024, 3, 28, 12, 0)), [(normal, "100.00", None), (late, "1060.00", None)])
    assert exc.value.code == "ANTICIPO_REQUERIDO" and exc.value.details["uuid"] == late.uuid


def test_oldest_first_skips_an_anticipo_and_keeps_the_money() -> None:
    normal = doc(datetime(2024, 3, 1), uuid="AAAAAAAA-0000-0000-0000-000000000002", folio="1", total="100.00")
    late = doc(datetime(2024, 5, 2))
    plan = plan_oldest_first(funds(datetime(2024, 3, 28, 12, 0)), [normal, late])
    assert [ln.uuid for ln in plan.lines] == [normal.uuid]
    assert plan.remanente == D("1060.00")
    assert "ANTICIPO_REQUERIDO" in [a.code for a in plan.avisos]
