"""Payments service on both databases: applying, reversing, refusals, concurrency."""

from __future__ import annotations

import itertools
import threading
import uuid as uuidlib
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cfdi_cobranza.cfdi.factory import CfdiFactory, Line, PaidDoc, Receptor
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.db.models import AuditEntry, Credit, Customer, Document, Payment
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.payments import ReceiptInput
from cfdi_cobranza.errors import CobranzaError, ConflictError, NotFoundError, ValidationError
from cfdi_cobranza.services import payments as svc
from cfdi_cobranza.services.customers import customer_choice, customers_for_select
from cfdi_cobranza.services.importing import Importer
from cfdi_cobranza.services.payments import Allocation

OTHER = Receptor("DME980512KJ3", "DISTRIBUIDORA MEDICA DEL BAJIO", "601", "37000", "G03")


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    counter = itertools.count(1)
    return CfdiFactory(tmp_path_factory.mktemp("sb"), uuid_source=lambda: uuidlib.UUID(int=next(counter) + 0x5A1D0000),
                       clock=lambda: datetime(2026, 10, 1, 12, 0))


@pytest.fixture
def ledger(engine, settings, factory, clock):
    """Three MXN invoices, a USD one and a PUE one for customer A; one invoice for customer B."""
    docs = {
        "A1": factory.invoice([Line(Decimal("10000.00"))], folio="1", fecha=datetime(2026, 8, 1, 10, 0)),  # 11,600
        "A2": factory.invoice([Line(Decimal("5000.00"))], folio="2", fecha=datetime(2026, 9, 1, 10, 0)),  # 5,800
        "A3": factory.invoice([Line(Decimal("4000.00"))], folio="3", fecha=datetime(2026, 9, 15, 10, 0)),  # 4,640
        "USD": factory.invoice([Line(Decimal("1000.00"))], folio="4", moneda="USD", tipo_cambio=Decimal("17.2345"),
                               fecha=datetime(2026, 9, 20, 10, 0)),  # 1,160 USD
        "PUE": factory.invoice([Line(Decimal("100.00"))], folio="5", metodo="PUE", forma="03",
                               fecha=datetime(2026, 8, 5, 10, 0)),  # 116
        "B1": factory.invoice([Line(Decimal("100.00"))], folio="6", receptor=OTHER),
    }
    res = Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir]).import_candidates(
        Candidate(k, d.xml) for k, d in docs.items())
    assert res.ok, res.to_dict()
    return {k: d.uuid for k, d in docs.items()}


def receipt(amount="20000.00", *, currency="MXN", rate=None, form="03", customer="URE180429TM6", **kw):
    return ReceiptInput(customer=customer, company="", fecha_pago=datetime(2026, 10, 10, 12, 0), forma_pago=form,
                        moneda=currency, monto=amount, tipo_cambio=rate, **kw)


def add(engine, *parts, clock=None):
    with transaction(engine) as s:
        st = svc.register_settlement(s, list(parts), clock=clock)
        return [p.id for p in st.payments]


def saldo(engine, uuid):
    with transaction(engine) as s:
        return s.scalar(select(Document.saldo).where(Document.uuid == uuid))


def test_worked_example_c_one_payment_three_invoices(engine, ledger, clock):
    (pid,) = add(engine, receipt("20000.00"), clock=clock)
    # A3 had 2,040.00 paid before (here: an earlier payment of ours).
    (early,) = add(engine, receipt("2040.00"), clock=clock)
    with transaction(engine) as s:
        svc.apply_payment(s, early, [Allocation(ledger["A3"], "2040.00")], clock=clock)
    with transaction(engine) as s:
        r = svc.apply_payment(s, pid, [Allocation(ledger["A1"], "11600.00"), Allocation(ledger["A2"], "5800.00"),
                                       Allocation(ledger["A3"], "2600.00")], clock=clock)
    got = [(ln.num_parcialidad, ln.imp_saldo_ant, ln.imp_pagado, ln.imp_saldo_insoluto) for ln in r.lines]
    assert got == [(1, Decimal("11600.00"), Decimal("11600.00"), Decimal("0.00")),
                   (1, Decimal("5800.00"), Decimal("5800.00"), Decimal("0.00")),
                   (2, Decimal("2600.00"), Decimal("2600.00"), Decimal("0.00"))]
    assert r.aplicado == Decimal("20000.00") and r.saldo_a_favor == 0
    assert [saldo(engine, ledger[k]) for k in ("A1", "A2", "A3")] == [0, 0, 0]


