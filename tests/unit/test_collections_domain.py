"""Statements, receivables movement, due dates, days late, promises and the summary."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from cfdi_cobranza.domain.days_late import (
    customer_days_late,
    document_days_late,
    settlement_delays,
)
from cfdi_cobranza.domain.due_dates import due_dates
from cfdi_cobranza.domain.ledger import ledger_entries
from cfdi_cobranza.domain.movement import receivables_movement
from cfdi_cobranza.domain.period import (
    DateRange,
    Granularity,
    parse_date,
    period_of,
    periods_between,
)
from cfdi_cobranza.domain.promises import (
    Promise,
    broken_promises,
    evaluate_promises,
)
from cfdi_cobranza.domain.receivables import (
    Application,
    ApplicationKind,
    Payment,
    Receivable,
    open_items,
    unapplied_by_currency,
)
from cfdi_cobranza.domain.statement import statement
from cfdi_cobranza.domain.states import PromiseStatus
from cfdi_cobranza.domain.summary import customer_summary
from cfdi_cobranza.errors import ValidationError

NC = ApplicationKind.NOTA_CREDITO
A = "AAA010101AAA"
B = "BBB010101BBB"


def doc(doc_id, total, fecha, venc=None, *, rfc=A, moneda="MXN", **kw):
    return Receivable(
        doc_id, rfc, f"Cliente {rfc[:3]}", moneda, D(total), fecha, venc or fecha, **kw
    )


def pay(doc_id, importe, fecha, tipo=ApplicationKind.PAGO, **kw):
    return Application(doc_id, fecha, D(importe), tipo, **kw)


# --- ranges and periods --------------------------------------------------------------


def test_inverted_range_refused():
    with pytest.raises(ValidationError) as err:
        DateRange(date(2026, 3, 31), date(2026, 3, 1))
    assert err.value.code == "RANGO_INVALIDO"
    assert "31/03/2026" in err.value.message
    assert DateRange(date(2026, 3, 1), date(2026, 3, 1)).days == 1


def test_range_needs_dates():
    with pytest.raises(ValidationError) as err:
        DateRange(None, date(2026, 3, 1))  # type: ignore[arg-type]
    assert err.value.code == "RANGO_INVALIDO"


def test_iso_weeks_and_months():
    wk = period_of(date(2025, 12, 31), Granularity.SEMANA)
    assert (wk.inicio, wk.fin, wk.etiqueta) == (date(2025, 12, 29), date(2026, 1, 4), "2026-S01")
    mo = period_of(date(2024, 2, 10), Granularity.MES)
    assert (mo.inicio, mo.fin, mo.etiqueta) == (date(2024, 2, 1), date(2024, 2, 29), "2024-02")
    weeks = list(
        periods_between(DateRange(date(2026, 3, 4), date(2026, 3, 16)), Granularity.SEMANA)
    )
    assert [w.inicio for w in weeks] == [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
    assert Granularity.parse("Week") is Granularity.SEMANA
    with pytest.raises(ValidationError) as err:
        Granularity.parse("trimestre")
    assert err.value.code == "PERIODO_INVALIDO"


# --- statement -----------------------------------------------------------------------


def _ledger():
    docs = [
        doc("F1", "1000", date(2026, 3, 1), date(2026, 3, 31), referencia="A-1"),
        doc("F2", "500", date(2026, 3, 10), date(2026, 4, 9), referencia="A-2"),
        doc("F3", "80", date(2026, 3, 12), moneda="USD", referencia="U-1"),
        doc("G1", "999", date(2026, 3, 2), rfc=B),
    ]
    apps = [
        pay("F1", "300", date(2026, 3, 5)),
        pay("F2", "100", date(2026, 3, 15), NC),
        pay("F1", "700", date(2026, 3, 20)),
        pay("F3", "80", date(2026, 3, 12)),  # same day as its invoice
        pay("F2", "50", date(2026, 4, 2)),  # after the period
        pay("G1", "999", date(2026, 3, 3)),
    ]
    return docs, apps


def test_statement_running_balance():
    docs, apps = _ledger()
    mxn, usd = statement(A, docs, apps, DateRange(date(2026, 3, 5), date(2026, 3, 31)))
    assert (mxn.moneda, mxn.saldo_inicial) == ("MXN", D("1000"))
    assert [(ln.fecha.day, ln.cargo, ln.abono, ln.saldo) for ln in mxn.lineas] == [
        (5, D(0), D("300"), D("700")),
        (10, D("500"), D(0), D("1200")),
        (15, D(0), D("100"), D("1100")),
        (20, D(0), D("700"), D("400")),
    ]
    assert [ln.entry.concepto for ln in mxn.lineas] == [
        "Pago",
        "Factura",
        "Nota de crédito",
        "Pago",
    ]
    assert (mxn.total_cargos, mxn.total_abonos, mxn.saldo_final) == (D("500"), D("1100"), D("400"))
    assert mxn.saldo_final == mxn.saldo_inicial + mxn.total_cargos - mxn.total_abonos
    assert mxn.saldo_vencido == D(0)  # F2 falls due on 09/04
    # the charge comes before the payment made the same day
    assert [(ln.cargo, ln.abono, ln.saldo) for ln in usd.lineas] == [
        (D("80"), D(0), D("80")),
        (D(0), D("80"), D(0)),
    ]
    assert usd.saldo_final == 0


def test_statement_final_balance_equals_open_items():
    docs, apps = _ledger()
    end = date(2026, 4, 30)
    # USD was settled in March: no statement for a currency without balance or activity
    (mxn,) = statement(A, docs, apps, DateRange(date(2026, 4, 1), end))
    open_mxn = sum(i.saldo for i in open_items(docs, apps, end) if i.rfc == A and i.moneda == "MXN")
    assert mxn.saldo_final == open_mxn == D("350")
    assert mxn.saldo_vencido == D("350")


def test_statement_quiet_customer_is_empty():
    docs, apps = _ledger()
    assert statement(B, docs, apps, DateRange(date(2026, 4, 1), date(2026, 4, 30))) == []


def test_application_to_unknown_document_refused():
    with pytest.raises(ValidationError) as err:
        ledger_entries([], [pay("X", "1", date(2026, 1, 1))])
    assert err.value.code == "DOCUMENTO_DESCONOCIDO"


# --- movement ------------------------------------------------------------------------


def test_movement_for_a_period():
    docs, apps = _ledger()
    rpt = receivables_movement(docs, apps, DateRange(date(2026, 3, 5), date(2026, 3, 31)))
    rows = {(r.grupo, r.moneda): r.montos for r in rpt.filas}
    a = rows[(A, "MXN")]
    assert (a.saldo_inicial, a.cargos, a.pagos, a.notas_credito, a.abonos, a.saldo_final) == (
        D("1000"),
        D("500"),
        D("1000"),
        D("100"),
        D("1100"),
        D("400"),
    )
    assert rows[(A, "USD")].saldo_final == 0
    assert (B, "MXN") not in rows  # invoiced and paid before the period: nothing moved
    assert rpt.totales["MXN"].saldo_final == D("400")


def test_movement_chains_periods_and_groups():
    docs, apps = _ledger()
    march = receivables_movement(docs, apps, DateRange(date(2026, 3, 1), date(2026, 3, 31)), "zona")
    april = receivables_movement(docs, apps, DateRange(date(2026, 4, 1), date(2026, 4, 30)), "zona")
    assert march.totales["MXN"].saldo_final == april.totales["MXN"].saldo_inicial
    assert {r.nombre for r in march.filas} == {"Sin asignar"}
    assert april.totales["MXN"].pagos == D("50")


# --- due dates -----------------------------------------------------------------------


def test_due_dates_in_range():
    as_of = date(2026, 3, 20)
    docs = [
        doc("V1", "10", date(2026, 3, 1), date(2026, 3, 15)),
        doc("V2", "20", date(2026, 3, 1), date(2026, 3, 25)),
        doc("V3", "30", date(2026, 3, 1), date(2026, 3, 26), moneda="USD"),
        doc("V4", "40", date(2026, 3, 1), date(2026, 3, 27)),  # just outside
        doc("V5", "50", date(2026, 3, 1), date(2026, 3, 20)),  # paid
    ]
    items = open_items(docs, [pay("V5", "50", date(2026, 3, 2))], as_of)
    rpt = due_dates(items, DateRange(date(2026, 3, 15), date(2026, 3, 26)), as_of)
    assert [(ln.item.doc_id, ln.dias_vencido) for ln in rpt.lineas] == [
        ("V1", 5),
        ("V2", -5),
        ("V3", -6),
    ]
    assert rpt.totales == {"MXN": D("30"), "USD": D("30")}
    assert rpt.por_dia[date(2026, 3, 25)] == {"MXN": D("20")}


# --- days late -----------------------------------------------------------------------


def test_weighted_days_late_hand_computed():
    """Customer A:
    D1  1000, due 01/03, paid 11/03            -> 10 days
    D2  3000, due 01/03, paid 31/03            -> 30 days
    D3  1000, due 01/03, 500 on 01/03 (0 days) and 500 on 21/03 (20 days)
        -> plain mean 10, weighted (500*0 + 500*20)/1000 = 10
    D4   400, due 10/03, paid early 05/03      -> 0 (early is not negative)
    D5   200, due 01/03, credit note 100 then the other 100 paid 16/03 -> 15, weight 100
    Per customer: plain = (10+30+10+0+15)/5 = 13
    weighted = (1000*10 + 3000*30 + 1000*10 + 400*0 + 100*15) / (1000+3000+1000+400+100)
             = 111500 / 5500 = 20.2727...
    """
    due = date(2026, 3, 1)
    docs = [
        doc("D1", "1000", date(2026, 2, 1), due),
        doc("D2", "3000", date(2026, 2, 1), due),
        doc("D3", "1000", date(2026, 2, 1), due),
        doc("D4", "400", date(2026, 2, 1), date(2026, 3, 10)),
        doc("D5", "200", date(2026, 2, 1), due),
    ]
    apps = [
        pay("D1", "1000", date(2026, 3, 11)),
        pay("D2", "3000", date(2026, 3, 31)),
        pay("D3", "500", date(2026, 3, 1)),
        pay("D3", "500", date(2026, 3, 21)),
        pay("D4", "400", date(2026, 3, 5)),
        pay("D5", "100", date(2026, 3, 2), NC),
        pay("D5", "100", date(2026, 3, 16)),
    ]
    as_of = date(2026, 4, 15)
    d3 = document_days_late(docs[2], apps, as_of)
    assert d3 is not None
    assert (d3.promedio, d3.dias, d3.eventos, d3.abierto) == (D(10), D(10), 2, False)

    result = customer_days_late(docs, apps, as_of)[A]
    assert result.historico.documentos == 5
    assert result.historico.promedio == D(13)
    assert result.historico.ponderado == D(111500) / D(5500)
    assert str(result.historico.ponderado)[:7] == "20.2727"
    assert result.reciente == result.historico  # everything within 90 days


def test_days_late_recent_window_open_balances_and_currencies():
    as_of = date(2026, 6, 30)
    docs = [
        doc("OLD", "1000", date(2025, 12, 1), date(2026, 1, 1)),  # paid 40 late, long ago
        doc("NEW", "1000", date(2026, 5, 1), date(2026, 5, 31)),  # paid 5 late, recently
        doc("OPEN", "100", date(2026, 5, 1), date(2026, 6, 10), moneda="USD"),  # 20 overdue, open
        doc("FUT", "100", date(2026, 6, 1), date(2026, 7, 10)),  # not due: no event
    ]
    apps = [pay("OLD", "1000", date(2026, 2, 10)), pay("NEW", "1000", date(2026, 6, 5))]
    res = customer_days_late(docs, apps, as_of, rates_to_mxn={"USD": D("20")})[A]
    assert res.historico.documentos == 3
    assert res.reciente.documentos == 2
    assert res.reciente.promedio == D("12.5")  # (5 + 20) / 2
    # USD 100 weighs 2000 MXN: (1000*5 + 2000*20) / 3000 = 15
    assert res.reciente.ponderado == D(15)
    assert res.historico.ponderado == D(1000 * 40 + 1000 * 5 + 2000 * 20) / D(4000)
    assert {d.doc_id: d.abierto for d in res.documentos_historico} == {
        "OLD": False,
        "NEW": False,
        "OPEN": True,
    }
    with pytest.raises(ValidationError) as err:
        customer_days_late(docs, apps, as_of)
    assert err.value.code == "TIPO_CAMBIO_FALTANTE"


def test_settlement_delays_are_signed():
    docs = [
        doc("E", "10", date(2026, 1, 1), date(2026, 1, 31)),
        doc("L", "10", date(2026, 1, 1), date(2026, 1, 31)),
        doc("P", "10", date(2026, 1, 1), date(2026, 1, 31)),  # partly paid: not settled
        doc("N", "10", date(2026, 1, 1), date(2026, 1, 31)),  # closed by credit note only
    ]
    apps = [
        pay("E", "10", date(2026, 1, 26)),
        pay("L", "4", date(2026, 2, 5)),
        pay("L", "6", date(2026, 2, 20)),
        pay("P", "5", date(2026, 2, 1)),
        pay("N", "10", date(2026, 2, 1), NC),
    ]
    assert settlement_delays(docs, apps, date(2026, 3, 1)) == {A: [-5, 20]}


# --- promises ------------------------------------------------------------------------


def _promise(pid, fecha_promesa, importe="100", registro=date(2026, 3, 1), docs=("P1",)):
    return Promise(pid, A, registro, fecha_promesa, D(importe), "MXN", tuple(docs))


def test_promise_states_and_broken_list():
    promises = [
        _promise("kept", date(2026, 3, 10)),
        _promise("late", date(2026, 3, 10), docs=("P2",)),
        _promise("open", date(2026, 3, 25), docs=("P3",)),
        _promise("partial", date(2026, 3, 12), docs=("P4",)),
        _promise("before", date(2026, 3, 12), docs=("P5",)),
        _promise("future", date(2026, 4, 12), registro=date(2026, 4, 1)),
    ]
    apps = [
        pay("P1", "100", date(2026, 3, 10)),  # on the day
        pay("P2", "100", date(2026, 3, 11)),  # one day late
        pay("P4", "60", date(2026, 3, 5)),
        pay("P5", "100", date(2026, 2, 28)),  # before the promise was made
    ]
    as_of = date(2026, 3, 20)
    out = {o.promise.promise_id: o for o in evaluate_promises(promises, apps, as_of)}
    assert set(out) == {"kept", "late", "open", "partial", "before"}
    assert out["kept"].estado is PromiseStatus.CUMPLIDA
    assert out["late"].estado is PromiseStatus.INCUMPLIDA
    assert out["late"].dias_incumplida == 10
    assert out["open"].estado is PromiseStatus.VIGENTE
    assert (out["partial"].estado, out["partial"].pagado, out["partial"].faltante) == (
        PromiseStatus.INCUMPLIDA,
        D("60"),
        D("40"),
    )
    assert out["before"].estado is PromiseStatus.INCUMPLIDA
    broken = broken_promises(promises, apps, as_of)
    assert [o.promise.promise_id for o in broken] == ["late", "before", "partial"]
    graced = broken_promises(promises, apps, as_of, grace_days=1)
    assert [o.promise.promise_id for o in graced] == ["before", "partial"]


def test_promise_validation():
    with pytest.raises(ValidationError) as err:
        _promise("x", date(2026, 2, 1))
    assert err.value.code == "RANGO_INVALIDO"
    with pytest.raises(ValidationError) as err:
        _promise("x", date(2026, 3, 2), importe="0")
    assert err.value.code == "IMPORTE_INVALIDO"
    with pytest.raises(ValidationError) as err:
        _promise("x", date(2026, 3, 2), docs=())
    assert err.value.code == "PROMESA_SIN_DOCUMENTOS"


# --- summary -------------------------------------------------------------------------


def test_customer_summary():
    docs, apps = _ledger()
    payments = [
        Payment("PG1", A, date(2026, 3, 5), "MXN", D("300")),
        Payment("PG2", A, date(2026, 3, 20), "MXN", D("1000")),  # 300 left unapplied
        Payment("PG3", B, date(2026, 3, 3), "MXN", D("999")),
    ]
    apps = [
        Application(a.doc_id, a.fecha, a.importe, a.tipo, payment_id=pid)
        for a, pid in zip(apps, ["PG1", None, "PG2", None, None, "PG3"], strict=True)
    ]
    promises = [
        Promise("PR1", A, date(2026, 4, 1), date(2026, 4, 20), D("200"), "MXN", ("F2",)),
        Promise("PR2", A, date(2026, 3, 1), date(2026, 3, 10), D("500"), "MXN", ("F2",)),
    ]
    as_of = date(2026, 4, 15)
    s = customer_summary(
        A,
        docs,
        apps,
        payments,
        promises,
        DateRange(date(2026, 3, 1), date(2026, 4, 15)),
        as_of,
        rates_to_mxn={"USD": D("17")},
    )
    assert s.nombre == "Cliente AAA"
    assert [(p.etiqueta, v) for p, v in s.compras.items()] == [
        ("2026-03", {"MXN": D("1500"), "USD": D("80")})
    ]
    assert s.pagos == {"MXN": D("1300")}
    assert s.notas_credito == {"MXN": D("100")}
    assert [(o.item.doc_id, o.dias_vencido) for o in s.documentos] == [("F2", 6)]
    assert s.saldo == s.saldo_vencido == {"MXN": D("350")}
    assert s.saldo_sin_aplicar == {"MXN": D("300")}
    assert [o.promise.promise_id for o in s.promesas_vigentes] == ["PR1"]
    assert [o.promise.promise_id for o in s.promesas_incumplidas] == ["PR2"]
    assert s.dias_atraso.historico.documentos == 3


def test_unapplied_balance_uses_payment_currency_amount():
    pays = [Payment("P", A, date(2026, 1, 1), "USD", D("100"))]
    apps = [Application("F", date(2026, 1, 1), D("1700"), payment_id="P", importe_pago=D("100"))]
    assert unapplied_by_currency(pays, apps, date(2026, 1, 1)) == {}
    assert unapplied_by_currency(pays, [], date(2026, 1, 1)) == {"USD": D("100")}


def test_range_then_report_end_to_end_for_a_week():
    docs, apps = _ledger()
    rng = DateRange(date(2026, 3, 2), date(2026, 3, 2) + timedelta(days=6))
    assert statement(A, docs, apps, rng)[0].saldo_final == D("700")


@pytest.mark.parametrize(
    ("desde", "hasta"),
    [
        ("31/02/2026", "01/03/2026"),
        ("2026-13-01", "2026-12-31"),
        ("ayer", "hoy"),
        ("", "01/01/2026"),
    ],
)
def test_invalid_typed_ranges_refused(desde, hasta):
    with pytest.raises(ValidationError) as err:
        DateRange.parse(desde, hasta)
    assert err.value.code == "RANGO_INVALIDO"
    assert "dd/mm/aaaa" in err.value.message


def test_typed_range_both_formats():
    rng = DateRange.parse("01/03/2026", "2026-03-31")
    assert (rng.desde, rng.hasta, rng.days) == (date(2026, 3, 1), date(2026, 3, 31), 31)
    with pytest.raises(ValidationError) as err:
        DateRange.parse("31/03/2026", "01/03/2026")
    assert err.value.code == "RANGO_INVALIDO"
    with pytest.raises(ValidationError) as err:
        parse_date("2026/03/01")
    assert err.value.code == "FECHA_INVALIDA"


def test_a_statement_dated_in_the_future_calls_nothing_overdue_that_is_not_due_yet():
    docs = [doc("F1", "100", date(2026, 1, 1), date(2026, 2, 1)),   # overdue today
            doc("F2", "50", date(2026, 2, 1), date(2026, 5, 1))]    # due after today, before the period's end
    future = DateRange(date(2026, 1, 1), date(2026, 12, 31))
    (without_today,) = statement(A, docs, [], future)
    assert without_today.saldo_vencido == D("150")  # what the period's end alone would say
    (st,) = statement(A, docs, [], future, today=date(2026, 3, 15))
    assert st.saldo_final == D("150") and st.saldo_vencido == D("100")
    (past,) = statement(A, docs, [], DateRange(date(2026, 1, 1), date(2026, 6, 30)), today=date(2026, 12, 1))
    assert past.saldo_vencido == D("150")  # a past date keeps its own cut
