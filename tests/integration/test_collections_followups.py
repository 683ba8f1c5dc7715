"""The follow-up file is read-only: refused by the service, the ORM and the database triggers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from collections_data import AS_OF, generate, import_all, make_factory
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from cfdi_cobranza.db.models.collections import CustomerNote, FollowUp
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.period import DateRange
from cfdi_cobranza.errors import ConflictError, ValidationError
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services import followups


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    return make_factory(tmp_path_factory.mktemp("sandbox"), seed=2)


@pytest.fixture(scope="module")
def generated(factory):
    return generate(factory)


@pytest.fixture
def loaded(engine, settings, factory, generated, clock):
    import_all(engine, settings, factory, generated, clock)
    return engine


@pytest.fixture
def fclock():
    return Clock(datetime(2026, 10, 20, 17, 0, tzinfo=UTC))


def _add(engine, fclock, **kw):
    with transaction(engine) as s:
        return followups.add_follow_up(s, kw.pop("rfc", "CAC070627H79"), tipo=kw.pop("tipo", "llamada"),
                                       contacto="ana", clock=fclock, **kw).row.id


def test_raw_update_and_delete_are_refused_by_the_database(loaded, generated, fclock):
    fid = _add(loaded, fclock, notes="Llamada inicial", documentos=[generated.invoices["CAC070627H79:31"].uuid])
    for sql in (f"UPDATE follow_up SET notes = 'cambiado' WHERE id = {fid}",
                f"DELETE FROM follow_up WHERE id = {fid}",
                f"DELETE FROM follow_up_document WHERE follow_up_id = {fid}",
                f"UPDATE follow_up_document SET document_id = 1 WHERE follow_up_id = {fid}"):
        with pytest.raises(DBAPIError) as err, loaded.begin() as conn:
            conn.execute(text(sql))
        assert "REGISTRO_INMUTABLE" in str(err.value)
    with transaction(loaded) as s:
        followups.close_follow_ups(s, DateRange(date(2026, 10, 1), date(2026, 10, 31)), actor="ana", clock=fclock)
    for sql in (f"UPDATE follow_up_closure SET closed_by = 'otro' WHERE follow_up_id = {fid}",
                f"DELETE FROM follow_up_closure WHERE follow_up_id = {fid}"):
        with pytest.raises(DBAPIError) as err, loaded.begin() as conn:
            conn.execute(text(sql))
        assert "REGISTRO_INMUTABLE" in str(err.value)
    with transaction(loaded) as s:
        assert s.get(FollowUp, fid).notes == "Llamada inicial"


def test_raw_backdated_insert_is_refused_by_the_database(loaded, fclock):
    _add(loaded, fclock)
    with pytest.raises(DBAPIError) as err, loaded.begin() as conn:
        conn.execute(text("INSERT INTO follow_up (customer_id, at, tipo, contacto) "
                          "VALUES (1, :at, 'llamada', 'x')"), {"at": "2020-01-01 00:00:00"})
    assert "REGISTRO_INMUTABLE" in str(err.value)


def test_orm_and_service_refuse_changes(loaded, fclock):
    fid = _add(loaded, fclock)
    with pytest.raises(ConflictError) as err, transaction(loaded) as s:
        s.get(FollowUp, fid).notes = "editado"
        s.flush()
    assert err.value.code == "SEGUIMIENTO_INMUTABLE"
    with pytest.raises(ConflictError), transaction(loaded) as s:
        s.delete(s.get(FollowUp, fid))
        s.flush()
    with pytest.raises(ConflictError):
        followups.edit_follow_up(fid, notes="x")
    with pytest.raises(ConflictError):
        followups.delete_follow_up(fid)
    past = Clock(fclock.now - timedelta(minutes=5))
    with pytest.raises(ConflictError) as err:
        _add(loaded, past)
    assert err.value.code == "SEGUIMIENTO_EN_EL_PASADO"
    with pytest.raises(ConflictError), transaction(loaded) as s:
        credit.add_note(s, "CAC070627H79", "nota", author="ana", clock=fclock)
        s.flush()
        note = s.scalars(select(CustomerNote)).one()
        note.text = "otra"
        s.flush()


def test_list_tasks_close_history_and_promises(loaded, generated, fclock):
    inv = generated.invoices["DME980512KJ3:60"]
    _add(loaded, fclock, rfc="DME980512KJ3", tipo="visita", documentos=[inv.uuid],
         promise_date=date(2026, 10, 25), promise_amount=Decimal("100.00"), next_task_date=date(2026, 10, 22))
    fclock.now += timedelta(hours=1)
    _add(loaded, fclock, rfc="CAC070627H79", tipo="whatsapp", next_task_date=date(2026, 10, 21), notes="Enviar EdoCta")
    with transaction(loaded) as s:
        pending = followups.list_follow_ups(s)
        assert [v.row.tipo for v in pending] == ["visita", "whatsapp"]
        report = followups.tasks(s, date(2026, 10, 21))
        assert report.realizados == {}
        assert [t.rfc for t in report.tareas] == ["CAC070627H79"]
        day = followups.tasks(s, date(2026, 10, 20))
        assert day.realizados == {"visita": 1, "whatsapp": 1}
        assert followups.promise_outcomes(s, date(2026, 10, 24), only_broken=True) == []
        broken = followups.promise_outcomes(s, AS_OF, only_broken=True)
        assert [(o.promise.doc_ids, o.faltante) for o in broken] == [((inv.uuid,), Decimal("100.00"))]
        closed = followups.close_follow_ups(s, DateRange(date(2026, 10, 20), date(2026, 10, 20)), actor="jefe",
                                            rfc="DME980512KJ3", clock=fclock)
    assert len(closed) == 1
    with transaction(loaded) as s:
        assert [v.rfc for v in followups.list_follow_ups(s)] == ["CAC070627H79"]
        history = followups.list_follow_ups(s, estado="cerrado")
        assert [(v.rfc, v.estado, v.closure.closed_by) for v in history] == [("DME980512KJ3", "cerrado", "jefe")]


@pytest.mark.parametrize("kwargs,code", [
    ({"tipo": "telegrama"}, "TIPO_SEGUIMIENTO_INVALIDO"),
    ({"promise_date": date(2026, 10, 1), "promise_amount": Decimal("5")}, "FECHA_EN_EL_PASADO"),
    ({"promise_date": date(2026, 11, 1)}, "PROMESA_INCOMPLETA"),
    ({"promise_date": date(2026, 11, 1), "promise_amount": Decimal("-5")}, "IMPORTE_INVALIDO"),
    ({"rfc": "XXX010101XXX"}, "CLIENTE_NO_ENCONTRADO"),
    ({"documentos": ["NOEXISTE"]}, "DOCUMENTO_NO_ENCONTRADO"),
])
def test_bad_follow_up_input_is_refused(loaded, fclock, kwargs, code):
    with pytest.raises((ValidationError, ConflictError, Exception)) as err:
        _add(loaded, fclock, **kwargs)
    assert getattr(err.value, "code", None) == code
