"""Aging, due dates and balances from SQL equal the pure domain on the same generated data."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from collections_data import AS_OF, USD_RATE, generate, import_all, make_factory

from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.aging import GroupBy, aging_report
from cfdi_cobranza.domain.due_dates import due_dates
from cfdi_cobranza.domain.period import DateRange
from cfdi_cobranza.domain.receivables import open_items
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.services import collection_reports as reports

RATES = {"USD": USD_RATE}


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    return make_factory(tmp_path_factory.mktemp("sandbox"))


@pytest.fixture(scope="module")
def generated(factory):
    return generate(factory)


@pytest.fixture
def loaded(engine, settings, factory, generated, clock):
    import_all(engine, settings, factory, generated, clock)
    return engine


def _expected(generated, as_of, buckets=None, group_by="cliente"):
    items = open_items(generated.docs, generated.applications, as_of)
    return aging_report(items, as_of, buckets, group_by, RATES)


def _shape(report):
    return (
        [(r.grupo, r.nombre, r.moneda, r.montos.importes, r.montos.documentos, r.participacion) for r in report.filas],
        {k: (v.importes, v.documentos) for k, v in report.totales.items()},
        [(r.grupo, r.moneda, r.montos.importes, r.montos.documentos) for r in report.filas_mxn],
        (report.total_mxn.importes, report.total_mxn.documentos),
    )


@pytest.mark.parametrize("as_of_shift", [0, -20, 5])
def test_sql_aging_equals_domain_aging(loaded, generated, as_of_shift):
    as_of = AS_OF + timedelta(days=as_of_shift)
    with transaction(loaded) as s:
        got = reports.aging(s, as_of, rates=RATES)
    assert _shape(got) == _shape(_expected(generated, as_of))


@pytest.mark.parametrize("spec", ["0,30,60,90", "15,45", "1-30,31-60,61-90,91-120"])
@pytest.mark.parametrize("group_by", ["cliente", "cartera", "empresa", "vendedor"])
def test_sql_aging_equals_domain_for_buckets_and_groupings(loaded, generated, spec, group_by):
    with transaction(loaded) as s:
        got = reports.aging(s, AS_OF, buckets=spec, group_by=group_by, rates=RATES)
    assert _shape(got) == _shape(_expected(generated, AS_OF, spec, group_by))


def test_bucket_boundaries_are_exact(loaded, generated):
    with transaction(loaded) as s:
        got = reports.aging(s, AS_OF, rates=RATES, detail=True)
    by_days = {ln.dias_vencido: ln.bucket for ln in got.detalle}
    assert by_days[-10] == 0 and by_days[0] == 0  # due today is not late yet
    assert by_days[1] == 1 and by_days[30] == 1
    assert by_days[31] == 2 and by_days[60] == 2
    assert by_days[61] == 3 and by_days[90] == 3
    assert by_days[91] == 4 and by_days[150] == 4
    assert got.etiquetas == ("Por vencer", "1-30", "31-60", "61-90", "Más de 90")


def test_past_as_of_subtracts_only_credits_up_to_it(loaded, generated):
    inv = generated.invoices["CAC070627H79:1"]  # paid 300.00 two days after AS_OF
    with transaction(loaded) as s:
        now_items = {i.doc_id: i.saldo for i in reports.open_items(s, AS_OF + timedelta(days=3))}
        then_items = {i.doc_id: i.saldo for i in reports.open_items(s, AS_OF)}
    assert then_items[inv.uuid] == inv.total
    assert now_items[inv.uuid] == inv.total - Decimal("300.00")
    paid = generated.invoices["FOMJ8106119D6:150"]
    assert paid.uuid not in then_items
    with transaction(loaded) as s:
        before_payment = {i.doc_id for i in reports.open_items(s, AS_OF - timedelta(days=6))}
    assert paid.uuid in before_payment


def test_due_dates_report_equals_domain(loaded, generated):
    rango = DateRange(AS_OF - timedelta(days=31), AS_OF + timedelta(days=10))
    with transaction(loaded) as s:
        got = reports.due_report(s, rango, AS_OF)
    expected = due_dates(open_items(generated.docs, generated.applications, AS_OF), rango, AS_OF)
    assert [(ln.item.doc_id, ln.item.saldo, ln.dias_vencido) for ln in got.lineas] == [
        (ln.item.doc_id, ln.item.saldo, ln.dias_vencido) for ln in expected.lineas]
    assert got.totales == expected.totales


@pytest.mark.parametrize("spec", ["30,30", "60,30", "0,-5", "abc", "", "1-30,20-60"])
def test_bad_bucket_lists_are_refused_in_spanish(loaded, spec):
    with transaction(loaded) as s, pytest.raises(ValidationError) as err:
        reports.aging(s, AS_OF, buckets=spec, rates=RATES)
    assert err.value.code == "BUCKETS_INVALIDOS"
    assert "Rangos de antigüedad inválidos" in err.value.message


def test_sql_aging_by_customer_in_small_chunks_and_filtered(loaded, generated, monkeypatch):
    """By customer on PostgreSQL the rows are streamed into the report a few at a time
    (``collection_reports._stream`` into ``domain.aging.AgingSums``); tiny chunks split
    every customer's rows across chunks. Where no credit is dated after the fecha de
    corte the report goes by ranges of customer ids, here one id each, and merges a range
    per customer: on SQLite a helper thread computes them (``_sqlite_ranges``), on
    PostgreSQL one statement streams them (``_pg_ranges``). Same figures as the domain,
    filtered or not, and the session goes on working after."""
    from sqlalchemy import select, text

    from cfdi_cobranza.db.models import Customer
    from cfdi_cobranza.domain import aging as domain_aging
    from cfdi_cobranza.services.portfolio import Filters

    monkeypatch.setattr(domain_aging, "CHUNK_ROWS", 3)
    monkeypatch.setattr(reports, "STREAM_ROWS", 2)
    monkeypatch.setattr(reports, "RANGE_IDS", 1)
    items = open_items(generated.docs, generated.applications, AS_OF)
    some = sorted({i.rfc for i in items})[::2]
    with transaction(loaded) as s:
        got = reports.aging(s, AS_OF, rates=RATES, detail=True)
        ids = tuple(s.scalars(select(Customer.id).where(Customer.key.in_(some))))
        filtered = reports.aging(s, AS_OF, buckets="15,45", rates=RATES, filters=Filters(customer_ids=ids))
        assert s.scalar(select(Customer.key).where(Customer.id == ids[0])) in some
    expected = _expected(generated, AS_OF)
    assert _shape(got) == _shape(expected)
    assert [(ln.item.doc_id, ln.bucket) for ln in got.detalle] == [(ln.item.doc_id, ln.bucket) for ln in expected.detalle]
    subset = aging_report([i for i in items if i.rfc in some], AS_OF, "15,45", "cliente", RATES)
    assert _shape(filtered) == _shape(subset) and len(filtered.filas) < len(got.filas)
    # After the last payment no credit is later than the fecha de corte: on SQLite that is
    # the report by ranges of customer ids (before it, one range; see _sqlite_ranges).
    late = _after_last_credit(loaded)
    threads: set[str] = set()
    with transaction(loaded) as s:
        assert not reports._has_later_credits(s, late)
        driver = s.connection().connection.driver_connection
        sqlite = s.get_bind().dialect.name == "sqlite"
        if sqlite:  # which threads run the statements
            driver.set_trace_callback(lambda _sql: threads.add(threading.current_thread().name))
        settings = "SELECT current_setting('jit'), current_setting('max_parallel_workers_per_gather')"
        before = None if sqlite else s.execute(text(settings)).one()
        try:
            got = reports.aging(s, late, rates=RATES)
            filtered = reports.aging(s, late, buckets="15,45", rates=RATES, filters=Filters(customer_ids=ids))
        finally:
            if sqlite:
                driver.set_trace_callback(None)
        # PostgreSQL: the ranges' statement turns JIT and parallel workers off, then back.
        assert sqlite or s.execute(text(settings)).one() == before
    assert not sqlite or "cobranza-aging-sqlite" in threads
    assert _shape(got) == _shape(_expected(generated, late))
    subset = aging_report([i for i in open_items(generated.docs, generated.applications, late) if i.rfc in some],
                          late, "15,45", "cliente", RATES)
    assert _shape(filtered) == _shape(subset) and len(filtered.filas) < len(got.filas)


def _after_last_credit(engine):
    """The day after the last credit of the ledger."""
    from sqlalchemy import func, select

    from cfdi_cobranza.db.models import Credit
    from cfdi_cobranza.services.portfolio import LOCAL_TZ

    with transaction(engine) as s:
        last = s.scalar(select(func.max(Credit.fecha)))
    assert last is not None
    if last.tzinfo is not None:
        last = last.astimezone(LOCAL_TZ)
    return last.date() + timedelta(days=1)


def test_sql_aging_by_customer_without_streaming_is_the_same(loaded, generated, monkeypatch):
    """A driver that cannot stream rows in chunks (psycopg < 3.2, libpq < 17, another
    driver) reads the whole result first: same figures."""
    monkeypatch.setattr(reports, "_can_stream", lambda session: False)
    with transaction(loaded) as s:
        got = reports.aging(s, AS_OF, rates=RATES)
    assert _shape(got) == _shape(_expected(generated, AS_OF))


def test_streamed_parameters_go_through_their_types(loaded, monkeypatch):
    """``_stream`` sends each parameter as its column type writes it, the values of an
    expanded IN list included (each through its list's type): Money turns integers into
    Decimals and refuses more than 6 decimals."""
    from sqlalchemy import literal_column, select

    from cfdi_cobranza.db.models import Document

    with transaction(loaded) as s:
        if s.get_bind().dialect.name != "postgresql":
            return  # streaming is PostgreSQL's; SQLite reads whole results
        sent: list[dict[str, object]] = []
        conn = s.connection()
        real = conn.connection.dbapi_connection

        class Cur:
            def __init__(self) -> None:
                self.cur = real.cursor()

            def __enter__(self):  # type: ignore[no-untyped-def]
                return self

            def __exit__(self, *exc: object) -> None:
                self.cur.close()

            def stream(self, sql, params, size):  # type: ignore[no-untyped-def]
                sent.append(dict(params))
                return self.cur.stream(sql, params, size=size)

        class Spy:
            def cursor(self) -> Cur:
                return Cur()

        monkeypatch.setattr(type(conn.connection), "driver_connection", property(lambda _self: Spy()),
                            raising=False)
        stmt = select(literal_column("1")).where(Document.saldo.in_([1, 2]), Document.total > 3)
        list(reports._stream(s, stmt))
        with pytest.raises(ValueError, match="more than 6 decimals"):
            list(reports._stream(s, select(literal_column("1")).where(Document.saldo.in_([Decimal("1.1234567")]))))
    (params,) = sent
    assert sorted(params.values()) == [Decimal(1), Decimal(2), Decimal(3)]
    assert all(type(v) is Decimal for v in params.values())


def test_sqlite_driver_rows_are_what_core_reads(loaded, monkeypatch):
    """On SQLite the report binds parameters as Core binds them (positional, Money as
    integers of millionths, IN lists expanded) and reads its rows as one JSON text per
    range of customer ids (``_sqlite_ranges``): together, the ranges give exactly the
    rows Core reads from the whole query, each sum with Money's six decimals, filtered
    or not."""
    from sqlalchemy import func, select

    from cfdi_cobranza.db.models import Customer, Document
    from cfdi_cobranza.db.types import Money
    from cfdi_cobranza.domain.money import ZERO
    from cfdi_cobranza.services.portfolio import Filters

    monkeypatch.setattr(reports, "RANGE_IDS", 1)
    late = _after_last_credit(loaded)
    with transaction(loaded) as s:
        if s.get_bind().dialect.name != "sqlite":
            return  # PostgreSQL streams through psycopg (test above)
        saldos = list(s.scalars(select(Document.saldo).where(Document.saldo > 0).limit(3)))
        assert saldos
        cur = s.connection().connection.driver_connection.cursor()
        for stmt in (
            select(Document.id, Document.moneda, func.count()).where(Document.saldo.in_(saldos))
            .group_by(Document.id, Document.moneda).order_by(Document.id),
            select(Document.id).where(Document.total > 3, Document.saldo.in_([1, *saldos])).order_by(Document.id),
        ):
            core = [tuple(r) for r in s.connection().execute(stmt)]
            assert core and cur.execute(*reports._driver_statement(s, stmt)).fetchall() == core
        spec = reports.resolve_buckets(s, None)
        ids = s.scalars(select(Customer.id).order_by(Customer.id)).all()
        some = tuple(ids[::2])
        for filters in (None, Filters(customer_ids=some)):
            stmt = reports.aging_statement(s, late, spec, GroupBy.CLIENTE, filters)
            core = [(*r[:4], *(ZERO if v is None else Decimal(v).scaleb(-Money.scale) for v in r[4:]))
                    for r in s.connection().execute(stmt)]
            ranges = [list(zip(k, n, m, d, *a, strict=True))
                      for k, n, m, d, a in reports._sqlite_ranges(s, late, spec, filters)]
            assert len(ranges) == len(ids) > 1 and core
            got = [row for rows in ranges for row in rows]
            assert sorted(got, key=repr) == sorted(core, key=repr)
            assert all(rows == sorted(rows, key=lambda r: (r[1], r[0], r[2])) for rows in ranges)
            sums = [v for row in got for v in row[4:] if v is not ZERO]
            assert sums and {v.as_tuple().exponent for v in sums} == {-Money.scale}
        assert s.scalar(select(func.count()).select_from(Document)) > 0  # the session goes on
        # Before the last payment, one range: the later credits are summed once.
        assert len(list(reports._sqlite_ranges(s, AS_OF, spec, None))) == 1 < len(ids)
        # Ids far apart widen the ranges instead of multiplying the statements.
        monkeypatch.setattr(reports, "MAX_RANGES", 2)
        assert len(list(reports._sqlite_ranges(s, late, spec, None))) == 2


def test_an_error_while_the_ranges_stream_reaches_the_caller(loaded, monkeypatch):
    """PostgreSQL by ranges: an error of the caller mid-stream (here in the report's build)
    comes out as itself, promptly; the stream is closed (it holds psycopg's connection
    lock) and the session can be rolled back and used again. A long list of customers in
    the filters, repeated in every range, keeps the report one query instead."""
    import threading as th

    from sqlalchemy import func, select

    from cfdi_cobranza.db.models import Customer, Document
    from cfdi_cobranza.domain.aging import AgingSums
    from cfdi_cobranza.services.portfolio import Filters

    late = _after_last_credit(loaded)
    with transaction(loaded) as s:
        if s.get_bind().dialect.name != "postgresql" or not reports._can_stream(s):
            return  # SQLite: test_sql_aging_by_customer_in_small_chunks_and_filtered
        ids = tuple(s.scalars(select(Customer.id)))
    monkeypatch.setattr(reports, "RANGE_IDS", 1)
    monkeypatch.setattr(reports, "STREAM_ROWS", 1)
    calls = []
    real = AgingSums.add_columns

    def failing(self, *columns):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("falla a la mitad")
        return real(self, *columns)

    monkeypatch.setattr(AgingSums, "add_columns", failing)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            with transaction(loaded) as s:
                reports.aging(s, late, rates=RATES)
        except BaseException as exc:
            outcome.append(exc)

    worker = th.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the report hung after an error mid-stream"
    assert len(outcome) == 1 and isinstance(outcome[0], RuntimeError) and "mitad" in str(outcome[0])
    monkeypatch.setattr(AgingSums, "add_columns", real)
    with transaction(loaded) as s:
        assert s.scalar(select(func.count()).select_from(Document)) > 0
        spec = reports.resolve_buckets(s, None)
        assert reports._pg_ranges_statement(s, late, spec, Filters(customer_ids=ids)) is not None
        monkeypatch.setattr(reports, "PG_MAX_PARAMETERS", 10)
        assert reports._pg_ranges_statement(s, late, spec, Filters(customer_ids=ids)) is None
        got = reports.aging(s, late, rates=RATES, filters=Filters(customer_ids=ids))
        full = reports.aging(s, late, rates=RATES)
    assert _shape(got) == _shape(full)
