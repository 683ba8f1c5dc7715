"""Issue 17 through the services, on SQLite and PostgreSQL (``engine`` fixture).

* one sale moved to another branch: aging, collectors, summary and movement grouped by
  sucursal follow it (and only it), and the move is audited;
* letters logged as follow-ups of type carta with the customer's own PDF attached:
  one transaction for the batch, the same letter the same day not logged twice, the
  attachment read-only like the follow-up file;
* follow-ups keep the salesperson they were given.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from collections_data import AS_OF, USD_RATE, generate, import_all, make_factory
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from cfdi_cobranza.db.models import AuditEntry, Document
from cfdi_cobranza.db.models.collections import FollowUp, FollowUpAttachment
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.period import DateRange
from cfdi_cobranza.errors import NotFoundError, ValidationError
from cfdi_cobranza.reports import tables
from cfdi_cobranza.services import collection_reports as reports
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services import followups, letters

CAC, DME = "CAC070627H79", "DME980512KJ3"
NOW = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
PERIOD = DateRange(AS_OF - timedelta(days=400), AS_OF)


def clock() -> datetime:
    return NOW


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    return make_factory(tmp_path_factory.mktemp("sandbox"), seed=17)


@pytest.fixture(scope="module")
def generated(factory):
    return generate(factory)


@pytest.fixture
def loaded(engine, settings, factory, generated):
    import_all(engine, settings, factory, generated, clock)
    with transaction(engine) as s:
        credit.set_conditions(s, CAC, actor="jefe", vendedor="Ana", sucursal="Norte", clock=clock)
        credit.set_conditions(s, DME, actor="jefe", vendedor="Beto", sucursal="Sur", clock=clock)
    return engine


def _by_branch(engine) -> dict[str, dict[tuple[str, str], dict]]:
    """Each report's rows grouped by sucursal, keyed by (sucursal, moneda)."""
    with transaction(engine) as s:
        out = {
            "aging": tables.aging_report(reports.aging(s, AS_OF, group_by="sucursal",
                                                       rates={"USD": USD_RATE})).payload,
            "movement": tables.movement_report(reports.movement(s, PERIOD, group_by="sucursal")).payload,
            "summary": tables.summary_report(reports.summary(s, PERIOD, group_by="sucursal")).payload,
            "collectors": tables.collectors_report(reports.collectors(s, PERIOD, group_by="sucursal",
                                                                      today=AS_OF)).payload,
        }
    return {k: {(r["grupo"], r["moneda"]): r for r in v["filas"]} for k, v in out.items()}


def test_one_sale_moved_to_another_branch_moves_in_every_branch_report(loaded, generated):
    inv = generated.invoices[f"{CAC}:60"]  # MXN, 60 days overdue at AS_OF, nothing paid
    with transaction(loaded) as s:
        doc = s.scalar(select(Document).where(Document.uuid == inv.uuid))
        saldo, total = doc.saldo, doc.total
    assert saldo == total > 0
    before = _by_branch(loaded)
    assert ("Centro", "MXN") not in before["aging"]
    with transaction(loaded) as s:
        data = credit.reassign_sale(s, inv.uuid.lower(), sucursal="Centro", actor="jefe", clock=clock)
    assert data["sucursal"] == "Centro" and data["vendedor"] == "Ana"  # keeps the salesperson it had
    assert data["anterior"] == {"sucursal": "Norte", "vendedor": "Ana"}
    after = _by_branch(loaded)

    def d(report, branch, field):
        return (Decimal(after[report].get((branch, "MXN"), {}).get(field, "0"))
                - Decimal(before[report].get((branch, "MXN"), {}).get(field, "0")))

    assert d("aging", "Centro", "total") == saldo and d("aging", "Norte", "total") == -saldo
    assert after["aging"][("Centro", "MXN")]["documentos"] == 1
    assert d("movement", "Centro", "cargos") == total and d("movement", "Norte", "cargos") == -total
    assert d("summary", "Centro", "vencido") == saldo and d("summary", "Norte", "vencido") == -saldo
    assert d("collectors", "Centro", "saldo") == saldo and d("collectors", "Norte", "saldo") == -saldo
    # Nothing else moved: the other branch is untouched.
    assert after["aging"][("Sur", "MXN")] == before["aging"][("Sur", "MXN")]
    with transaction(loaded) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "venta_reasignada")).one()
        assert entry.actor == "jefe" and entry.entity_id == inv.uuid
        assert json.loads(entry.detail) == {"antes": {"sucursal": "Norte", "vendedor": "Ana"},
                                            "despues": {"sucursal": "Centro", "vendedor": "Ana"}}
        # A second move (with a salesperson) replaces the first; the customer keeps Norte.
        credit.reassign_sale(s, inv.uuid, sucursal="Poniente", vendedor="Carla", actor="jefe", clock=clock)
        assert credit.sale_assignment(s, inv.uuid) == {"sucursal": "Poniente", "vendedor": "Carla", "propia": True}
        other = generated.invoices[f"{CAC}:30"].uuid
        assert credit.sale_assignment(s, other)["sucursal"] == "Norte"
    with transaction(loaded) as s:
        rep = tables.aging_report(reports.aging(s, AS_OF, group_by="vendedor", rates={"USD": USD_RATE})).payload
    carla = [r for r in rep["filas"] if r["grupo"] == "Carla"]
    assert [Decimal(r["total"]) for r in carla] == [saldo]


