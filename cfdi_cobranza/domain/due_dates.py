"""Vencimientos: open documents whose due date falls in a range, in due-date order.

Used by collectors to plan calls ("what falls due next week") and to chase what fell
due last week; ``dias`` is negative for days still to go and positive once overdue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from cfdi_cobranza.domain.aging import days_overdue
from cfdi_cobranza.domain.money import ZERO
from cfdi_cobranza.domain.period import DateRange
from cfdi_cobranza.domain.receivables import OpenItem


@dataclass(frozen=True, slots=True)
class DueLine:
    item: OpenItem
    dias_vencido: int  # as_of - vencimiento: < 0 not due yet, > 0 overdue


@dataclass(frozen=True, slots=True)
class DueDatesReport:
    fecha_corte: date
    rango: DateRange
    lineas: tuple[DueLine, ...]
    totales: dict[str, Decimal]  # per currency
    por_dia: dict[date, dict[str, Decimal]]  # vencimiento -> currency -> amount


def due_dates(items: Iterable[OpenItem], rango: DateRange, as_of: date) -> DueDatesReport:
    """``items`` are balances at ``as_of``; those due inside ``rango`` are listed."""
    lines = sorted(
        (
            DueLine(i, days_overdue(i.vencimiento, as_of))
            for i in items
            if i.saldo > 0 and i.vencimiento in rango
        ),
        key=lambda ln: (ln.item.vencimiento, ln.item.nombre, ln.item.rfc, ln.item.doc_id),
    )
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    per_day: dict[date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for ln in lines:
        totals[ln.item.moneda] += ln.item.saldo
        per_day[ln.item.vencimiento][ln.item.moneda] += ln.item.saldo
    return DueDatesReport(
        fecha_corte=as_of,
        rango=rango,
        lineas=tuple(lines),
        totales=dict(sorted(totals.items())),
        por_dia={d: dict(sorted(v.items())) for d, v in sorted(per_day.items())},
    )
