"""Resumen financiero del cliente: everything a collector needs on one screen.

Purchases per period, payments and credit notes in the period, documents owed with
their days overdue, open balance, saldo sin aplicar, days late (recent and overall,
plain and amount-weighted) and the customer's promises (open and broken).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from cfdi_cobranza.domain.aging import days_overdue
from cfdi_cobranza.domain.days_late import (
    DEFAULT_WINDOW_DAYS,
    CustomerDaysLate,
    DaysLateMetrics,
    customer_days_late,
)
from cfdi_cobranza.domain.fx import MxnRates
from cfdi_cobranza.domain.money import ZERO
from cfdi_cobranza.domain.period import DateRange, Granularity, Period, period_of
from cfdi_cobranza.domain.promises import Promise, PromiseOutcome, evaluate_promises
from cfdi_cobranza.domain.receivables import (
    Application,
    ApplicationKind,
    OpenItem,
    Payment,
    Receivable,
    open_items,
    unapplied_by_currency,
)
from cfdi_cobranza.domain.states import PromiseStatus
from cfdi_cobranza.domain.trends import CustomerTrend


@dataclass(frozen=True, slots=True)
class OwedDocument:
    item: OpenItem
    dias_vencido: int  # <= 0 not yet due


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    rfc: str
    nombre: str
    fecha_corte: date
    periodo: DateRange
    compras: dict[Period, dict[str, Decimal]]  # period -> currency -> total invoiced
    pagos: dict[str, Decimal]  # money received in the period, per payment currency
    notas_credito: dict[str, Decimal]  # credit notes applied in the period
    documentos: tuple[OwedDocument, ...]  # owed at the fecha de corte, most overdue first
    saldo: dict[str, Decimal]
    saldo_vencido: dict[str, Decimal]
    saldo_sin_aplicar: dict[str, Decimal]
    dias_atraso: CustomerDaysLate
    promesas_vigentes: tuple[PromiseOutcome, ...]
    promesas_incumplidas: tuple[PromiseOutcome, ...]


@dataclass(frozen=True)
class CustomerSummaryView:
    """The summary plus what the collector works with: credit conditions, actions, notes."""

    summary: CustomerSummary
    conditions: dict[str, Any]
    acciones: list[dict[str, Any]]  # collection actions (follow-ups), newest first
    notas: list[dict[str, Any]]
    documentos_cobranza: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)
    tendencia: CustomerTrend | None = None  # payment patterns month by month (domain.trends)


def customer_summary(
    rfc: str,
    docs: Iterable[Receivable],
    applications: Iterable[Application],
    payments: Iterable[Payment],
    promises: Iterable[Promise],
    periodo: DateRange,
    as_of: date,
    *,
    granularity: Granularity = Granularity.MES,
    rates_to_mxn: MxnRates | Mapping[str, Decimal] | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> CustomerSummary:
    own_docs = [d for d in docs if d.rfc == rfc]
    ids = {d.doc_id for d in own_docs}
    own_apps = [a for a in applications if a.doc_id in ids]
    own_pays = [p for p in payments if p.rfc == rfc]
    names = [d.nombre for d in own_docs if d.nombre]

    compras: dict[Period, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for doc in own_docs:
        if doc.fecha in periodo:
            compras[period_of(doc.fecha, granularity)][doc.moneda] += doc.total
    pagos: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for pay in own_pays:
        if pay.fecha in periodo:
            pagos[pay.moneda] += pay.importe
    notas: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_id = {d.doc_id: d for d in own_docs}
    for app in own_apps:
        if app.tipo is ApplicationKind.NOTA_CREDITO and app.fecha in periodo:
            notas[by_id[app.doc_id].moneda] += app.importe

    owed = sorted(
        (
            OwedDocument(i, days_overdue(i.vencimiento, as_of))
            for i in open_items(own_docs, own_apps, as_of)
        ),
        key=lambda o: (-o.dias_vencido, o.item.doc_id),
    )
    saldo: dict[str, Decimal] = defaultdict(lambda: ZERO)
    vencido: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for o in owed:
        saldo[o.item.moneda] += o.item.saldo
        if o.dias_vencido > 0:
            vencido[o.item.moneda] += o.item.saldo

    late = customer_days_late(
        own_docs, own_apps, as_of, rates_to_mxn=rates_to_mxn, window_days=window_days
    ).get(rfc)
    if late is None:  # a customer with no documents yet
        zero = DaysLateMetrics(0, ZERO, ZERO)
        late = CustomerDaysLate(rfc, zero, zero, (), ())

    outcomes = evaluate_promises([p for p in promises if p.rfc == rfc], own_apps, as_of)
    return CustomerSummary(
        rfc=rfc,
        nombre=names[0] if names else rfc,
        fecha_corte=as_of,
        periodo=periodo,
        compras={p: dict(sorted(v.items())) for p, v in sorted(compras.items())},
        pagos=dict(sorted(pagos.items())),
        notas_credito=dict(sorted(notas.items())),
        documentos=tuple(owed),
        saldo=dict(sorted(saldo.items())),
        saldo_vencido=dict(sorted(vencido.items())),
        saldo_sin_aplicar=dict(sorted(unapplied_by_currency(own_pays, own_apps, as_of).items())),
        dias_atraso=late,
        promesas_vigentes=tuple(o for o in outcomes if o.estado is PromiseStatus.VIGENTE),
        promesas_incumplidas=tuple(o for o in outcomes if o.estado is PromiseStatus.INCUMPLIDA),
    )
