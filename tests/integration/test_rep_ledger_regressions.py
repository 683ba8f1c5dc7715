"""Regressions found in review: instalment numbering, monthly REPs, substitution retries,
complements imported after our applications, payments across companies.

Each scenario goes through the real services (importer, payments, stamper with the
sandbox PAC) on SQLite and PostgreSQL, and checks the figures the SAT will read.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

import pytest
from lxml import etree
from sqlalchemy import select
from test_rep_examples import NS, Book

from cfdi_cobranza.cfdi.factory import Line, PaidDoc
from cfdi_cobranza.db.models import Document, Rep
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import ConflictError
from cfdi_cobranza.pac.base import rejected
from cfdi_cobranza.services import payments as svc
from cfdi_cobranza.services.payments import Allocation
from cfdi_cobranza.services.stamping import RepRefused


@pytest.fixture
def book(engine, settings, tmp_path) -> Book:  # type: ignore[no-untyped-def]
    return Book.open(engine, settings, tmp_path)


def drs(xml: bytes) -> list[tuple[str | None, ...]]:
    root = etree.fromstring(xml)
    return [(dr.get("NumParcialidad"), dr.get("ImpSaldoAnt"), dr.get("ImpPagado"), dr.get("ImpSaldoInsoluto"))
            for dr in root.iterfind(".//pago20:DoctoRelacionado", NS)]


def test_backdated_payment_after_a_stamped_rep_takes_the_next_instalment(book: Book) -> None:
    inv = book.invoices(A=[Line(D("10000.00"))])  # 11,600.00
    late = book.pay("5000.00", fecha=datetime(2026, 10, 20, 12, 0))
    book.apply(late, [(inv["A"], "5000.00")])
    assert drs(book.issue(late).xml) == [("1", "11600.00", "5000.00", "6600.00")]
    early = book.pay("3000.00", fecha=datetime(2026, 10, 5, 12, 0))  # recorded later, dated earlier
    book.apply(early, [(inv["A"], "3000.00")])
    other = book.pay("100.00", fecha=datetime(2026, 10, 25, 12, 0))
    book.apply(other, [(inv["A"], "100.00")])
    with transaction(book.engine) as s:
        svc.unapply(s, other, reason="captura duplicada", clock=book.clock)  # renumbers what is open
    assert drs(book.issue(early).xml) == [("2", "6600.00", "3000.00", "3600.00")]


def test_monthly_rep_keeps_the_stored_figures_after_a_credit_note(book: Book) -> None:
    inv = book.invoices(A=[Line(D("10000.00"))])
    p1 = book.pay("5000.00", fecha=datetime(2026, 10, 5, 12, 0))
    book.apply(p1, [(inv["A"], "5000.00")])
    nc = book.factory.credit_note(inv["A"], [Line(D("1000.00"), descripcion="Descuento")], folio="NC1",
                                  fecha=datetime(2026, 10, 6, 10, 0))  # 1,160.00
    book.load({"NC": nc})
    p2 = book.pay("5440.00", fecha=datetime(2026, 10, 10, 12, 0))
    book.apply(p2, [(inv["A"], "5440.00")])
    (result,) = book.stamper.issue_all_pending(monthly=True)
    assert result.status == "timbrado", result.to_dict()
    assert drs(result.xml) == [("1", "11600.00", "5000.00", "6600.00"), ("2", "5440.00", "5440.00", "0.00")]


def test_monthly_rep_with_payments_applied_out_of_date_order(book: Book) -> None:
    inv = book.invoices(A=[Line(D("10000.00"))])
    late = book.pay("5000.00", fecha=datetime(2026, 10, 20, 12, 0))
    book.apply(late, [(inv["A"], "5000.00")])
    early = book.pay("6600.00", fecha=datetime(2026, 10, 5, 12, 0))
    book.apply(early, [(inv["A"], "6600.00")])
    (result,) = book.stamper.issue_all_pending(monthly=True)
    assert result.status == "timbrado", result.to_dict()
    assert sorted(drs(result.xml)) == [("1", "11600.00", "5000.00", "6600.00"), ("2", "6600.00", "6600.00", "0.00")]


def test_substitution_retry_reuses_the_replacement(book: Book) -> None:
    inv = book.invoices(A=[Line(D("10000.00"))])
    pid = book.pay("5000.00")
    book.apply(pid, [(inv["A"], "5000.00")])
    old = book.issue(pid)
    inner = book.stamper.pac

    class RefusesCancel:
        name, is_sandbox = "sandbox", True

        def stamp(self, r):  # type: ignore[no-untyped-def]
            return inner.stamp(r)

        def recover(self, r):  # type: ignore[no-untyped-def]
            return inner.recover(r)

        def status(self, *a):  # type: ignore[no-untyped-def]
            return inner.status(*a)

        def cancel(self, r):  # type: ignore[no-untyped-def]
            raise rejected("Sandbox", "CANC110", "El receptor rechazó la cancelación")

    book.stamper.pac = RefusesCancel()
    for _ in range(2):
        with pytest.raises(RepRefused) as exc:
            book.stamper.cancel(old.uuid, "01", replace=True)
        assert exc.value.code == "CANCELACION_RECHAZADA" and "reutilizará" in exc.value.message
    book.stamper.pac = inner
    out = book.stamper.cancel(old.uuid, "01", replace=True).to_dict()
    assert out["status"] == "sustituido"
    with transaction(book.engine) as s:
        reps = s.scalars(select(Rep).order_by(Rep.id)).all()
        assert [(r.folio, r.status) for r in reps] == [(1, "sustituido"), (2, "timbrado")]  # one replacement only


def test_complement_imported_after_our_application(book: Book) -> None:
    inv = book.invoices(A=[Line(D("10000.00"))])
    pid = book.pay("5000.00")
    book.apply(pid, [(inv["A"], "5000.00")])
    ext = book.factory.payment([PaidDoc(inv["A"], 1, D("11600.00"), D("2000.00"))], folio="X1")
    book.load({"EXT": ext})
    # Our open instalment moves after the one the other system already complemented.
    assert drs(book.issue(pid).xml) == [("2", "9600.00", "5000.00", "4600.00")]
    # Another system complements what we already applied: it would pay the invoice twice.
    dup = book.factory.payment([PaidDoc(inv["A"], 2, D("9600.00"), D("9600.00"))], folio="X2")
    from cfdi_cobranza.cfdi.sources import Candidate
    from cfdi_cobranza.services.importing import Importer

    res = Importer(book.engine, book.settings, clock=book.clock, extra_cert_dirs=[book.sandbox_dir]
                   ).import_candidates([Candidate("dup.xml", dup.xml)])
    assert res.results[0].code == "COMPLEMENTO_EXCEDE_SALDO"
    with transaction(book.engine) as s:
        assert s.scalar(select(Document.saldo).where(Document.uuid == inv["A"])) == D("4600.00")


def test_payment_of_one_company_cannot_settle_another_companys_invoice(book: Book) -> None:
    inv = book.invoices(A=[Line(D("10000.00"))])
    from cfdi_cobranza.services.ledger import add_company

    with transaction(book.engine) as s:
        add_company(s, "AAA010101AAA", "OTRA EMPRESA", "601", "01000", clock=book.clock)
    from cfdi_cobranza.domain.payments import ReceiptInput

    with transaction(book.engine) as s:
        st = svc.register_settlement(s, [ReceiptInput(customer="URE180429TM6", company="AAA010101AAA",
                                                      fecha_pago=datetime(2026, 10, 15, 12, 0), forma_pago="03",
                                                      moneda="MXN", monto="1000.00")], clock=book.clock)
        pid = st.payments[0].id
    with pytest.raises(ConflictError) as exc, transaction(book.engine) as s:
        svc.apply_payment(s, pid, [Allocation(inv["A"], "1000.00")], clock=book.clock)
    assert exc.value.code == "DOCUMENTO_OTRA_EMPRESA"
    with transaction(book.engine) as s:
        assert svc.apply_oldest_first(s, pid, clock=book.clock).lines == []


def test_unapply_refused_when_a_later_instalment_is_stamped(book: Book) -> None:
    inv = book.invoices(A=[Line(D("10000.00"))])
    first = book.pay("1000.00")
    book.apply(first, [(inv["A"], "1000.00")])
    second = book.pay("2000.00")
    book.apply(second, [(inv["A"], "2000.00")])
    book.issue(second)
    with pytest.raises(ConflictError) as exc, transaction(book.engine) as s:
        svc.unapply(s, first, reason="error", clock=book.clock)
    assert exc.value.code == "APLICACION_POSTERIOR_CON_REP"


@pytest.mark.postgres
def test_locking_reads_refresh_rows_already_in_the_session(pg_engine, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A screen read the invoice, another user applied a payment: we must plan on the new saldo."""
    from cfdi_cobranza.db.session import session_factory

    book = Book.open(pg_engine, settings, tmp_path)
    inv = book.invoices(A=[Line(D("10000.00"))])
    p1, p2 = book.pay("1000.00"), book.pay("500.00")
    with session_factory(pg_engine)() as sa:
        seen = sa.scalar(select(Document).where(Document.uuid == inv["A"]))
        assert seen is not None and seen.saldo == D("11600.00")
        book.apply(p1, [(inv["A"], "1000.00")])  # committed by someone else meanwhile
        r = svc.apply_payment(sa, p2, [Allocation(inv["A"], "500.00")], clock=book.clock)
        sa.commit()
    (ln,) = r.lines
    assert (ln.num_parcialidad, ln.imp_saldo_ant, ln.imp_saldo_insoluto) == (2, D("10600.00"), D("10100.00"))
