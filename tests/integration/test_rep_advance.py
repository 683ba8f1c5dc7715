"""Payments received before the invoice they pay (docs/pagos20-decisions.md section 9), on
SQLite and PostgreSQL: flagged and held back from the REP until confirmed, or refused as
an anticipo with the money kept as saldo a favor."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine, func, select
from test_rep_examples import INVOICE_DAY, NS, Book

from cfdi_cobranza.cfdi.factory import Line
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import AuditEntry, Credit, Payment, Rep
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import ConflictError, NotFoundError
from cfdi_cobranza.services import payments as svc
from cfdi_cobranza.services.payments import Allocation
from cfdi_cobranza.services.stamping import RepRefused, pending

D = Decimal
BEFORE = datetime(2026, 9, 28, 12, 0)  # before the invoice (2026-10-01), its REP deadline 2026-10-05
TOO_EARLY = datetime(2026, 8, 20, 12, 0)  # REP deadline 2026-09-05: the invoice came after it


@pytest.fixture
def book(engine: Engine, settings: Settings, tmp_path: Path) -> Book:
    return Book.open(engine, settings, tmp_path)


def test_paid_before_the_invoice_is_flagged_and_its_rep_waits_for_confirmation(book: Book) -> None:
    assert INVOICE_DAY.date() > BEFORE.date()
    uuids = book.invoices(F=[Line(D("1000.00"))])
    pid = book.pay("1160.00", fecha=BEFORE)
    result = book.apply(pid, [(uuids["F"], "1160.00")])
    data = result.to_dict()
    assert [w["code"] for w in data["warnings"]] == ["PAGO_ANTERIOR_A_FACTURA"]
    assert data["warnings"][0]["uuid"] == uuids["F"]
    assert data["lines"][0]["requiere_confirmacion"] is True
    with transaction(book.engine) as s:
        credit = s.scalar(select(Credit).where(Credit.payment_id == pid))
        assert credit is not None and credit.advance_pending is True and credit.advance_confirmed_at is None
        (row,) = svc.list_payments(s)
        assert row.to_dict()["aplicaciones"][0]["pago_anterior"] == "por_confirmar"
        (pend,) = pending(s, today=INVOICE_DAY.date())
        assert pend.por_confirmar == 1 and pend.to_dict()["por_confirmar"] == 1

    with pytest.raises(RepRefused) as exc:
        book.stamper.issue([pid])
    assert exc.value.code == "PAGO_ANTERIOR_SIN_CONFIRMAR"
    assert f"cobranza payment confirm-advance {pid}" in exc.value.message
    assert f"/api/v1/payments/{pid}/confirm-advance" in exc.value.message
    with transaction(book.engine) as s:
        assert s.scalar(select(func.count(Rep.id))) == 0  # nothing saved, no folio taken

    with transaction(book.engine) as s:
        ids = svc.confirm_advance(s, pid, actor="ana", note="pedido 77 con precio pactado", clock=book.clock)
    assert ids == [credit.id]
    with transaction(book.engine) as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "confirmar_pago_anterior"))
        assert entry is not None and entry.actor == "ana" and entry.entity_id == str(pid)
        assert "pedido 77" in entry.detail
        (row,) = svc.list_payments(s)
        assert row.aplicaciones[0].pago_anterior == "confirmado" and row.aplicaciones[0].confirmado_por == "ana"
        assert pending(s, today=INVOICE_DAY.date())[0].por_confirmar == 0

    issued = book.issue(pid)
    assert issued.xml is not None
    pago = etree.fromstring(issued.xml).find(".//pago20:Pago", NS)
    assert pago is not None and pago.get("FechaPago") == "2026-09-28T12:00:00"  # the real date, not moved

    with transaction(book.engine) as s, pytest.raises(ConflictError) as again:
        svc.confirm_advance(s, pid, actor="ana", clock=book.clock)
    assert again.value.code == "SIN_PAGO_ANTERIOR_POR_CONFIRMAR"


def test_batch_run_refuses_only_the_unconfirmed_payment(book: Book) -> None:
    uuids = book.invoices(F=[Line(D("1000.00"))], G=[Line(D("1000.00"))])
    early = book.pay("1160.00", fecha=BEFORE)
    book.apply(early, [(uuids["F"], "1160.00")])
    normal = book.pay("1160.00")
    book.apply(normal, [(uuids["G"], "1160.00")])
    results = book.stamper.issue_all_pending()
    by_status = sorted((r.status.value, [f.code for f in r.findings]) for r in results)
    assert by_status == [("rechazado", ["PAGO_ANTERIOR_SIN_CONFIRMAR"]), ("timbrado", [])]
    refused = next(r for r in results if r.status.value == "rechazado")
    assert refused.message and refused.message.startswith(f"Pagos {early}: ")


def test_invoice_after_the_payments_rep_deadline_is_an_anticipo_and_nothing_is_applied(book: Book) -> None:
    uuids = book.invoices(F=[Line(D("1000.00"))])
    pid = book.pay("1160.00", fecha=TOO_EARLY)
    with transaction(book.engine) as s, pytest.raises(ConflictError) as exc:
        svc.apply_payment(s, pid, [Allocation(uuids["F"], "1160.00")], clock=book.clock)
    assert exc.value.code == "ANTICIPO_REQUERIDO"
    assert "TipoRelacion 07" in exc.value.message and "saldo a favor" in exc.value.message
    with transaction(book.engine) as s:
        assert s.scalar(select(func.count(Credit.id))) == 0
        payment = s.get(Payment, pid)
        assert payment is not None and payment.aplicado == 0

    with transaction(book.engine) as s:
        result = svc.apply_oldest_first(s, pid, clock=book.clock)
    assert result.lines == [] and result.saldo_a_favor == D("1160.00")
    assert [w["code"] for w in result.to_dict()["warnings"]] == ["ANTICIPO_REQUERIDO"]


def test_a_reversed_flagged_application_no_longer_blocks(book: Book) -> None:
    uuids = book.invoices(F=[Line(D("1000.00"))])
    pid = book.pay("2320.00", fecha=BEFORE)
    book.apply(pid, [(uuids["F"], "1160.00")])
    with transaction(book.engine) as s:
        svc.unapply(s, pid, reason="era un anticipo", clock=book.clock)
    with transaction(book.engine) as s, pytest.raises(ConflictError) as exc:
        svc.confirm_advance(s, pid, clock=book.clock)
    assert exc.value.code == "SIN_PAGO_ANTERIOR_POR_CONFIRMAR"
    with transaction(book.engine) as s, pytest.raises(NotFoundError) as missing:
        svc.confirm_advance(s, 999_999, clock=book.clock)
    assert missing.value.code == "PAGO_NO_ENCONTRADO"


def test_paid_after_the_invoice_is_not_flagged(book: Book) -> None:
    uuids = book.invoices(F=[Line(D("1000.00"))])
    pid = book.pay("1160.00")
    data = book.apply(pid, [(uuids["F"], "1160.00")]).to_dict()
    assert data["warnings"] == [] and data["lines"][0]["requiere_confirmacion"] is False
    book.issue(pid)