def test_partial_payments_and_saldo_a_favor(engine, ledger, clock):
    (pid,) = add(engine, receipt("5000.00"), clock=clock)
    with transaction(engine) as s:
        r = svc.apply_payment(s, pid, [Allocation(ledger["A1"], "3000.00")], clock=clock)
    assert r.saldo_a_favor == Decimal("2000.00")
    # The same payment cannot open a second instalment of the same invoice inside one Pago.
    with pytest.raises(ConflictError) as exc, transaction(engine) as s:
        svc.apply_payment(s, pid, [Allocation(ledger["A1"], "2000.00")], clock=clock)
    assert exc.value.code == "DOCUMENTO_YA_APLICADO_EN_PAGO"
    # The saldo a favor is applied later to another invoice.
    with transaction(engine) as s:
        r2 = svc.apply_payment(s, pid, [Allocation(ledger["A2"], "2000.00")], clock=clock)
    assert (r2.lines[0].num_parcialidad, r2.saldo_a_favor) == (1, Decimal("0.00"))
    (p2,) = add(engine, receipt("2000.00"), clock=clock)
    with transaction(engine) as s:
        r3 = svc.apply_payment(s, p2, [Allocation(ledger["A1"], "2000.00")], clock=clock)
    assert r3.lines[0].num_parcialidad == 2
    assert r3.lines[0].imp_saldo_ant == Decimal("8600.00")
    assert saldo(engine, ledger["A1"]) == Decimal("6600.00")


def test_parcialidad_counts_imported_complements(engine, settings, factory, ledger, clock):
    pay = factory.payment([PaidDoc(ledger["A2"], 1, Decimal("5800.00"), Decimal("800.00"))])
    Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir]).import_candidates(
        [Candidate("rep.xml", pay.xml)])
    (pid,) = add(engine, receipt("1000.00"), clock=clock)
    with transaction(engine) as s:
        r = svc.apply_payment(s, pid, [Allocation(ledger["A2"], "1000.00")], clock=clock)
    assert (r.lines[0].num_parcialidad, r.lines[0].imp_saldo_ant) == (2, Decimal("5000.00"))


def test_usd_invoice_paid_in_mxn(engine, ledger, clock):
    (pid,) = add(engine, receipt("19992.02"), clock=clock)
    with transaction(engine) as s:
        r = svc.apply_payment(s, pid, [Allocation(ledger["USD"], "1160.00")], rates={"USD": Decimal("17.2345")},
                              clock=clock)
    (ln,) = r.lines
    assert ln.equivalencia_dr == Decimal("0.0580231512")
    assert ln.importe_moneda_pago == Decimal("19992.02")
    assert r.saldo_a_favor == 0
    assert saldo(engine, ledger["USD"]) == 0


def test_missing_rate_is_refused_and_nothing_written(engine, ledger, clock):
    (pid,) = add(engine, receipt("19992.02"), clock=clock)
    with pytest.raises(ConflictError) as exc, transaction(engine) as s:
        svc.apply_payment(s, pid, [Allocation(ledger["A1"], "100.00"), Allocation(ledger["USD"], "1160.00")], clock=clock)
    assert exc.value.code == "MONEDA_SIN_EQUIVALENCIA"
    assert saldo(engine, ledger["A1"]) == Decimal("11600.00")  # the first line was not kept


@pytest.mark.parametrize(("allocs", "code"), [
    ([("A1", "11600.01")], "EXCEDE_SALDO"),
    ([("A1", "11600.00"), ("A2", "5800.00"), ("A3", "4640.00")], "EXCEDE_PAGO"),
    ([("B1", "10.00")], "DOCUMENTO_OTRO_CLIENTE"),
    ([("A1", "0")], "MONTO_INVALIDO"),
    ([("A1", "-5")], "MONTO_INVALIDO"),
    ([("A1", "1.001")], "DECIMALES_EXCEDIDOS"),
])
def test_refusals_leave_everything_as_it_was(engine, ledger, clock, allocs, code):
    (pid,) = add(engine, receipt("20000.00"), clock=clock)
    with pytest.raises(CobranzaError) as exc, transaction(engine) as s:
        svc.apply_payment(s, pid, [Allocation(ledger[k], a) for k, a in allocs], clock=clock)
    assert exc.value.code == code
    assert exc.value.message  # Spanish text for the user
    with transaction(engine) as s:
        assert s.scalar(select(func.count(Credit.id)).where(Credit.kind == "pago")) == 0
        assert s.get(Payment, pid).aplicado == 0


