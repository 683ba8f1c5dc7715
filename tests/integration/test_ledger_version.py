"""The ledger version moves on every write that changes balances or reports (both databases),
and the per-process read cache never keeps a result a concurrent writer made stale."""

from __future__ import annotations

import itertools
import threading
import uuid as uuidlib
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from cfdi_cobranza.cfdi.factory import CfdiFactory, Line
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.db.models.ledger_version import TRACKED_TABLES
from cfdi_cobranza.db.session import session_factory, transaction
from cfdi_cobranza.domain.payments import ReceiptInput
from cfdi_cobranza.services import followups
from cfdi_cobranza.services import payments as svc
from cfdi_cobranza.services.importing import Importer
from cfdi_cobranza.services.payments import Allocation
from web.cache import VersionedCache, ledger_version


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    counter = itertools.count(1)
    return CfdiFactory(tmp_path_factory.mktemp("lv"), uuid_source=lambda: uuidlib.UUID(int=next(counter) + 0x7E570000),
                       clock=lambda: datetime(2026, 10, 1, 12, 0))


def _version(engine):
    with transaction(engine) as s:
        return ledger_version(s)


def _import(engine, settings, factory, clock, *docs):
    res = Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir]).import_candidates(
        Candidate(f"{d.uuid}.xml", d.xml) for d in docs)
    assert res.ok, res.to_dict()


def _receipt(amount: str) -> ReceiptInput:
    return ReceiptInput(customer="URE180429TM6", company="", fecha_pago=datetime(2026, 10, 10, 12, 0), forma_pago="03",
                        moneda="MXN", monto=amount, tipo_cambio=None)


def test_version_moves_on_every_kind_of_write(engine, settings, factory, clock):
    seen = [_version(engine)]

    def moved(what: str) -> None:
        now = _version(engine)
        assert now is not None and now != seen[-1], what
        if seen[-1] is not None and now[0] == seen[-1][0]:
            assert now[1] > seen[-1][1], what  # same generation: only forward
        seen.append(now)

    inv = factory.invoice([Line(Decimal("1000.00"))], folio="LV1")  # 1,160.00
    _import(engine, settings, factory, clock, inv)
    moved("import")
    with transaction(engine) as s:
        (pid,) = [p.id for p in svc.register_settlement(s, [_receipt("300.00")], clock=clock).payments]
    moved("payment registered")
    with transaction(engine) as s:
        svc.apply_payment(s, pid, [Allocation(inv.uuid, "300.00")], clock=clock)
    moved("payment applied")
    with transaction(engine) as s:
        svc.unapply(s, pid, inv.uuid, reason="Depósito mal identificado", actor="ana")
    moved("application reversed")
    with transaction(engine) as s:
        followups.add_follow_up(s, "URE180429TM6", tipo="llamada", contacto="ana", notes="Promete pagar",
                                promise_date=datetime(2026, 11, 27).date(), promise_amount=Decimal("100.00"),
                                clock=clock)
    moved("follow-up captured")
    note = factory.credit_note(inv.uuid, lines=[Line(Decimal("100.00"))])  # 116.00
    _import(engine, settings, factory, clock, note)
    moved("credit note imported")
    before = _version(engine)
    with transaction(engine) as s:  # a read-only transaction does not move it
        s.execute(text("SELECT count(*) FROM document"))
    assert _version(engine) == before


def test_every_tracked_table_has_its_triggers(engine):
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.execute(text(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname LIKE 'ledger_version_%'")).all()
            have = {(table, name) for table, name in rows}
            want = {(t, n) for t in TRACKED_TABLES for n in ("ledger_version_bump", "ledger_version_truncate")}
        else:
            have = {(table, name) for name, table in conn.execute(text(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'ledger_version_%'"))}
            want = {(t, f"ledger_version_{t}_{e}") for t in TRACKED_TABLES for e in ("insert", "update", "delete")}
    assert want <= have


def test_rolled_back_write_leaves_the_version(engine):
    before = _version(engine)
    with pytest.raises(RuntimeError), transaction(engine) as s:
        s.execute(text("INSERT INTO follow_up_type (code, nombre, active) VALUES ('lv0', 'LV', TRUE)"))
        raise RuntimeError("rollback")
    assert _version(engine) == before


@pytest.mark.postgres
def test_result_computed_across_a_commit_is_not_cached(pg_engine):
    """The writer commits while the reader computes: the reader returns its (newer) result
    but stores nothing, so the next reader recomputes. (SQLite cannot interleave them: the
    reader's BEGIN IMMEDIATE holds the write lock.)"""
    engine = pg_engine
    cache = VersionedCache()
    calls = []

    def compute_while_someone_writes() -> int:
        calls.append(1)
        if len(calls) == 1:
            with transaction(engine) as w:  # another connection commits a tracked change
                w.execute(text("INSERT INTO follow_up_type (code, nombre, active) VALUES ('lv1', 'LV', TRUE)"))
        return len(calls)

    read = session_factory(engine)
    with read() as s:
        assert cache.get_or_compute(s, "x", (), compute_while_someone_writes) == 1
    assert len(cache) == 0
    with read() as s:
        assert cache.get_or_compute(s, "x", (), compute_while_someone_writes) == 2
        assert cache.get_or_compute(s, "x", (), compute_while_someone_writes) == 2  # now a hit
    assert len(cache) == 1 and cache.hits == 1


@pytest.mark.postgres
def test_writers_do_not_hold_the_version_row_until_they_commit(pg_engine):
    """PostgreSQL bumps at COMMIT (deferred trigger): a writer still in its transaction
    does not block another writer, and both bumps land."""
    engine = pg_engine
    before = _version(engine)
    first = engine.connect()
    tx = first.begin()
    first.execute(text("INSERT INTO follow_up_type (code, nombre, active) VALUES ('lv1', 'LV', TRUE)"))
    done = threading.Event()

    def second() -> None:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            conn.execute(text("INSERT INTO follow_up_type (code, nombre, active) VALUES ('lv2', 'LV', TRUE)"))
        done.set()

    th = threading.Thread(target=second)
    th.start()
    th.join(10)
    assert done.is_set()  # committed while the first writer's transaction is still open
    tx.commit()
    first.close()
    after = _version(engine)
    assert before is not None and after is not None and after[0] == before[0]
    assert after[1] == before[1] + 2
