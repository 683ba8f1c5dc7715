"""Patrones y tendencias de pago: month by month, per customer and for the portfolio.

Months are calendar months; the last one is the month of the fecha de corte, counted
up to the fecha de corte. Per month:

* ``facturado``: the totals of the invoices dated in the month;
* ``cobrado``: the ``pago`` applications dated in the month (credit notes are not
  money collected);
* ``promedio`` and ``ponderado``: the days late of what was paid in the month, with the
  rule of ``domain.days_late`` (each payment ``max(0, fecha_pago - vencimiento)`` days
  late; a document's days are the amount-weighted mean of its payments in the month;
  ``promedio`` counts each paid document once, ``ponderado`` weighs it by the amount
  paid). Balances still open are not "paid in the month": they enter only the trend's
  recent window (below);
* ``a_tiempo``: the documents paid in the month whose payments that month were all on
  or before their due date (0 days late), as a share of the documents paid that month,
  and as a share of the amount paid.

Currency: every amount is converted to MXN with the rates the other reports use at the
fecha de corte (``rates_to_mxn``: the user's, else the latest TipoCambio the ledger
saw), so a customer paying in USD and MXN has one line. A currency without a rate is
refused (``TIPO_CAMBIO_FALTANTE``), as in the MXN view of the aging report.

The trend rule (``tendencia``), deterministic:

* *recent window*: the last ``RECENT_MONTHS`` (3) months, i.e. from the first day of the
  month two months before the fecha de corte to the fecha de corte. Its days late are
  those of ``domain.days_late`` "reciente" for that window: the payments in it, plus
  every balance still open and overdue at the fecha de corte (days from its due date),
  so a customer who stopped paying does not look punctual;
* *previous window*: the ``PREVIOUS_MONTHS`` (6) months before it; the payments in it;
* with fewer than ``MIN_DOCUMENTS`` (2) documents with days late in either window the
  trend is ``sin_datos`` (sin datos suficientes);
* ``cambio = ponderado(recent) - ponderado(previous)`` in days;
  ``cambio >= +STABLE_DAYS`` (5) is ``empeorando``, ``cambio <= -STABLE_DAYS`` is
  ``mejorando``, anything between is ``estable``;
* ``empeora_fuerte`` (listed on the Tablero): ``cambio >= SHARP_DAYS`` (15) days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from cfdi_cobranza.domain.days_late import (
    DaysLateMetrics,
    DocumentDaysLate,
    document_days_late,
    metrics,
)
from cfdi_cobranza.domain.fx import MxnRates, as_rates
from cfdi_cobranza.domain.money import ZERO
from cfdi_cobranza.domain.period import add_days, last_of_month
from cfdi_cobranza.domain.receivables import (
    Application,
    ApplicationKind,
    Receivable,
    applications_by_doc,
)
from cfdi_cobranza.errors import ValidationError

DEFAULT_MONTHS = 24
MAX_MONTHS = 120
RECENT_MONTHS = 3
PREVIOUS_MONTHS = 6
MIN_DOCUMENTS = 2
STABLE_DAYS = Decimal(5)
SHARP_DAYS = Decimal(15)
CARTERA = "*"  # the key of the portfolio line


class Trend(StrEnum):
    MEJORANDO = "mejorando"
    ESTABLE = "estable"
    EMPEORANDO = "empeorando"
    SIN_DATOS = "sin_datos"

    @property
    def etiqueta(self) -> str:
        return _LABELS[self]


_LABELS = {
    Trend.MEJORANDO: "Mejorando",
    Trend.ESTABLE: "Estable",
    Trend.EMPEORANDO: "Empeorando",
    Trend.SIN_DATOS: "Sin datos suficientes",
}


@dataclass(frozen=True, slots=True)
class TrendMonth:
    mes: date  # first day of the month
    facturado: Decimal  # MXN
    cobrado: Decimal  # MXN
    pagados: int  # documents paid (in part) in the month
    promedio: Decimal  # days late, each paid document once
    ponderado: Decimal  # days late, weighted by the amount paid (MXN)
    a_tiempo: int  # paid documents with 0 days late in the month
    a_tiempo_importe: Decimal  # MXN paid on time

    @property
    def etiqueta(self) -> str:
        return f"{self.mes.year:04d}-{self.mes.month:02d}"

    @property
    def pct_a_tiempo(self) -> Decimal | None:
        """Share of the paid documents paid on time (0-100), ``None`` without payments."""
        return Decimal(self.a_tiempo * 100) / self.pagados if self.pagados else None

    @property
    def pct_a_tiempo_importe(self) -> Decimal | None:
        return self.a_tiempo_importe * 100 / self.cobrado if self.cobrado else None


@dataclass(frozen=True, slots=True)
class TrendVerdict:
    tendencia: Trend
    reciente: DaysLateMetrics
    anterior: DaysLateMetrics
    cambio: Decimal | None  # ponderado reciente - anterior, days; None without data
    empeora_fuerte: bool


@dataclass(frozen=True, slots=True)
class CustomerTrend:
    rfc: str  # CARTERA for the portfolio line
    nombre: str
    meses: tuple[TrendMonth, ...]
    veredicto: TrendVerdict


@dataclass(frozen=True, slots=True)
class TrendsReport:
    fecha_corte: date
    desde: date  # first day of the first month
    cartera: CustomerTrend
    clientes: tuple[CustomerTrend, ...]
    tipos_cambio: dict[str, Decimal]

    @property
    def empeoran_fuerte(self) -> tuple[CustomerTrend, ...]:
        """Customers whose days late worsened sharply, the largest change first."""
        rows = [c for c in self.clientes if c.veredicto.empeora_fuerte]
        return tuple(sorted(rows, key=lambda c: (-(c.veredicto.cambio or ZERO), c.nombre, c.rfc)))


def month_start(day: date, back: int = 0) -> date:
    """First day of the month ``back`` months before the month of ``day``."""
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def check_months(months: int) -> int:
    if not 1 <= months <= MAX_MONTHS:
        raise ValidationError(
            f"El número de meses debe estar entre 1 y {MAX_MONTHS}.", code="MESES_INVALIDOS"
        )
    return months


class _MonthAcc:
    __slots__ = ("cobrado", "docs", "facturado")

    def __init__(self) -> None:
        self.facturado = ZERO
        self.cobrado = ZERO
        self.docs: list[DocumentDaysLate] = []

    def freeze(self, mes: date, rates: MxnRates) -> TrendMonth:
        late = metrics(self.docs, rates)
        on_time = [d for d in self.docs if d.dias == 0]
        return TrendMonth(
            mes=mes,
            facturado=self.facturado,
            cobrado=self.cobrado,
            pagados=late.documentos,
            promedio=late.promedio,
            ponderado=late.ponderado,
            a_tiempo=len(on_time),
            a_tiempo_importe=sum((rates.to_mxn(d.importe, d.moneda) for d in on_time), ZERO),
        )


def verdict(reciente: DaysLateMetrics, anterior: DaysLateMetrics) -> TrendVerdict:
    """The trend rule of the module docstring, from the two windows' days late."""
    if reciente.documentos < MIN_DOCUMENTS or anterior.documentos < MIN_DOCUMENTS:
        return TrendVerdict(Trend.SIN_DATOS, reciente, anterior, None, False)
    cambio = reciente.ponderado - anterior.ponderado
    if cambio >= STABLE_DAYS:
        trend = Trend.EMPEORANDO
    elif cambio <= -STABLE_DAYS:
        trend = Trend.MEJORANDO
    else:
        trend = Trend.ESTABLE
    return TrendVerdict(trend, reciente, anterior, cambio, cambio >= SHARP_DAYS)


