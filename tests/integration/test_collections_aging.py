"""Aging, due dates and balances from SQL equal the pure domain on the same generated data."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from collections_data import AS_OF, USD_RATE, generate, import_all, make_factory

from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.aging import aging_report
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
        [(r.grupo, r.nombre, r.moneda, r.importes, r.documentos, r.participacion) for r in report.filas],
        {k: (v.importes, v.documentos) for k, v in report.totales.items()},
        [(r.grupo, r.moneda, r.importes, r.documentos) for r in report.filas_mxn],
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


def test_sql_aging_by_customer_filtered_and_after_the_last_credit(loaded, generated):
    """By customer, filtered or not, before and after the last credit of the ledger (with
    and without credits dated after the fecha de corte): same figures as the domain."""
    from sqlalchemy import select

    from cfdi_cobranza.db.models import Customer
    from cfdi_cobranza.services.portfolio import Filters

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
    # After the last payment no credit is later than the fecha de corte: the stored saldo
    # alone, read from the open-invoice index.
    late = _after_last_credit(loaded)
    with transaction(loaded) as s:
        assert not reports._has_later_credits(s, late)
        got = reports.aging(s, late, rates=RATES)
        filtered = reports.aging(s, late, buckets="15,45", rates=RATES, filters=Filters(customer_ids=ids))
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


def test_a_filter_listing_every_customer_is_the_whole_report(loaded):
    from sqlalchemy import select

    from cfdi_cobranza.db.models import Customer
    from cfdi_cobranza.services.portfolio import Filters

    late = _after_last_credit(loaded)
    with transaction(loaded) as s:
        ids = tuple(s.scalars(select(Customer.id)))
        got = reports.aging(s, late, rates=RATES, filters=Filters(customer_ids=ids))
        full = reports.aging(s, late, rates=RATES)
    assert _shape(got) == _shape(full)
