"""The debt services on SQLite and PostgreSQL: instruments from receipts, configurable
types, a returned cheque (all-or-nothing, audited, REP refused), statement/summary/payment
list agreeing afterwards, and the cash cut."""

from __future__ import annotations

import itertools
import uuid as uuidlib
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cfdi_cobranza.cfdi.factory import CfdiFactory, Line
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.db.models import (
    AuditEntry,
    Company,
    Credit,
    Customer,
    Document,
    Payment,
    Rep,
    RepLine,
)
from cfdi_cobranza.db.models.collections import DebtDocument
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.payments import ReceiptInput
from cfdi_cobranza.domain.period import DateRange
from cfdi_cobranza.errors import ConflictError, ValidationError
from cfdi_cobranza.services import collection_reports as reports
from cfdi_cobranza.services import debts
from cfdi_cobranza.services import payments as pay
from cfdi_cobranza.services.importing import Importer

RFC = "URE180429TM6"


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    counter = itertools.count(1)
    return CfdiFactory(tmp_path_factory.mktemp("sb"), uuid_source=lambda: uuidlib.UUID(int=next(counter) + 0xDEB70000),
                       clock=lambda: datetime(2026, 10, 1, 12, 0))


@pytest.fixture
def invoice(engine, settings, factory, clock):
    doc = factory.invoice([Line(Decimal("1000.00"))], folio="1", fecha=datetime(2026, 9, 1, 10, 0))  # 1,160.00
    res = Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir]).import_candidates(
        [Candidate("a.xml", doc.xml)])
    assert res.ok, res.to_dict()
    return doc.uuid.upper()


def _receipt(engine, form, amount="800.00", *, actor="caja", box=None, when=datetime(2026, 10, 10, 12, 0), clock):
    with transaction(engine) as s:
        st = pay.register_settlement(s, [ReceiptInput(RFC, "", when, form, "MXN", amount, num_operacion="N-1",
                                                      rfc_emisor_cta_ord="BBA830831LJ2" if form == "02" else None,
                                                      caja=box)], actor=actor, clock=clock)
        return st.payments[0].id


def test_receipts_by_cheque_or_card_create_their_instrument(engine, invoice, clock):
    cheque, card, debit, transfer = (_receipt(engine, f, clock=clock) for f in ("02", "04", "28", "03"))
    with transaction(engine) as s:
        rows = {d.payment_id: d for d in s.scalars(select(DebtDocument))}
        assert set(rows) == {cheque, card, debit}
        ch = rows[cheque]
        assert (ch.tipo, ch.numero, ch.banco, ch.importe, ch.fecha, ch.fecha_cobro, ch.estado) == (
            "cheque", "N-1", "BBA830831LJ2", Decimal("800.00"), date(2026, 10, 10), date(2026, 10, 10), "en_cartera")
        assert rows[card].tipo == rows[debit].tipo == "tarjeta"
        links = {r.id: r.documento_cobranza for r in pay.list_payments(s, RFC)}
        assert links == {cheque: ch.id, card: rows[card].id, debit: rows[debit].id, transfer: None}
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "documento_registrado")) == 3


def test_returned_cheque_reopens_audits_and_everyone_agrees(engine, invoice, clock):
    pid = _receipt(engine, "02", clock=clock)
    with transaction(engine) as s:
        pay.apply_payment(s, pid, [pay.Allocation(invoice, "800.00")], actor="caja", clock=clock)
        [doc] = debts.list_debt_documents(s, RFC)
        debts.change_debt_state(s, doc.row.id, "depositado", fecha=date(2026, 10, 11), actor="caja", clock=clock)
    with transaction(engine) as s:
        assert s.scalar(select(Document.saldo).where(Document.uuid == invoice)) == Decimal("360.00")
        with pytest.raises(ValidationError) as err:
            debts.change_debt_state(s, doc.row.id, "devuelto", fecha=date(2026, 10, 12), actor="caja", clock=clock)
        assert err.value.code == "MOTIVO_REQUERIDO"
    with transaction(engine) as s:
        view = debts.change_debt_state(s, doc.row.id, "devuelto", fecha=date(2026, 10, 12), actor="caja",
                                       nota="Firma no coincide", clock=clock)
        assert len(view.reversed_credits) == 1
    as_of = date(2026, 10, 31)
    with transaction(engine) as s:
        assert s.scalar(select(Document.saldo).where(Document.uuid == invoice)) == Decimal("1160.00")
        assert s.get(Payment, pid).status == "devuelto"
        credit = s.get(Credit, view.reversed_credits[0])
        assert "Firma no coincide" in credit.reverse_reason
        actions = set(s.scalars(select(AuditEntry.action)))
        assert {"documento_devuelto", "revertir_aplicacion"} <= actions
        [row] = pay.list_payments(s, RFC)
        overview = reports.customer_overview(s, RFC, as_of)
        assert row.saldo_a_favor == Decimal(0)
        assert pay.payment_detail(s, pid, as_of).disponible == Decimal(0)
        assert overview.summary.saldo_sin_aplicar.get("MXN", Decimal(0)) == row.saldo_a_favor
        assert overview.summary.saldo == {"MXN": Decimal("1160.00")}
        [charge] = overview.extra["cargos_devueltos"]
        assert charge["fecha"] == "2026-10-12" and "Firma no coincide" in charge["concepto"]
        [st] = reports.customer_statement(s, RFC, DateRange(date(2026, 9, 1), as_of), today=as_of)
        moves = [(ln.fecha, ln.cargo, ln.abono, ln.entry.concepto) for ln in st.lineas]
        assert moves == [(date(2026, 9, 1), Decimal("1160.00"), 0, "Factura"),
                         (date(2026, 10, 10), 0, Decimal("800.00"), "Pago"),
                         (date(2026, 10, 12), Decimal("800.00"), 0, "Cheque devuelto")]
        assert st.saldo_final == Decimal("1160.00")
        # Before the bounce, the statement shows the payment standing.
        [early] = reports.customer_statement(s, RFC, DateRange(date(2026, 9, 1), date(2026, 10, 11)),
                                             today=as_of)
        assert early.saldo_final == Decimal("360.00")


