"""Estado de cuenta: one customer's cargos and abonos in a period with a running balance.

One statement per currency (a USD invoice is never netted with MXN payments). The
saldo inicial is everything before ``desde``; the saldo final equals the customer's
open balance at ``hasta``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from cfdi_cobranza.domain.ledger import LedgerEntry, ledger_entries
from cfdi_cobranza.domain.money import ZERO
from cfdi_cobranza.domain.period import DateRange, overdue_cutoff
from cfdi_cobranza.domain.receivables import Application, Receivable, open_items


@dataclass(frozen=True, slots=True)
class Company:
    """The company printed at the top of a statement or a letter."""

    nombre: str
    rfc: str
    domicilio: str | None = None
    ciudad: str | None = None  # printed before the date: "Monterrey, N.L., a ..."
    telefono: str | None = None
    correo: str | None = None


@dataclass(frozen=True, slots=True)
class StatementLine:
    entry: LedgerEntry
    saldo: Decimal  # running balance after this line

    @property
    def fecha(self) -> date:
        return self.entry.fecha

    @property
    def cargo(self) -> Decimal:
        return self.entry.cargo

    @property
    def abono(self) -> Decimal:
        return self.entry.abono


@dataclass(frozen=True, slots=True)
class Statement:
    rfc: str
    nombre: str
    moneda: str
    periodo: DateRange
    saldo_inicial: Decimal
    lineas: tuple[StatementLine, ...]
    total_cargos: Decimal
    total_abonos: Decimal
    saldo_final: Decimal
    saldo_vencido: Decimal  # part of saldo_final past due at ``periodo.hasta`` (today if that is later)


def statement(
    rfc: str,
    docs: Iterable[Receivable],
    applications: Iterable[Application],
    periodo: DateRange,
    today: date | None = None,
) -> list[Statement]:
    """Statements of ``rfc`` for ``periodo``, one per currency with activity or balance.
    ``today``: nothing due after it counts as overdue, even when ``periodo`` ends later."""
    own_docs = [d for d in docs if d.rfc == rfc]
    ids = {d.doc_id for d in own_docs}
    own_apps = [a for a in applications if a.doc_id in ids]
    entries = [e for e in ledger_entries(own_docs, own_apps) if e.fecha <= periodo.hasta]
    names = [d.nombre for d in own_docs if d.nombre]
    nombre = names[0] if names else rfc

    overdue: dict[str, Decimal] = defaultdict(lambda: ZERO)
    cutoff = overdue_cutoff(periodo.hasta, today)
    for item in open_items(own_docs, own_apps, periodo.hasta):
        if item.vencimiento < cutoff:
            overdue[item.moneda] += item.saldo

    by_currency: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        by_currency[entry.moneda].append(entry)

    result: list[Statement] = []
    for moneda, rows in sorted(by_currency.items()):
        opening = sum((e.cargo - e.abono for e in rows if e.fecha < periodo.desde), ZERO)
        balance = opening
        lines: list[StatementLine] = []
        for entry in rows:
            if entry.fecha < periodo.desde:
                continue
            balance += entry.cargo - entry.abono
            lines.append(StatementLine(entry, balance))
        if not lines and opening == 0:
            continue
        result.append(
            Statement(
                rfc=rfc,
                nombre=nombre,
                moneda=moneda,
                periodo=periodo,
                saldo_inicial=opening,
                lineas=tuple(lines),
                total_cargos=sum((ln.cargo for ln in lines), ZERO),
                total_abonos=sum((ln.abono for ln in lines), ZERO),
                saldo_final=balance,
                saldo_vencido=overdue.get(moneda, ZERO),
            )
        )
    return result
