"""Días de atraso: how late a customer pays, per document and per customer.

Definitions (the DB layer may compute them in SQL, these functions are the spec):

* A *lateness event* is a ``pago`` applied to a document: it is
  ``max(0, fecha_pago - vencimiento)`` days late and weighs its amount. Paying early
  counts as 0, not as credit against other lateness. Credit notes are not events:
  they reduce what is owed, they say nothing about paying habits.
* A still-open, already-overdue balance is one more event dated at the fecha de
  corte (``as_of - vencimiento`` days, weighing the balance), so a customer who simply
  does not pay does not look punctual.
* A document's ``dias`` is the amount-weighted mean of its events; ``promedio`` is
  their plain mean.
* A customer's ``promedio`` is the plain mean of its documents' ``dias`` (each
  document counts once); ``ponderado`` weighs each document by its event amounts in
  MXN (big invoices count more).
* *Recent* means events dated in the last ``window_days`` (default 90) up to the
  fecha de corte, i.e. in ``(as_of - window_days, as_of]``; *overall* means all.

:func:`settlement_delays` gives the signed days from due date to the payment that
settled each document, which the income forecast uses as payment behaviour.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from cfdi_cobranza.domain.fx import MxnRates, as_rates
from cfdi_cobranza.domain.money import ZERO
from cfdi_cobranza.domain.period import add_days
from cfdi_cobranza.domain.receivables import (
    Application,
    ApplicationKind,
    Receivable,
    applications_by_doc,
    balance_at,
)

DEFAULT_WINDOW_DAYS = 90


@dataclass(frozen=True, slots=True)
class DocumentDaysLate:
    doc_id: str
    rfc: str
    moneda: str
    importe: Decimal  # sum of event weights, document currency
    eventos: int
    promedio: Decimal  # plain mean of event days
    dias: Decimal  # amount-weighted mean of event days
    abierto: bool  # part of it is still owed and overdue at the fecha de corte


@dataclass(frozen=True, slots=True)
class DaysLateMetrics:
    documentos: int
    promedio: Decimal  # each document once
    ponderado: Decimal  # each document by its amount in MXN


@dataclass(frozen=True, slots=True)
class CustomerDaysLate:
    rfc: str
    reciente: DaysLateMetrics
    historico: DaysLateMetrics
    documentos_reciente: tuple[DocumentDaysLate, ...]
    documentos_historico: tuple[DocumentDaysLate, ...]


def document_days_late(
    doc: Receivable,
    applications: Iterable[Application],
    as_of: date,
    *,
    since: date | None = None,
    include_open: bool = True,
) -> DocumentDaysLate | None:
    """Days late of ``doc`` at ``as_of`` from events after ``since`` (exclusive);
    ``None`` when it has no event (not paid in the window, and not overdue)."""
    apps = [a for a in applications if a.doc_id == doc.doc_id and a.fecha <= as_of]
    events: list[tuple[int, Decimal]] = [
        (max(0, (a.fecha - doc.vencimiento).days), a.importe)
        for a in apps
        if a.tipo is ApplicationKind.PAGO and (since is None or a.fecha > since)
    ]
    abierto = False
    if include_open:
        saldo = balance_at(doc, apps, as_of)
        if saldo > 0 and as_of > doc.vencimiento:
            events.append(((as_of - doc.vencimiento).days, saldo))
            abierto = True
    if not events:
        return None
    weight = sum((w for _, w in events), ZERO)
    plain = Decimal(sum(d for d, _ in events)) / len(events)
    weighted = sum((d * w for d, w in events), ZERO) / weight if weight else plain
    return DocumentDaysLate(
        doc_id=doc.doc_id,
        rfc=doc.rfc,
        moneda=doc.moneda,
        importe=weight,
        eventos=len(events),
        promedio=plain,
        dias=weighted,
        abierto=abierto,
    )


def metrics(docs: Iterable[DocumentDaysLate], rates: MxnRates) -> DaysLateMetrics:
    rows = list(docs)
    if not rows:
        return DaysLateMetrics(0, ZERO, ZERO)
    plain = sum((r.dias for r in rows), ZERO) / len(rows)
    weights = [rates.to_mxn(r.importe, r.moneda) for r in rows]
    total = sum(weights, ZERO)
    weighted = (
        sum((r.dias * w for r, w in zip(rows, weights, strict=True)), ZERO) / total
        if total
        else plain
    )
    return DaysLateMetrics(len(rows), plain, weighted)


def customer_days_late(
    docs: Iterable[Receivable],
    applications: Iterable[Application],
    as_of: date,
    *,
    rates_to_mxn: MxnRates | Mapping[str, Decimal] | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> dict[str, CustomerDaysLate]:
    """Recent and overall days late of every customer in ``docs``, keyed by RFC."""
    rates = as_rates(rates_to_mxn)
    own = [d for d in docs if d.fecha <= as_of]
    rates.require(d.moneda for d in own)
    since = add_days(as_of, -window_days)
    by_doc = applications_by_doc(applications, until=as_of)
    recent: dict[str, list[DocumentDaysLate]] = defaultdict(list)
    overall: dict[str, list[DocumentDaysLate]] = defaultdict(list)
    rfcs: set[str] = set()
    for doc in own:
        rfcs.add(doc.rfc)
        apps = by_doc.get(doc.doc_id, [])
        whole = document_days_late(doc, apps, as_of)
        if whole is not None:
            overall[doc.rfc].append(whole)
        last = document_days_late(doc, apps, as_of, since=since)
        if last is not None:
            recent[doc.rfc].append(last)
    return {
        rfc: CustomerDaysLate(
            rfc=rfc,
            reciente=metrics(recent[rfc], rates),
            historico=metrics(overall[rfc], rates),
            documentos_reciente=tuple(recent[rfc]),
            documentos_historico=tuple(overall[rfc]),
        )
        for rfc in sorted(rfcs)
    }


def settlement_delays(
    docs: Iterable[Receivable], applications: Iterable[Application], as_of: date
) -> dict[str, list[int]]:
    """Signed days from due date to the last pago of each document settled by ``as_of``.

    Negative values (early payers) are kept: the forecast needs them. Documents closed
    only by credit notes are left out; they were never paid.
    """
    by_doc = applications_by_doc(applications, until=as_of)
    delays: dict[str, list[int]] = defaultdict(list)
    for doc in docs:
        if doc.fecha > as_of:
            continue
        apps = by_doc.get(doc.doc_id, [])
        pagos = [a for a in apps if a.tipo is ApplicationKind.PAGO]
        if pagos and balance_at(doc, apps, as_of) <= 0:
            delays[doc.rfc].append((pagos[-1].fecha - doc.vencimiento).days)
    return dict(delays)