def test_assigning_a_sale_refuses_bad_input_and_changes_nothing(loaded, generated):
    with transaction(loaded) as s:
        with pytest.raises(ValidationError) as err:
            credit.reassign_sale(s, generated.invoices[f"{CAC}:60"].uuid, sucursal="  ", actor="x", clock=clock)
        assert err.value.code == "SUCURSAL_REQUERIDA"
        with pytest.raises(NotFoundError) as err:
            credit.reassign_sale(s, "00000000-0000-0000-0000-000000000000", sucursal="X", actor="x", clock=clock)
        assert err.value.code == "DOCUMENTO_NO_ENCONTRADO"
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == "venta_reasignada")) == 0


def _follow_ups(engine) -> list[FollowUp]:
    with transaction(engine) as s:
        rows = list(s.scalars(select(FollowUp).order_by(FollowUp.id)))
        s.expunge_all()
        return rows


def test_letters_are_logged_as_follow_ups_with_each_customers_pdf(loaded):
    with transaction(loaded) as s:
        batch = letters.letters_pdf(s, "recordatorio_1", AS_OF)
        logged = letters.record_letters(s, batch, "recordatorio_1", AS_OF, actor="ana", clock=clock)
    rfcs = [lt.rfc for lt in batch.letters]
    assert len(rfcs) >= 2 and [r["rfc"] for r in logged] == rfcs
    assert not any(r["repetida"] for r in logged)
    with transaction(loaded) as s:
        views = followups.list_follow_ups(s, tipo="carta", estado=None)
        assert [v.rfc for v in views] == rfcs
        for view, sent in zip(views, batch.letters, strict=True):
            assert view.row.contacto == "ana" and view.row.tipo == "carta"
            assert "recordatorio_1" in view.row.notes and "31/10/2026" in view.row.notes
            assert len(view.documentos) == sent.documentos
            adj = view.to_dict()["adjunto"]
            assert adj["carta_tipo"] == "recordatorio_1" and adj["fecha_corte"] == "2026-10-31"
            row = followups.attachment_of(s, view.row.id)
            pdf = bytes(row.content)
            assert pdf.startswith(b"%PDF") and len(pdf) == adj["bytes"] < len(batch.pdf)
            assert row.nombre == f"carta-recordatorio_1-20261031-{sent.rfc}.pdf"
    # The same letter again the same day: not logged twice, reported as such.
    with transaction(loaded) as s:
        again = letters.record_letters(s, letters.letters_pdf(s, "recordatorio_1", AS_OF), "recordatorio_1",
                                       AS_OF, actor="ana", clock=lambda: NOW + timedelta(hours=1))
    assert [r["repetida"] for r in again] == [True] * len(rfcs)
    assert [r["seguimiento"] for r in again] == [r["seguimiento"] for r in logged]
    assert len(_follow_ups(loaded)) == len(rfcs)
    # Another kind, or the next day, is a new letter.
    with transaction(loaded) as s:
        other = letters.record_letters(s, letters.letters_pdf(s, "recordatorio_2", AS_OF), "recordatorio_2",
                                       AS_OF, actor="ana", clock=lambda: NOW + timedelta(hours=2))
        next_day = letters.record_letters(s, letters.letters_pdf(s, "recordatorio_1", AS_OF), "recordatorio_1",
                                          AS_OF, actor="ana", clock=lambda: NOW + timedelta(days=1))
    assert not any(r["repetida"] for r in other + next_day)
    assert len(_follow_ups(loaded)) == 3 * len(rfcs)


def test_a_batch_that_fails_part_way_logs_nothing(loaded, monkeypatch):
    real = followups.attach_file
    calls = []

    def failing(session, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ValidationError("disco lleno", code="ALMACENAMIENTO_FALLIDO")
        return real(session, *args, **kwargs)

    monkeypatch.setattr(followups, "attach_file", failing)
    with pytest.raises(ValidationError), transaction(loaded) as s:
        batch = letters.letters_pdf(s, "confirmacion_saldos", AS_OF)
        assert len(batch.letters) >= 2
        letters.record_letters(s, batch, "confirmacion_saldos", AS_OF, actor="ana", clock=clock)
    assert len(calls) == 2
    assert _follow_ups(loaded) == []
    with transaction(loaded) as s:
        assert s.scalar(select(func.count()).select_from(FollowUpAttachment)) == 0


def test_the_attached_letter_is_read_only(loaded):
    with transaction(loaded) as s:
        letters.record_letters(s, letters.letters_pdf(s, "prejuridica", AS_OF, filters=None), "prejuridica", AS_OF,
                               actor="ana", clock=clock)
        att_id = s.scalar(select(FollowUpAttachment.id).limit(1))
    for sql in (f"UPDATE follow_up_attachment SET content = :b WHERE id = {att_id}",
                f"DELETE FROM follow_up_attachment WHERE id = {att_id}"):
        with pytest.raises(DBAPIError) as err, loaded.begin() as conn:
            conn.execute(text(sql), {"b": b"otra carta"})
        assert "REGISTRO_INMUTABLE" in str(err.value)
    with transaction(loaded) as s:
        row = s.get(FollowUpAttachment, att_id)
        assert bytes(row.content).startswith(b"%PDF")
        row.nombre = "cambiado.pdf"
        with pytest.raises(Exception) as err:
            s.flush()
        assert "SEGUIMIENTO_INMUTABLE" in str(getattr(err.value, "code", "")) + str(err.value)
        s.rollback()


def test_follow_up_keeps_the_salesperson_given_else_the_customers(loaded):
    with transaction(loaded) as s:
        given = followups.add_follow_up(s, CAC, tipo="llamada", contacto="ana", vendedor="Zoe", clock=clock)
        default = followups.add_follow_up(s, CAC, tipo="llamada", contacto="ana", clock=clock)
        assert given.row.vendedor == "Zoe" and default.row.vendedor == "Ana"
        rep = followups.tasks(s, NOW.date(), vendedor="Zoe")
        assert rep.realizados == {"llamada": 1}