def test_unknown_document(engine, ledger, clock):
    (pid,) = add(engine, receipt("10.00"), clock=clock)
    with pytest.raises(NotFoundError) as exc, transaction(engine) as s:
        svc.apply_payment(s, pid, [Allocation("00000000-0000-0000-0000-000000000000", "1.00")], clock=clock)
    assert exc.value.code == "DOCUMENTO_NO_ENCONTRADO"


@pytest.mark.parametrize(("kw", "code"), [
    ({"amount": "0"}, "MONTO_INVALIDO"),
    ({"amount": "-1"}, "MONTO_INVALIDO"),
    ({"amount": "1.234"}, "DECIMALES_EXCEDIDOS"),
    ({"currency": "ZZZ"}, "MONEDA_DESCONOCIDA"),
    ({"form": "77"}, "FORMA_PAGO_INVALIDA"),
    ({"form": "99"}, "FORMA_PAGO_99"),
    ({"currency": "USD"}, "TIPO_CAMBIO_REQUERIDO"),
    ({"cta_ordenante": "12"}, "CUENTA_INVALIDA"),
])
def test_receipt_refusals(engine, ledger, clock, kw, code):
    kw = dict(kw)  # the parameter dict is shared by the SQLite and PostgreSQL runs
    amount = kw.pop("amount", "100.00")
    with pytest.raises(ValidationError) as exc, transaction(engine) as s:
        svc.register_settlement(s, [receipt(amount, **kw)], clock=clock)
    assert exc.value.code == code
    with transaction(engine) as s:
        assert s.scalar(select(func.count(Payment.id))) == 0


def test_settlement_with_several_forms_and_usual_form(engine, ledger, clock):
    ids = add(engine, receipt("1000.00", form="03"), receipt("500.00", form="02"), clock=clock)
    assert len(ids) == 2
    with transaction(engine) as s:
        assert len({p.settlement_id for p in s.scalars(select(Payment))}) == 1
        (pid,) = [p.id for p in svc.register_settlement(s, [receipt("10.00", form="")], clock=clock).payments]
        assert s.get(Payment, pid).forma_pago == "03"  # learned from the customer's first payment


def test_pue_payment_is_flagged(engine, ledger, clock):
    (pid,) = add(engine, receipt("116.00"), clock=clock)
    with transaction(engine) as s:
        r = svc.apply_payment(s, pid, [Allocation(ledger["PUE"], "116.00")], clock=clock)
    (ln,) = r.lines
    assert ln.requiere_rep is False
    assert {a["code"] for a in ln.avisos} == {"PUE_NO_REQUIERE_REP", "PUE_PAGO_TARDIO"}


def test_oldest_first_then_unapply_renumbers(engine, ledger, clock):
    (p1,) = add(engine, receipt("12000.00"), clock=clock)
    with transaction(engine) as s:
        r = svc.apply_oldest_first(s, p1, clock=clock)
    # By due date: A1 (31/08), PUE (04/09), A2 (01/10).
    assert [(ln.uuid, ln.imp_pagado) for ln in r.lines] == [(ledger["A1"], Decimal("11600.00")),
                                                          (ledger["PUE"], Decimal("116.00")),
                                                          (ledger["A2"], Decimal("284.00"))]
    (p2,) = add(engine, receipt("1000.00"), clock=clock)
    with transaction(engine) as s:
        r2 = svc.apply_payment(s, p2, [Allocation(ledger["A2"], "1000.00")], clock=clock)
    assert r2.lines[0].num_parcialidad == 2
    with pytest.raises(ValidationError), transaction(engine) as s:
        svc.unapply(s, p1, ledger["A2"], reason=" ")
    with transaction(engine) as s:
        svc.unapply(s, p1, ledger["A2"], reason="Depósito mal identificado", actor="ana")
    assert saldo(engine, ledger["A2"]) == Decimal("4800.00")
    with transaction(engine) as s:
        live = s.scalars(select(Credit).where(Credit.target_uuid == ledger["A2"], Credit.reversed_at.is_(None))).all()
        assert [(c.num_parcialidad, c.imp_saldo_ant, c.imp_saldo_insoluto) for c in live] == [
            (1, Decimal("5800.00"), Decimal("4800.00"))]
        assert s.get(Payment, p1).aplicado == Decimal("11716.00")
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "revertir_aplicacion")).one()
        assert audit.actor == "ana" and "mal identificado" in audit.detail


