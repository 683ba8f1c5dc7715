"""Projected income: behaviour vs due dates, promise overrides, and the backtest."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from cfdi_cobranza.domain.forecast import (
    DelayModel,
    History,
    Origin,
    backtest,
    delay_model,
    project_income,
)
from cfdi_cobranza.domain.period import Granularity
from cfdi_cobranza.domain.promises import Promise
from cfdi_cobranza.domain.receivables import Application, OpenItem, Receivable
from cfdi_cobranza.errors import ValidationError

A = "AAA010101AAA"
B = "BBB010101BBB"
C = "CCC010101CCC"
AS_OF = date(2026, 3, 4)  # a Wednesday; the projection starts Thursday 05/03


def item(doc_id, rfc, saldo, venc, moneda="MXN"):
    return OpenItem(doc_id, rfc, rfc[:3], moneda, D(saldo), venc)


def settled(rfc, n, due, delay):
    d = Receivable(f"{rfc}-{n}", rfc, rfc[:3], "MXN", D("100"), due - timedelta(days=30), due)
    return d, Application(d.doc_id, due + timedelta(days=delay), D("100"))


def test_delay_model_medians_and_fallbacks():
    rows = [
        settled(A, 1, date(2026, 1, 5), 14),
        settled(A, 2, date(2026, 1, 12), 16),
        settled(A, 3, date(2026, 1, 19), 15),
        settled(C, 1, date(2026, 1, 5), 0),
        settled(C, 2, date(2026, 1, 12), 0),
        settled(B, 1, date(2026, 2, 1), 90),  # paid after the cutoff: unknown at AS_OF
    ]
    docs = [d for d, _ in rows]
    apps = [a for _, a in rows]
    model = delay_model(docs, apps, AS_OF)
    assert model.por_cliente == {A: 15}
    assert model.cartera == 14  # median_low of [0, 0, 14, 15, 16]
    assert model.delay_for(A) == (15, Origin.COMPORTAMIENTO)
    assert model.delay_for(C) == (14, Origin.CARTERA)  # only 2 documents of history
    assert delay_model(docs, apps, AS_OF, min_history=2).por_cliente == {A: 15, C: 0}
    assert delay_model([], [], AS_OF).cartera == 0


def _projection(**kw):
    items = [
        item("A1", A, "1000", date(2026, 3, 9)),
        item("A2", A, "500", date(2026, 2, 1)),  # long overdue
        item("B1", B, "200", date(2026, 3, 16)),
        item("P1", A, "800", date(2026, 3, 10)),
    ]
    model = DelayModel({A: 15}, 14)
    return project_income(items, AS_OF, model, hasta=date(2026, 3, 29), **kw)


def _weeks(projection):
    return {
        r.periodo.inicio.isoformat(): (r.por_comportamiento, r.por_vencimiento, r.de_promesas)
        for r in projection.filas
    }


def test_projection_by_week_without_promises():
    p = _projection()
    assert [r.periodo.etiqueta for r in p.filas] == ["2026-S10", "2026-S11", "2026-S12", "2026-S13"]
    assert _weeks(p) == {
        "2026-03-02": (D("500"), D("500"), D(0)),  # overdue: expected on the first day
        "2026-03-09": (D(0), D("1800"), D(0)),
        "2026-03-16": (D(0), D("200"), D(0)),
        "2026-03-23": (D("1800"), D(0), D(0)),  # 09/03 + 15 and 10/03 + 15
    }
    assert p.posterior == {"MXN": (D("200"), D(0))}  # B1: 16/03 + 14 = 30/03
    origins = {e.doc_id: (e.fecha_esperada, e.origen) for e in p.esperados}
    assert origins["B1"] == (date(2026, 3, 30), Origin.CARTERA)
    assert origins["A2"] == (date(2026, 3, 5), Origin.COMPORTAMIENTO)


def test_promise_replaces_date_and_amount_of_its_document():
    promise = Promise("PR", A, date(2026, 3, 3), date(2026, 3, 12), D("500"), "MXN", ("P1",))
    p = _projection(promises=[promise])
    weeks = _weeks(p)
    assert weeks["2026-03-09"] == (D("500"), D("1800"), D("500"))
    assert weeks["2026-03-23"] == (D("1300"), D(0), D(0))  # A1 1000 + what P1's promise leaves
    parts = sorted((e.importe, e.origen, e.fecha_esperada) for e in p.esperados if e.doc_id == "P1")
    assert parts == [
        (D("300"), Origin.COMPORTAMIENTO, date(2026, 3, 25)),
        (D("500"), Origin.PROMESA, date(2026, 3, 12)),
    ]
    # the due-date projection ignores promises
    assert [r.por_vencimiento for r in p.filas] == [r.por_vencimiento for r in _projection().filas]


def test_partly_paid_broken_and_oversized_promises():
    paid = [Application("P1", date(2026, 3, 4), D("200"))]
    kept_partly = Promise("PR", A, date(2026, 3, 3), date(2026, 3, 12), D("500"), "MXN", ("P1",))
    p = _projection(promises=[kept_partly], applications=paid)
    assert _weeks(p)["2026-03-09"][2] == D("300")  # only what is still promised

    broken = Promise("PB", A, date(2026, 2, 20), date(2026, 3, 1), D("500"), "MXN", ("P1",))
    assert _weeks(_projection(promises=[broken])) == _weeks(_projection())

    big = Promise(
        "PX", A, date(2026, 3, 3), date(2026, 3, 20), D("9999"), "MXN", ("P1", "A1", "ZZ")
    )
    p = _projection(promises=[big])
    assert _weeks(p)["2026-03-16"] == (D("1800"), D("200"), D("1800"))  # capped at the balances


def test_projection_conserves_the_portfolio_and_converts_to_mxn():
    items = [
        item("U1", A, "100", date(2026, 3, 20), "USD"),
        item("M1", B, "50", date(2026, 5, 20)),
        item("M2", B, "7", date(2026, 6, 1)),  # + 3 days falls after the horizon
    ]
    p = project_income(
        items, AS_OF, DelayModel({}, 3), granularity="mes", rates_to_mxn={"USD": D("17")}
    )
    assert [r.periodo.etiqueta for r in p.filas_mxn] == ["2026-03", "2026-04", "2026-05", "2026-06"]
    assert p.filas_mxn[0].por_comportamiento == D("1700")
    assert sum(r.por_comportamiento for r in p.filas_mxn) == D("1750")
    assert p.posterior["MXN"] == (D("7"), D(0))
    by_cur = {}
    for r in p.filas:
        by_cur[r.moneda] = by_cur.get(r.moneda, D(0)) + r.por_comportamiento
    for cur, (later_b, later_d) in p.posterior.items():
        total = sum(i.saldo for i in items if i.moneda == cur)
        assert by_cur[cur] + later_b == total
        assert sum(r.por_vencimiento for r in p.filas if r.moneda == cur) + later_d == total
    with pytest.raises(ValidationError) as err:
        project_income(items, AS_OF, DelayModel({}, 0))
    assert err.value.code == "TIPO_CAMBIO_FALTANTE"


def test_projection_range_refused_when_inverted():
    with pytest.raises(ValidationError) as err:
        project_income([], AS_OF, DelayModel({}, 0), hasta=AS_OF)
    assert err.value.code == "RANGO_INVALIDO"
    p = project_income([], AS_OF, DelayModel({}, 0), granularity=Granularity.SEMANA)
    assert p.rango.desde == date(2026, 3, 5)
    assert p.rango.hasta == date(2026, 6, 2)


def _steady_history(delays: dict[str, int], days: int = 400) -> History:
    """Every customer invoices weekly, 30-day terms, always pays exactly ``delay`` late."""
    start = date(2025, 1, 6)
    end = start + timedelta(days=days)
    docs, apps = [], []
    for rfc, delay in delays.items():
        for n in range(days // 7):
            fecha = start + timedelta(days=7 * n)
            d = Receivable(
                f"{rfc}-{n}", rfc, rfc[:3], "MXN", D(1000 + n), fecha, fecha + timedelta(days=30)
            )
            docs.append(d)
            when = d.vencimiento + timedelta(days=delay)
            if when <= end:
                apps.append(Application(d.doc_id, when, d.total))
    return History(tuple(docs), tuple(apps))


def test_backtest_behaviour_is_exact_on_steady_payers():
    history = _steady_history({A: 15, B: 0, C: 40})
    cutoff = date(2026, 2, 10) - timedelta(days=90)
    res = backtest(history, cutoff)
    assert res.mae_comportamiento == 0
    assert res.mae_vencimiento > 0
    assert res.ratio_mae == 0
    assert res.wape_vencimiento > 0
    # "real" is exactly the payments after the cutoff on documents open at the cutoff
    open_ids = {d.doc_id for d in history.docs if d.fecha <= cutoff} - {
        a.doc_id for a in history.applications if a.fecha <= cutoff
    }
    expected = sum(
        a.importe
        for a in history.applications
        if a.doc_id in open_ids and cutoff < a.fecha <= cutoff + timedelta(days=90)
    )
    assert res.total_real == expected > 0
    assert len(res.periodos) == 14


def test_backtest_does_not_see_the_future():
    """A customer that turns slow after the cutoff: the model only knows the past."""
    before = _steady_history({A: 0}, days=300)
    cutoff = date(2025, 1, 6) + timedelta(days=200)
    apps = tuple(
        a if a.fecha <= cutoff else Application(a.doc_id, a.fecha + timedelta(days=30), a.importe)
        for a in before.applications
    )
    history = History(before.docs, apps)
    res = backtest(history, cutoff, horizon_days=60)
    assert res.mae_comportamiento == res.mae_vencimiento  # delay 0 = due dates
    assert res.mae_comportamiento > 0
    with pytest.raises(ValidationError) as err:
        backtest(history, cutoff, horizon_days=0)
    assert err.value.code == "HORIZONTE_INVALIDO"


def test_overdue_document_uses_the_customers_later_settlements():
    """Usually on time, but when late it is ~60 days late: a document 30 days overdue is
    expected at due + 60, not tomorrow (unless the refinement is switched off)."""
    rows = [settled(A, n, date(2025, 10, 1) + timedelta(days=7 * n), 0) for n in range(3)]
    rows += [settled(A, 10 + n, date(2025, 9, 1) + timedelta(days=7 * n), 60) for n in range(2)]
    docs = [d for d, _ in rows]
    apps = [a for _, a in rows]
    due = AS_OF - timedelta(days=30)
    overdue = [item("X", A, "100", due)]
    model = delay_model(docs, apps, AS_OF)
    assert model.por_cliente == {A: 0}
    (exp,) = project_income(overdue, AS_OF, model).esperados
    assert exp.fecha_esperada == due + timedelta(days=60)
    plain = delay_model(docs, apps, AS_OF, conditional=False)
    (exp,) = project_income(overdue, AS_OF, plain).esperados
    assert exp.fecha_esperada == AS_OF + timedelta(days=1)
    # never later than anything seen: back to the first day of the projection
    very_late = [item("Y", A, "100", AS_OF - timedelta(days=200))]
    (exp,) = project_income(very_late, AS_OF, model).esperados
    assert exp.fecha_esperada == AS_OF + timedelta(days=1)
