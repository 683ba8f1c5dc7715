"""Movimiento de cuentas por cobrar: saldo inicial, cargos, abonos and saldo final.

For a period and per group (customer, salesperson, zone ...) and currency. Abonos
are split into pagos and notas de crédito because collectors answer for the first
and sales for the second. ``saldo_final = saldo_inicial + cargos - abonos`` always.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from cfdi_cobranza.domain.aging import GroupBy, group_key
from cfdi_cobranza.domain.ledger import ledger_entries
from cfdi_cobranza.domain.money import ZERO
from cfdi_cobranza.domain.period import DateRange
from cfdi_cobranza.domain.receivables import Application, ApplicationKind, Receivable


@dataclass(frozen=True, slots=True)
class MovementAmounts:
    saldo_inicial: Decimal
    cargos: Decimal
    pagos: Decimal
    notas_credito: Decimal

    @property
    def abonos(self) -> Decimal:
        return self.pagos + self.notas_credito

    @property
    def saldo_final(self) -> Decimal:
        return self.saldo_inicial + self.cargos - self.abonos


@dataclass(frozen=True, slots=True)
class MovementRow:
    grupo: str
    nombre: str
    moneda: str
    montos: MovementAmounts


@dataclass(frozen=True, slots=True)
class MovementReport:
    periodo: DateRange
    agrupacion: GroupBy
    filas: tuple[MovementRow, ...]
    totales: dict[str, MovementAmounts]  # per currency


@dataclass(frozen=True)
class SummaryRow:
    grupo: str
    nombre: str
    moneda: str
    montos: MovementAmounts
    vencido: Decimal  # part of saldo_final overdue at periodo.hasta


@dataclass(frozen=True)
class SummaryReport:
    periodo: DateRange
    agrupacion: GroupBy
    filas: tuple[SummaryRow, ...]
    totales: dict[str, MovementAmounts]
    vencido: dict[str, Decimal]


@dataclass(frozen=True)
class CollectorRow:
    grupo: str
    nombre: str
    moneda: str
    saldo: Decimal
    vencido: Decimal
    cobrado: Decimal  # pagos applied in the period to documents of the group
    notas_credito: Decimal
    clientes: int
    seguimientos: int  # collection actions in the period on the group's customers
    promesas_vigentes: int
    promesas_incumplidas: int


@dataclass(frozen=True)
class CollectorsReport:
    periodo: DateRange
    agrupacion: GroupBy
    filas: tuple[CollectorRow, ...]


class _Acc:
    __slots__ = ("cargos", "inicial", "notas", "pagos")

    def __init__(self) -> None:
        self.inicial = self.cargos = self.pagos = self.notas = ZERO

    def freeze(self) -> MovementAmounts:
        return MovementAmounts(self.inicial, self.cargos, self.pagos, self.notas)


def receivables_movement(
    docs: Iterable[Receivable],
    applications: Iterable[Application],
    periodo: DateRange,
    group_by: GroupBy | str = GroupBy.CLIENTE,
) -> MovementReport:
    grouping = GroupBy.parse(group_by)
    names: dict[str, str] = {}
    rows: dict[tuple[str, str], _Acc] = defaultdict(_Acc)
    totals: dict[str, _Acc] = defaultdict(_Acc)
    for entry in ledger_entries(docs, applications):
        if entry.fecha > periodo.hasta:
            continue
        key, name = group_key(entry.document, grouping)
        names.setdefault(key, name)
        for acc in (rows[(key, entry.moneda)], totals[entry.moneda]):
            if entry.fecha < periodo.desde:
                acc.inicial += entry.cargo - entry.abono
            elif entry.cargo:
                acc.cargos += entry.cargo
            elif entry.tipo == ApplicationKind.NOTA_CREDITO.value:
                acc.notas += entry.abono
            else:
                acc.pagos += entry.abono
    filas = tuple(
        MovementRow(key, names[key], cur, acc.freeze())
        for (key, cur), acc in sorted(rows.items(), key=lambda kv: (names[kv[0][0]], kv[0]))
        if acc.inicial or acc.cargos or acc.pagos or acc.notas
    )
    return MovementReport(
        periodo=periodo,
        agrupacion=grouping,
        filas=filas,
        totales={cur: acc.freeze() for cur, acc in sorted(totals.items())},
    )