def payment_trends(
    docs: Iterable[Receivable],
    applications: Iterable[Application],
    as_of: date,
    *,
    months: int = DEFAULT_MONTHS,
    rates_to_mxn: MxnRates | Mapping[str, Decimal] | None = None,
    with_months: bool = True,
) -> TrendsReport:
    """Monthly payment behaviour of each customer in ``docs`` and of all of them.

    ``with_months=False`` computes only the verdicts (``meses`` left empty): what the
    Tablero's list needs, without the per-month work.
    """
    check_months(months)
    rates = as_rates(rates_to_mxn)
    own = [d for d in docs if d.fecha <= as_of]
    rates.require(d.moneda for d in own)
    first = month_start(as_of, months - 1)
    recent_from = month_start(as_of, RECENT_MONTHS - 1)
    previous_from = month_start(as_of, RECENT_MONTHS + PREVIOUS_MONTHS - 1)
    previous_to = add_days(recent_from, -1)
    by_doc = applications_by_doc(applications, until=as_of)

    accs: dict[str, dict[date, _MonthAcc]] = defaultdict(lambda: defaultdict(_MonthAcc))
    recent: dict[str, list[DocumentDaysLate]] = defaultdict(list)
    previous: dict[str, list[DocumentDaysLate]] = defaultdict(list)
    names: dict[str, str] = {}
    rate = {c: rates.rate(c) for c in {d.moneda for d in own}}  # resolved once, not per amount
    since_recent = add_days(recent_from, -1)
    since_previous = add_days(previous_from, -1)
    for doc in own:
        if doc.nombre or doc.rfc not in names:
            names[doc.rfc] = names.get(doc.rfc) or doc.nombre
        apps = by_doc.get(doc.doc_id, [])
        if with_months and doc.fecha >= first:
            for key in (doc.rfc, CARTERA):
                accs[key][month_start(doc.fecha)].facturado += doc.total * rate[doc.moneda]
        paid_months: dict[date, list[Application]] = defaultdict(list)
        for app in apps if with_months else ():
            if app.tipo is ApplicationKind.PAGO and app.fecha >= first:
                paid_months[month_start(app.fecha)].append(app)
        for mes, month_apps in paid_months.items():
            late = document_days_late(
                doc, month_apps, min(last_of_month(mes), as_of),
                since=add_days(mes, -1), include_open=False,
            )
            if late is None:  # cannot happen: every month here has a pago
                continue
            for key in (doc.rfc, CARTERA):
                acc = accs[key][mes]
                acc.cobrado += late.importe * rate[doc.moneda]
                acc.docs.append(late)
        # Shortcuts that cannot change a result: without a pago in a window and without an
        # overdue balance at the fecha de corte, document_days_late has no event (None).
        paid_recent = any(a.fecha > since_recent and a.tipo is ApplicationKind.PAGO for a in apps)
        if paid_recent or (doc.vencimiento < as_of and sum((a.importe for a in apps), ZERO) < doc.total):
            last = document_days_late(doc, apps, as_of, since=since_recent)
            if last is not None:
                recent[doc.rfc].append(last)
        if doc.fecha <= previous_to and any(
            since_previous < a.fecha <= previous_to and a.tipo is ApplicationKind.PAGO for a in apps
        ):
            before = document_days_late(doc, apps, previous_to, since=since_previous, include_open=False)
            if before is not None:
                previous[doc.rfc].append(before)

    all_months = [month_start(as_of, back) for back in range(months - 1, -1, -1)] if with_months else []

    def line(key: str, nombre: str, rec: list[DocumentDaysLate],
             prev: list[DocumentDaysLate]) -> CustomerTrend:
        per = accs.get(key, {})
        meses = tuple((per[mes] if mes in per else _MonthAcc()).freeze(mes, rates) for mes in all_months)
        return CustomerTrend(key, nombre, meses, verdict(metrics(rec, rates), metrics(prev, rates)))

    rfcs = sorted(names)
    clientes = tuple(
        sorted(
            (line(rfc, names[rfc] or rfc, recent[rfc], previous[rfc]) for rfc in rfcs),
            key=lambda c: (c.nombre, c.rfc),
        )
    )
    cartera = line(
        CARTERA, "Cartera",
        [d for rfc in rfcs for d in recent[rfc]], [d for rfc in rfcs for d in previous[rfc]],
    )
    return TrendsReport(
        fecha_corte=as_of,
        desde=first,
        cartera=cartera,
        clientes=clientes,
        tipos_cambio={c: rates.rate(c) for c in sorted({d.moneda for d in own} - {"MXN"})},
    )