@pytest.mark.postgres
def test_concurrent_applications_never_overapply(pg_engine, settings, factory, clock):
    """Eight threads, each with its own connection and transaction, race for one invoice."""
    engine = pg_engine
    inv = factory.invoice([Line(Decimal("1000.00"))], folio="C1")  # 1,160.00
    Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir]).import_candidates(
        [Candidate("c.xml", inv.xml)])
    payment_ids = [add(engine, receipt("400.00"), clock=clock)[0] for _ in range(8)]
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def worker(pid: int) -> None:
        barrier.wait()
        try:
            with transaction(engine) as s:
                svc.apply_payment(s, pid, [Allocation(inv.uuid, "400.00")], clock=clock)
            outcomes.append("ok")
        except CobranzaError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=worker, args=(pid,)) for pid in payment_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes.count("ok") == 2  # 2 x 400 fit in 1,160; a third would not
    assert set(outcomes) - {"ok"} == {"EXCEDE_SALDO"}
    with transaction(engine) as s:
        doc = s.scalar(select(Document).where(Document.uuid == inv.uuid))
        assert doc.saldo == Decimal("360.00")
        assert s.scalar(select(func.sum(Credit.amount)).where(Credit.document_id == doc.id)) == Decimal("800.00")


def test_dates_are_kept(engine, ledger, clock):
    (pid,) = add(engine, receipt("10.00"), clock=clock)
    with transaction(engine) as s:
        assert s.get(Payment, pid).fecha_pago == datetime(2026, 10, 10, 12, 0)
        assert date(2026, 10, 10) == s.get(Payment, pid).fecha_pago.date()


def test_cancelled_invoice_refuses_payments(engine, ledger, clock):
    with transaction(engine) as s:
        s.scalar(select(Document).where(Document.uuid == ledger["A2"])).status = "cancelado"
    (pid,) = add(engine, receipt("100.00"), clock=clock)
    with pytest.raises(ConflictError) as exc, transaction(engine) as s:
        svc.apply_payment(s, pid, [Allocation(ledger["A2"], "100.00")], clock=clock)
    assert exc.value.code == "DOCUMENTO_CANCELADO"
    assert "cancelada" in exc.value.message
    with transaction(engine) as s:
        r = svc.apply_oldest_first(s, pid, clock=clock)  # oldest-first skips it
    assert ledger["A2"] not in [ln.uuid for ln in r.lines]


def test_one_payment_list_latest_search_and_applications(engine, ledger, clock):
    first, second = add(engine, receipt("100.00", num_operacion="SPEI-1"), receipt("50.00", form="01"), clock=clock)
    (other,) = add(engine, receipt("10.00", customer=OTHER.rfc), clock=clock)
    with transaction(engine) as s:
        svc.apply_payment(s, first, [Allocation(ledger["A1"], "100.00")], clock=clock)
    with transaction(engine) as s:
        every = svc.list_payments(s)
        assert [p.id for p in every] == [first, second, other]
        assert [(a.uuid, a.imp_pagado) for a in every[0].aplicaciones] == [(ledger["A1"], Decimal("100.00"))]
        assert every[0].saldo_a_favor == 0 and every[1].aplicaciones == ()
        assert [p.id for p in svc.list_payments(s, latest=2)] == [other, second]
        assert [p.id for p in svc.list_payments(s, q="spei-1")] == [first]
        assert [p.id for p in svc.list_payments(s, "URE180429TM6", latest=1)] == [second]
        assert svc.list_payments(s, latest=1)[0].to_dict()["aplicaciones"] == []
        # The pick list's usual payment form is the one the payment form pre-selects.
        picks = {c.key: c.forma for c in customers_for_select(s)}
        assert picks == {c.key: svc.suggest_forma_pago(s, c) or "" for c in s.scalars(select(Customer))}


def test_customer_choice_by_key_or_rfc_with_its_usual_form(engine, ledger, clock):
    add(engine, receipt("50.00", form="03"), receipt("60.00", form="01"), receipt("70.00", form="01"), clock=clock)
    with transaction(engine) as s:
        customer = s.scalar(select(Customer).where(Customer.rfc == "URE180429TM6"))
        assert customer is not None and customer.usual_forma_pago == "03"  # the first one, on record
        assert customer_choice(s, customer.key).forma == "03"
        customer.usual_forma_pago = None  # none on record: the most used one
        s.flush()
        listed = {c.key: c for c in customers_for_select(s)}
        by_rfc = customer_choice(s, " ure180429tm6 ")
        assert by_rfc == listed[customer.key] == customer_choice(s, customer.key)
        assert by_rfc.forma == svc.suggest_forma_pago(s, customer) == "01"
        assert customer_choice(s, "XAXX010101000") is None
