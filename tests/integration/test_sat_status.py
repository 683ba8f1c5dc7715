"""Issue 15 on both databases: a CFDI cancelled at the SAT leaves receivables; the 69-B list
in the credit check; the DOF rate as the default TipoCambioP. The SAT and Banxico are
loopback fakes speaking their real protocols (tests/fakes/sat.py)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fakes.sat import BanxicoFake, SatConsultaFake, listado_69b
from lxml import etree
from sqlalchemy import Engine, select
from test_rep_examples import CUSTOMER, PAGO_DAY, Book, one_pago

from cfdi_cobranza.cfdi.factory import Line
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import AuditEntry, Credit, Document, Payment
from cfdi_cobranza.db.models.sat import SatStatusCheck
from cfdi_cobranza.db.session import session_factory, transaction
from cfdi_cobranza.domain.states import DocumentStatus
from cfdi_cobranza.errors import ConflictError
from cfdi_cobranza.pac.transport import Timeouts
from cfdi_cobranza.sat.banxico import RatePoint
from cfdi_cobranza.sat.readonly_http import ReadPolicy
from cfdi_cobranza.services import collection_reports, efos, ledger, rates, sat_status
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services.stamping import RepRefused

D = Decimal
FAST = ReadPolicy(attempts=2, backoff=0.01, timeouts=Timeouts(connect=1.0, read=2.0))
AS_OF = date(2026, 11, 20)


@pytest.fixture
def book(engine: Engine, settings: Settings, tmp_path: Path) -> Book:
    return Book.open(engine, settings, tmp_path)


def aging_uuids(engine: Engine) -> set[str]:
    with transaction(engine) as s:
        return {i.doc_id for i in collection_reports.open_items(s, AS_OF)}


def audit(engine: Engine, action: str) -> list[dict]:
    with transaction(engine) as s:
        return [json.loads(a.detail or "{}") for a in s.scalars(select(AuditEntry).where(AuditEntry.action == action))]


def two_payments(book: Book) -> tuple[dict[str, str], int, int]:
    invs = book.invoices(A=[Line(D("10000.00"))], B=[Line(D("1000.00"))])  # 11,600 and 1,160
    p1, p2 = book.pay("3000.00"), book.pay("2000.00")
    book.apply(p1, [(invs["A"], "3000.00")])
    book.apply(p2, [(invs["A"], "2000.00")])
    return invs, p1, p2


def test_cancelled_by_the_status_service_leaves_receivables(book: Book) -> None:
    invs, p1, p2 = two_payments(book)
    assert invs["A"] in aging_uuids(book.engine)
    with transaction(book.engine) as s:
        doc_id = s.scalar(select(Document.id).where(Document.uuid == invs["A"]))
        other_id = s.scalar(select(Document.id).where(Document.uuid == invs["B"]))
    estados = {invs["A"]: ("Cancelado", "Cancelable con aceptación", "Cancelado con aceptación"),
               invs["B"]: ("Vigente", "Cancelable con aceptación", None)}
    with SatConsultaFake(estados=estados) as fake:
        ask = sat_status.sat_asker(fake.url + "/ConsultaCFDIService.svc", policy=FAST)
        run = sat_status.check_status(session_factory(book.engine), [doc_id, other_id], ask, min_interval=0,
                                      clock=book.clock)
        assert [a.estado for a in run.respuestas] == ["Cancelado", "Vigente"]
        assert run.respuestas[0].cancelacion is not None and run.respuestas[1].cancelacion is None
        # Resumable: a rerun skips what was answered since the cut-off.
        again = sat_status.check_status(session_factory(book.engine), [doc_id, other_id], ask, min_interval=0,
                                        clock=book.clock, skip_checked_since=book.clock() - timedelta(hours=1))
        assert again.omitidos == 2 and again.respuestas == [] and len(fake.asked) == 2
        # The QR expression carries the Total as the CFDI writes it (the database keeps 6 decimals).
        assert fake.totals == {invs["A"]: "11600.00", invs["B"]: "1160.00"}

    # Out of aging; the customer's exposure no longer counts it.
    assert invs["A"] not in aging_uuids(book.engine) and invs["B"] in aging_uuids(book.engine)
    with transaction(book.engine) as s:
        doc = s.scalar(select(Document).where(Document.uuid == invs["A"]))
        assert (doc.status, doc.estado_sat, doc.fecha_cancelacion, doc.saldo) == (
            "cancelado", "Cancelado", book.clock().date(), D("0"))
        exposure = credit.exposure_of(s, doc.customer_id, AS_OF)
        assert exposure.saldos == {"MXN": D("1160.00")}
        # The two payments are unapplied balance again, flagged for review.
        for pid, amount in ((p1, D("3000.00")), (p2, D("2000.00"))):
            pay = s.get(Payment, pid)
            assert pay.aplicado == 0 and pay.saldo_a_favor == amount
            assert pay.revisar and invs["A"] in pay.revisar
        assert s.scalar(select(Credit).where(Credit.document_id == doc.id, Credit.reversed_at.is_(None))) is None
        checks = s.scalars(select(SatStatusCheck).where(SatStatusCheck.document_id == doc.id)).all()
        assert [(c.estado, c.estatus_cancelacion, c.validacion_efos) for c in checks] == [
            ("Cancelado", "Cancelado con aceptación", "200")]
        row = next(r for r in ledger.list_documents(s) if r.uuid == invs["A"])
        assert row.to_dict()["estado_sat"] == "Cancelado"
        assert row.to_dict()["fecha_cancelacion"] == book.clock().date().isoformat()
    # No REP for them, with the reason.
    for pid in (p1, p2):
        with pytest.raises(RepRefused) as info:
            book.stamper.issue([pid])
        assert info.value.code == "DOCUMENTO_CANCELADO"
        assert invs["A"] in info.value.message and "cancelada en el SAT" in info.value.message
    # All of it audited.
    (entry,) = audit(book.engine, "cancelado_en_sat")
    assert entry["fuente"] == "consulta" and sorted(r["payment_id"] for r in entry["revertidas"]) == [p1, p2]
    assert entry["pagos_a_revisar"] == sorted([p1, p2])


def test_marked_by_a_user_lists_the_stamped_rep_and_is_idempotent(book: Book) -> None:
    inv = book.invoices(A=[Line(D("10000.00"))])["A"]
    pid = book.pay("5000.00")
    book.apply(pid, [(inv, "5000.00")])
    rep = book.issue(pid)
    with transaction(book.engine) as s:
        with pytest.raises(Exception) as info:
            sat_status.mark_cancelled(s, inv, date(2026, 11, 18), fuente="usuario", motivo=" ")
        assert getattr(info.value, "code", "") == "MOTIVO_REQUERIDO"
    with transaction(book.engine) as s:
        result = sat_status.mark_cancelled(s, inv, date(2026, 11, 18), fuente="usuario",
                                           motivo="Acuse de cancelación del SAT", actor="ana", clock=book.clock)
    assert result.reps_por_cancelar == (rep.uuid,) and [m.payment_id for m in result.revertidas] == [pid]
    with transaction(book.engine) as s:
        assert sat_status.reps_citing_cancelled(s)[0]["rep"] == rep.uuid
        again = sat_status.mark_cancelled(s, inv, date(2026, 11, 19), fuente="metadata", clock=book.clock)
        assert again.ya_cancelado and again.fecha_cancelacion == date(2026, 11, 18)
        assert s.get(Payment, pid).aplicado == 0
    (entry,) = audit(book.engine, "cancelado_en_sat")
    assert entry["motivo"] == "Acuse de cancelación del SAT" and entry["reps_por_cancelar"] == [rep.uuid]
    with pytest.raises(ConflictError):  # a cancelled document is final
        DocumentStatus.CANCELADO.check_move(DocumentStatus.VIGENTE)


def test_applications_move_to_the_substitute_when_its_balance_allows(book: Book) -> None:
    invs = book.invoices(A=[Line(D("10000.00"))])
    p1, p2 = book.pay("3000.00"), book.pay("9000.00")
    book.apply(p1, [(invs["A"], "3000.00")])
    book.apply(p2, [(invs["A"], "8600.00")])
    # The substitute (TipoRelacion 04) is smaller: 10,440 leaves room for 3,000 but not 8,600 more.
    sub = book.invoices(S=([Line(D("9000.00"))], {"folio": "200", "related": [("04", [invs["A"]])]}))["S"]
    with transaction(book.engine) as s:
        result = sat_status.mark_cancelled_from_metadata(s, [(invs["A"], date(2026, 11, 2)),
                                                             ("00000000-0000-4000-8000-00000000AAAA", None)],
                                                         clock=book.clock)
    (r,) = result
    assert r.sustituto == sub and [m.payment_id for m in r.movidas] == [p1]
    assert [m.payment_id for m in r.revertidas] == [p2] and r.pagos_a_revisar == (p2,)
    with transaction(book.engine) as s:
        doc = s.scalar(select(Document).where(Document.uuid == sub))
        assert doc.saldo == D("10440.00") - D("3000.00")
        moved = s.scalar(select(Credit).where(Credit.document_id == doc.id, Credit.reversed_at.is_(None)))
        assert (moved.payment_id, moved.amount, moved.num_parcialidad, moved.imp_saldo_ant) == (
            p1, D("3000.00"), 1, D("10440.00"))
        assert s.get(Payment, p1).aplicado == D("3000.00") and s.get(Payment, p1).revisar is None
        assert s.get(Payment, p2).aplicado == 0 and "no alcanzó" in s.get(Payment, p2).revisar
    # The moved application can be complemented against the substitute.
    rep = book.issue(p1)
    docto = one_pago(etree.fromstring(rep.xml)).find(
        "{http://www.sat.gob.mx/Pagos20}DoctoRelacionado")
    assert docto.get("IdDocumento") == sub


# --------------------------------------------------------------------------- 69-B

def test_efos_definitivo_customer_gets_restriccion(book: Book) -> None:
    book.invoices(A=[Line(D("1000.00"))])
    data = listado_69b([(CUSTOMER.rfc, "UNIVERSIDAD ROBOTICA ESPAÑOLA", "Definitivo",
                         {"presunto": "16/12/2022", "definitivo": "13/10/2023"}),
                        ("DME980512KJ3", "DISTRIBUIDORA MEDICA", "Presunto", {"presunto": "02/02/2024"})])
    with transaction(book.engine) as s:
        result = efos.import_list(s, data, source="Listado_Completo_69-B.csv", clock=book.clock)
    assert (result.registros, result.nuevos, result.clientes_afectados) == (2, 2, 1)
    with transaction(book.engine) as s:
        check = credit.check_credit(s, CUSTOMER.rfc, D("100.00"), clock=book.clock).to_dict()
        assert check["nivel"] == "restriccion" and check["razones"][0]["code"] == "EFOS_DEFINITIVO"
        assert check["efos"] == {"situacion": "Definitivo", "fecha": "2023-10-13"}
        (affected,) = efos.affected_customers(s)
        assert (affected.rfc, affected.situacion, affected.saldo) == (CUSTOMER.rfc, "Definitivo", {"MXN": D("1160.00")})
    # The next list no longer has the customer: the entry goes, the restriction with it.
    with transaction(book.engine) as s:
        again = efos.import_list(s, listado_69b([("DME980512KJ3", "DISTRIBUIDORA MEDICA", "Desvirtuado",
                                                   {"presunto": "02/02/2024", "desvirtuado": "01/06/2024"})]),
                                 source="otro.csv", clock=book.clock)
        assert (again.cambiados, again.retirados) == (1, 1)
        assert credit.check_credit(s, CUSTOMER.rfc, D("100.00"), clock=book.clock).to_dict()["nivel"] != "restriccion"


# --------------------------------------------------------------------------- exchange rates

FIX = {date(2026, 10, 13): "19.1234", date(2026, 10, 14): "19.1500", date(2026, 10, 15): "19.2001"}


def test_usd_payment_without_rate_takes_the_dof_rate_and_the_rep_shows_it(book: Book) -> None:
    inv = book.invoices(U=([Line(D("1000.00"))], {"moneda": "USD", "tipo_cambio": D("18.5000")}))["U"]
    with BanxicoFake(datos={"SF43718": {d: v for d, v in FIX.items()}}) as fake:
        fetch = rates.banxico_fetcher("token-de-prueba", fake.url, policy=FAST)
        with transaction(book.engine) as s:
            (stored,) = rates.update_range(s, fetch, date(2026, 10, 1), date(2026, 10, 31), clock=book.clock)
        assert (stored.nuevos, stored.fuente) == (3, "banxico:SF43718")
        with transaction(book.engine) as s:  # idempotent: the same range again changes nothing
            (same,) = rates.update_range(s, fetch, date(2026, 10, 1), date(2026, 10, 31), clock=book.clock)
        assert (same.nuevos, same.cambiados, same.sin_cambio) == (0, 0, 3)
    assert PAGO_DAY.date() == date(2026, 10, 15)  # Thursday: the DOF publishes Wednesday's FIX
    pid = book.pay("100.00", currency="USD")
    with transaction(book.engine) as s:
        assert s.get(Payment, pid).tipo_cambio == D("19.1500")
    (entry,) = [a for a in audit(book.engine, "registrar_pago") if a["moneda"] == "USD"]
    assert entry["tipo_cambio_fuente"] == "dof" and entry["fecha_fix"] == "2026-10-14"
    book.apply(pid, [(inv, "100.00")])
    root = etree.fromstring(book.issue(pid).xml)
    assert D(one_pago(root).get("TipoCambioP")) == D("19.15")


def test_typed_rate_overrides_and_is_recorded(book: Book) -> None:
    book.invoices(U=([Line(D("1000.00"))], {"moneda": "USD", "tipo_cambio": D("18.5000")}))
    with transaction(book.engine) as s:
        rates.store(s, [RatePoint(d, "USD", D(v), "SF43718") for d, v in FIX.items()], fuente="archivo:fix.csv")
    pid = book.pay("100.00", currency="USD", rate="19.40")
    with transaction(book.engine) as s:
        assert s.get(Payment, pid).tipo_cambio == D("19.40")
        # The MXN view of a report uses the stored rate of its as-of date, not the invoice's.
        assert collection_reports.rates_to_mxn(s, ["USD"], date(2026, 10, 16), None).rate("USD") == D("19.2001")
    (entry,) = [a for a in audit(book.engine, "registrar_pago") if a["moneda"] == "USD"]
    assert (entry["tipo_cambio_fuente"], entry["tipo_cambio_dof"]) == ("usuario", "19.15")
    assert entry["tipo_cambio"] == "19.40"


def test_usd_payment_without_a_stored_rate_still_asks_for_one(book: Book) -> None:
    book.invoices(U=([Line(D("1000.00"))], {"moneda": "USD", "tipo_cambio": D("18.5000")}))
    with pytest.raises(Exception) as info:
        book.pay("100.00", currency="USD", fecha=datetime(2026, 10, 15, 12, 0))
    assert "TIPO_CAMBIO_REQUERIDO" in str(getattr(info.value, "code", "")) + str(info.value)


def test_a_credit_note_for_a_cancelled_invoice_stays_with_the_customer(book: Book) -> None:
    inv = book.invoices(A=[Line(D("10000.00"))])["A"]
    with transaction(book.engine) as s:
        sat_status.mark_cancelled(s, inv, date(2026, 11, 2), fuente="usuario", motivo="Acuse", clock=book.clock)
    note = book.load({"N": book.factory.invoice([Line(D("1000.00"))], tipo="E", folio="300",
                                                related=[("01", [inv])])})["N"]
    with transaction(book.engine) as s:
        # The note credits nothing: all of it is the customer's saldo a favor.
        assert s.scalar(select(Document.saldo).where(Document.uuid == note)) == D("1160.00")
        assert s.scalar(select(Document.saldo).where(Document.uuid == inv)) == 0


def test_a_substitute_imported_after_the_cancellation_takes_the_waiting_applications(book: Book) -> None:
    inv = book.invoices(A=[Line(D("10000.00"))])["A"]
    p1, p2 = book.pay("3000.00"), book.pay("2000.00")
    book.apply(p1, [(inv, "3000.00")])
    book.apply(p2, [(inv, "2000.00")])
    with transaction(book.engine) as s:
        first = sat_status.mark_cancelled(s, inv, date(2026, 11, 2), fuente="metadata", clock=book.clock)
        assert first.sustituto is None and len(first.revertidas) == 2
    # p2's balance is used elsewhere meanwhile; p1's is still unapplied.
    other = book.invoices(B=([Line(D("5000.00"))], {"folio": "150"}))["B"]
    book.apply(p2, [(other, "2000.00")])
    sub = book.invoices(S=([Line(D("10000.00"))], {"folio": "201", "related": [("04", [inv])]}))["S"]
    with transaction(book.engine) as s:  # the next metadata run (or the user) reports it again
        again = sat_status.mark_cancelled(s, inv, date(2026, 11, 2), fuente="metadata", clock=book.clock)
    assert again.ya_cancelado and again.sustituto == sub and [m.payment_id for m in again.movidas] == [p1]
    with transaction(book.engine) as s:
        assert s.scalar(select(Document.saldo).where(Document.uuid == sub)) == D("8600.00")
        assert (s.get(Payment, p1).aplicado, s.get(Payment, p1).revisar) == (D("3000.00"), None)
        assert s.get(Payment, p2).aplicado == D("2000.00") and inv in s.get(Payment, p2).revisar
        # Running it once more moves nothing twice.
        third = sat_status.mark_cancelled(s, inv, date(2026, 11, 2), fuente="metadata", clock=book.clock)
        assert third.movidas == ()
    (entry,) = audit(book.engine, "aplicaciones_a_sustituto")
    assert entry["sustituto"] == sub and [m["payment_id"] for m in entry["movidas"]] == [p1]