def test_returned_cheque_under_a_live_rep_changes_nothing(engine, invoice, clock):
    pid = _receipt(engine, "02", clock=clock)
    with transaction(engine) as s:
        pay.apply_payment(s, pid, [pay.Allocation(invoice, "800.00")], actor="caja", clock=clock)
        [doc] = debts.list_debt_documents(s, RFC)
        debts.change_debt_state(s, doc.row.id, "depositado", fecha=date(2026, 10, 11), actor="caja", clock=clock)
        credit = s.scalar(select(Credit).where(Credit.payment_id == pid))
        customer = s.scalar(select(Customer).where(Customer.key == RFC))
        company = s.scalar(select(Company))
        rep = Rep(company_id=company.id, customer_id=customer.id, serie="P", folio=7, status="timbrado",
                  idempotency_key="k-debts-1", fecha=datetime(2026, 10, 10, 12), uuid="AAAAAAAA-1111-2222-3333-444444444444",
                  pac="sandbox", created_at=clock())
        s.add(rep)
        s.flush()
        s.add(RepLine(rep_id=rep.id, credit_id=credit.id, payment_id=pid))
    audits = _count(engine, AuditEntry)
    with transaction(engine) as s, pytest.raises(ConflictError) as err:
        debts.change_debt_state(s, doc.row.id, "devuelto", fecha=date(2026, 10, 12), actor="caja", nota="x",
                                clock=clock)
    assert err.value.code == "PAGO_CON_REP" and "AAAAAAAA-1111" in err.value.message
    with transaction(engine) as s:
        assert s.get(DebtDocument, doc.row.id).estado == "depositado"
        assert s.get(Payment, pid).status == "activo"
        assert s.scalar(select(Credit.reversed_at).where(Credit.payment_id == pid)) is None
        assert s.scalar(select(Document.saldo).where(Document.uuid == invoice)) == Decimal("360.00")
    assert _count(engine, AuditEntry) == audits
    with transaction(engine) as s:  # once the REP is cancelled, the bounce goes through
        s.scalar(select(Rep)).status = "cancelado"
    with transaction(engine) as s:
        debts.change_debt_state(s, doc.row.id, "devuelto", fecha=date(2026, 10, 12), actor="caja", nota="x",
                                clock=clock)


def _count(engine, model):
    with transaction(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


def test_types_are_data_and_cannot_strand_documents(engine, invoice, clock):
    with transaction(engine) as s:
        debts.set_type(s, "letra", nombre="Letra de cambio", posfechable=True,
                       estados=["en_cartera", "cobrado", "protestado", "cancelado"],
                       transiciones={"en_cartera": ["cobrado", "protestado"], "protestado": ["cobrado"]},
                       actor="admin", clock=clock)
        doc = debts.register_debt_document(s, RFC, tipo="letra", importe=Decimal("0.01"), fecha=date(2026, 10, 1),
                                           fecha_cobro=date(2026, 11, 1), actor="admin", clock=clock)
    with transaction(engine) as s:
        assert [t.code for t in debts.list_types(s)][-1] == "letra"
        assert s.get(DebtDocument, doc.row.id).importe == Decimal("0.01")
        with pytest.raises(ConflictError) as err:
            debts.change_debt_state(s, doc.row.id, "cancelado", fecha=date(2026, 11, 2), actor="a", clock=clock)
        assert err.value.code == "TRANSICION_INVALIDA"
        debts.change_debt_state(s, doc.row.id, "protestado", fecha=date(2026, 11, 2), actor="a", nota="x",
                                clock=clock)
    with transaction(engine) as s, pytest.raises(ConflictError) as err:
        debts.set_type(s, "letra", nombre="Letra", posfechable=True, estados=["en_cartera", "cobrado"],
                       actor="admin", clock=clock)
    assert err.value.code == "TIPO_EN_USO"


def test_cash_cut_by_box_day_form_and_user(engine, invoice, clock):
    with transaction(engine) as s:
        pay.add_cash_box(s, "Mostrador", "caja")
        pay.add_cash_box(s, "Banco", "banco")
    _receipt(engine, "02", "800.00", actor="ana", box="Mostrador", clock=clock)
    _receipt(engine, "01", "100.10", actor="ana", box="Mostrador", clock=clock)
    _receipt(engine, "01", "50.00", actor="beto", box="Mostrador", clock=clock)
    _receipt(engine, "01", "7.00", actor="beto", box="Banco", clock=clock)
    _receipt(engine, "01", "9.00", actor="beto", box="Mostrador", when=datetime(2026, 10, 11, 0, 0), clock=clock)
    with transaction(engine) as s:
        cut = debts.cash_cut(s, "Mostrador", date(2026, 10, 10))
        assert [(ln.forma_pago, ln.usuario, ln.recibos, ln.importe) for ln in cut.lineas] == [
            ("01", "ana", 1, Decimal("100.10")), ("01", "beto", 1, Decimal("50.00")),
            ("02", "ana", 1, Decimal("800.00"))]
        assert cut.totales == {"MXN": Decimal("950.10")}
        assert [(c.numero, c.importe) for c in cut.cheques] == [("N-1", Decimal("800.00"))]
        assert debts.cash_cut(s, None, date(2026, 10, 10)).totales == {"MXN": Decimal("957.10")}
