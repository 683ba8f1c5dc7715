"""Payment patterns and trends: monthly buckets and the trend rule, hand-computed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from cfdi_cobranza.domain.days_late import DaysLateMetrics
from cfdi_cobranza.domain.receivables import Application, ApplicationKind, Receivable
from cfdi_cobranza.domain.trends import CARTERA, Trend, month_start, payment_trends, verdict
from cfdi_cobranza.errors import ValidationError

AS_OF = date(2026, 6, 15)
RATES = {"USD": D(20)}


def doc(doc_id: str, rfc: str, fecha: date, venc: date, total: str, moneda: str = "MXN") -> Receivable:
    return Receivable(doc_id, rfc, f"Cliente {rfc}", moneda, D(total), fecha, venc)


def pago(doc_id: str, fecha: date, importe: str) -> Application:
    return Application(doc_id, fecha, D(importe))


DOCS = [
    doc("A1", "AAA010101AAA", date(2025, 11, 1), date(2025, 12, 1), "1000"),
    doc("A2", "AAA010101AAA", date(2025, 12, 1), date(2026, 1, 1), "3000"),
    doc("A3", "AAA010101AAA", date(2026, 3, 1), date(2026, 4, 1), "2000"),
    doc("A4", "AAA010101AAA", date(2026, 4, 1), date(2026, 5, 1), "2000"),  # never paid
    doc("B1", "BBB010101BBB", date(2026, 5, 1), date(2026, 5, 31), "100", "USD"),
]
APPS = [
    pago("A1", date(2025, 12, 1), "1000"),  # on the due date: 0 days
    pago("A2", date(2026, 1, 11), "1000"),  # 10 days
    pago("A2", date(2026, 1, 21), "2000"),  # 20 days
    pago("A3", date(2026, 5, 1), "2000"),  # 30 days
    pago("B1", date(2026, 5, 20), "50"),  # early: 0 days
    Application("A4", date(2026, 5, 2), D("100"), ApplicationKind.NOTA_CREDITO),  # not collected money
]


def by_month(line, year: int, month: int):
    return next(m for m in line.meses if m.mes == date(year, month, 1))


def report():
    return payment_trends(DOCS, APPS, AS_OF, months=12, rates_to_mxn=RATES)


def test_months_are_the_last_n_calendar_months_up_to_the_fecha_de_corte() -> None:
    rep = report()
    assert rep.desde == date(2025, 7, 1)
    assert [m.etiqueta for m in rep.cartera.meses][:2] == ["2025-07", "2025-08"]
    assert rep.cartera.meses[-1].etiqueta == "2026-06"
    assert len(rep.cartera.meses) == 12
    assert month_start(date(2026, 1, 31), 1) == date(2025, 12, 1)


def test_customer_months_hand_computed() -> None:
    a = next(c for c in report().clientes if c.rfc == "AAA010101AAA")
    dec = by_month(a, 2025, 12)
    assert (dec.facturado, dec.cobrado, dec.pagados, dec.a_tiempo) == (D(3000), D(1000), 1, 1)
    assert dec.pct_a_tiempo == 100 and dec.pct_a_tiempo_importe == 100
    jan = by_month(a, 2026, 1)
    # A2: (10*1000 + 20*2000) / 3000 = 16.67 days; one document, so both means agree.
    assert jan.cobrado == D(3000) and jan.pagados == 1
    assert jan.ponderado == D(50000) / D(3000) == jan.promedio
    assert jan.a_tiempo == 0 and jan.pct_a_tiempo == 0
    may = by_month(a, 2026, 5)
    assert may.cobrado == D(2000) and may.ponderado == 30  # the credit note is not money collected
    feb = by_month(a, 2026, 2)
    assert (feb.cobrado, feb.pagados, feb.pct_a_tiempo, feb.pct_a_tiempo_importe) == (0, 0, None, None)


def test_portfolio_month_converts_to_mxn_and_weighs_by_amount() -> None:
    may = by_month(report().cartera, 2026, 5)
    # USD 100 invoiced at 20; USD 50 collected = 1,000 MXN, on time; A3 2,000 MXN 30 days late.
    assert may.facturado == D(2000)
    assert may.cobrado == D(3000)
    assert may.promedio == 15  # (30 + 0) / 2 documents
    assert may.ponderado == 20  # (30*2000 + 0*1000) / 3000
    assert may.a_tiempo == 1 and may.pct_a_tiempo == 50
    assert may.pct_a_tiempo_importe == D(1000) * 100 / D(3000)
    assert report().tipos_cambio == {"USD": D(20)}


def test_trend_rule_worsening_sharply_counts_open_overdue_balances() -> None:
    rep = report()
    a = next(c for c in rep.clientes if c.rfc == "AAA010101AAA")
    v = a.veredicto
    # previous (oct-mar): A1 0 d x 1000, A2 16.67 d x 3000 -> 12.5; recent (apr-jun 15):
    # A3 paid 30 d x 2000, A4 still open 45 d x 1900 (2000 less the credit note)
    # -> 145500 / 3900 = 37.31.
    assert v.anterior.ponderado == D("12.5") and v.reciente.ponderado == D(145500) / D(3900)
    assert v.reciente.promedio == D("37.5")
    assert v.cambio == D(145500) / D(3900) - D("12.5")
    assert v.tendencia is Trend.EMPEORANDO and v.empeora_fuerte
    b = next(c for c in rep.clientes if c.rfc == "BBB010101BBB")
    assert b.veredicto.tendencia is Trend.SIN_DATOS and b.veredicto.cambio is None
    assert [c.rfc for c in rep.empeoran_fuerte] == ["AAA010101AAA"]
    # Portfolio recent: A3 30 x 2000, A4 45 x 1900, B1 (0 x 50 + 15 x 50 open) = 7.5 x 2000 MXN
    # -> 160500 / 5900 = 27.20: 14.70 days worse, not yet "sharply".
    assert rep.cartera.rfc == CARTERA
    assert rep.cartera.veredicto.reciente.ponderado == D(160500) / D(5900)
    assert rep.cartera.veredicto.tendencia is Trend.EMPEORANDO
    assert not rep.cartera.veredicto.empeora_fuerte


def m(docs: int, ponderado: str) -> DaysLateMetrics:
    return DaysLateMetrics(docs, D(ponderado), D(ponderado))


@pytest.mark.parametrize(("recent", "previous", "trend", "sharp"), [
    ("10", "15", Trend.MEJORANDO, False),  # -5: the threshold is inclusive
    ("10", "14.9", Trend.ESTABLE, False),
    ("19.9", "15", Trend.ESTABLE, False),
    ("20", "15", Trend.EMPEORANDO, False),
    ("30", "15", Trend.EMPEORANDO, True),
    ("29.9", "15", Trend.EMPEORANDO, False),
])
def test_verdict_thresholds(recent: str, previous: str, trend: Trend, sharp: bool) -> None:
    v = verdict(m(2, recent), m(3, previous))
    assert v.tendencia is trend and v.empeora_fuerte is sharp
    assert v.cambio == D(recent) - D(previous)


def test_too_little_data_is_sin_datos() -> None:
    assert verdict(m(1, "90"), m(5, "0")).tendencia is Trend.SIN_DATOS
    assert verdict(m(5, "90"), m(1, "0")).tendencia is Trend.SIN_DATOS
    assert Trend.SIN_DATOS.etiqueta == "Sin datos suficientes"


def test_bad_months_and_missing_rate_are_refused() -> None:
    with pytest.raises(ValidationError) as err:
        payment_trends(DOCS, APPS, AS_OF, months=0, rates_to_mxn=RATES)
    assert err.value.code == "MESES_INVALIDOS"
    with pytest.raises(ValidationError) as err:
        payment_trends(DOCS, APPS, AS_OF)
    assert err.value.code == "TIPO_CAMBIO_FALTANTE"


def test_documents_after_the_fecha_de_corte_do_not_exist_yet() -> None:
    later = [*DOCS, doc("A9", "AAA010101AAA", date(2026, 7, 1), date(2026, 8, 1), "999")]
    assert report() == payment_trends(later, APPS, AS_OF, months=12, rates_to_mxn=RATES)


def test_recent_window_is_the_days_late_reciente_of_that_window() -> None:
    """The shortcuts in payment_trends never change a result: on a seeded random portfolio
    the recent window equals customer_days_late's "reciente" over the same days."""
    import random

    from cfdi_cobranza.domain.days_late import customer_days_late

    rng = random.Random(5)
    docs, apps = [], []
    for i in range(300):
        rfc = f"C{i % 17:02d}"
        fecha = date(2025, 1, 1) + timedelta(days=rng.randrange(520))
        venc = fecha + timedelta(days=rng.choice([0, 15, 30, 60]))
        total = D(rng.randrange(100, 5000))
        docs.append(Receivable(f"D{i}", rfc, rfc, rng.choice(["MXN", "MXN", "USD"]), total, fecha, venc))
        left = total
        for _ in range(rng.randrange(3)):
            part = min(left, D(rng.randrange(50, 3000)))
            if part <= 0:
                break
            kind = rng.choice([ApplicationKind.PAGO, ApplicationKind.PAGO, ApplicationKind.NOTA_CREDITO])
            apps.append(Application(f"D{i}", venc + timedelta(days=rng.randrange(-20, 120)), part, kind))
            left -= part
    rep = payment_trends(docs, apps, AS_OF, months=24, rates_to_mxn=RATES)
    window = (AS_OF - date(2026, 3, 31)).days  # recent window: 1 April to 15 June
    expected = customer_days_late(docs, apps, AS_OF, rates_to_mxn=RATES, window_days=window)
    assert len(rep.clientes) == 17
    for c in rep.clientes:
        assert c.veredicto.reciente == expected[c.rfc].reciente
    assert sum(m.cobrado for m in rep.cartera.meses) == sum(
        a.importe * (20 if docs[int(a.doc_id[1:])].moneda == "USD" else 1)
        for a in apps if a.tipo is ApplicationKind.PAGO and date(2024, 7, 1) <= a.fecha <= AS_OF)


def test_verdicts_alone_equal_the_full_report_s() -> None:
    full = report()
    bare = payment_trends(DOCS, APPS, AS_OF, months=12, rates_to_mxn=RATES, with_months=False)
    assert [c.veredicto for c in bare.clientes] == [c.veredicto for c in full.clientes]
    assert bare.cartera.veredicto == full.cartera.veredicto and bare.cartera.meses == ()
