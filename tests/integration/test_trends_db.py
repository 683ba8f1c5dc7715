"""Payment trends through the service, on SQLite and PostgreSQL, over the generated portfolio.

Monthly invoiced and collected amounts and the amount-weighted days late of each month
are computed here in plain Python over what ``collections_data`` says it generated
(its own record of every invoice and credit), not with ``domain.trends``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from collections_data import AS_OF, USD_RATE, generate, import_all, make_factory

from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.money import round_currency
from cfdi_cobranza.domain.receivables import ApplicationKind
from cfdi_cobranza.domain.trends import CARTERA, Trend
from cfdi_cobranza.errors import NotFoundError, ValidationError
from cfdi_cobranza.reports import tables
from cfdi_cobranza.services import collection_reports as reports

RATES = {"USD": USD_RATE}
ZERO = Decimal(0)
CAC, DME, FOMJ = "CAC070627H79", "DME980512KJ3", "FOMJ8106119D6"


def clock() -> datetime:
    return datetime(2026, 11, 20, 17, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    return make_factory(tmp_path_factory.mktemp("sandbox"), seed=11)


@pytest.fixture(scope="module")
def generated(factory):
    return generate(factory)


@pytest.fixture
def loaded(engine, settings, factory, generated):
    import_all(engine, settings, factory, generated, clock)
    return engine


def _mxn(amount: Decimal, moneda: str) -> Decimal:
    return amount * USD_RATE if moneda == "USD" else amount


def _plain(generated, rfc: str | None):
    """month -> [invoiced MXN, collected MXN, sum(days * amount), sum(amount)] up to AS_OF."""
    acc = defaultdict(lambda: [ZERO, ZERO, ZERO, ZERO])
    docs = {d.doc_id: d for d in generated.docs}
    for d in generated.docs:
        if (rfc is None or d.rfc == rfc) and d.fecha <= AS_OF:
            acc[d.fecha.replace(day=1)][0] += _mxn(d.total, d.moneda)
    for a in generated.applications:
        d = docs[a.doc_id]
        if a.tipo is not ApplicationKind.PAGO or a.fecha > AS_OF or (rfc is not None and d.rfc != rfc):
            continue
        row = acc[a.fecha.replace(day=1)]
        w = _mxn(a.importe, d.moneda)
        row[1] += w
        row[2] += max(0, (a.fecha - d.vencimiento).days) * w
        row[3] += w
    return acc


@pytest.mark.parametrize("rfc", [None, CAC, FOMJ])
def test_monthly_figures_equal_plain_computation(loaded, generated, rfc):
    with transaction(loaded) as s:
        rep = reports.trends(s, AS_OF, months=12, customer=rfc)
    line = rep.cartera if rfc is None else rep.clientes[0]
    if rfc is not None:
        assert [c.rfc for c in rep.clientes] == [rfc]
    expected = _plain(generated, rfc)
    assert len(line.meses) == 12 and line.meses[-1].mes == date(2026, 10, 1)
    seen = False
    for t in line.meses:
        inv, col, dw, w = expected.get(t.mes, [ZERO] * 4)
        assert (t.mes, t.facturado, t.cobrado) == (t.mes, inv, col)
        if w:
            seen = True
            assert t.ponderado == dw / w  # one event per document here: the weighted mean of events
    assert seen or rfc == DME


def test_trend_verdicts_and_the_payload(loaded, generated):
    with transaction(loaded) as s:
        rep = reports.trends(s, AS_OF, rates=RATES)
    assert rep.cartera.rfc == CARTERA and len(rep.cartera.meses) == 24
    assert {c.rfc for c in rep.clientes} == {CAC, DME, FOMJ}
    # The generator's payments all fall in the last 3 months: no previous window to compare with.
    assert all(c.veredicto.tendencia is Trend.SIN_DATOS for c in rep.clientes)
    payload = json.loads(json.dumps(tables.trends_report(rep).payload))
    assert payload["reporte"] == "tendencias" and payload["moneda"] == "MXN"
    assert payload["tipos_cambio"] == {"USD": "17.5"}
    oct_ = next(m for m in payload["cartera"]["meses"] if m["mes"] == "2026-10")
    inv, col, _, _ = _plain(generated, None)[date(2026, 10, 1)]
    assert oct_["facturado"] == format(round_currency(inv, "MXN"), "f")
    assert oct_["cobrado"] == format(round_currency(col, "MXN"), "f")


def test_filters_and_bad_input(loaded):
    from cfdi_cobranza.services.portfolio import Filters

    with transaction(loaded) as s:
        rep = reports.trends(s, AS_OF, filters=Filters(empresa="XXX010101000"))
        assert rep.clientes == () and all(m.facturado == 0 for m in rep.cartera.meses)
        with pytest.raises(ValidationError) as err:
            reports.trends(s, AS_OF, months=500)
        assert err.value.code == "MESES_INVALIDOS"
        with pytest.raises(NotFoundError) as nf:
            reports.trends(s, AS_OF, customer="NOEXISTE")
        assert nf.value.code == "CLIENTE_NO_ENCONTRADO"


def test_customer_summary_carries_the_trend(loaded):
    with transaction(loaded) as s:
        view = reports.customer_overview(s, CAC, AS_OF, rates=RATES)
    payload = tables.customer_summary_payload(view)
    assert payload["tendencia"]["rfc"] == CAC
    assert payload["tendencia"]["tendencia"] == "sin_datos"
    assert len(payload["tendencia"]["meses"]) == 24
