"""The Tablero: receivable and overdue per currency at a fecha de corte, and its aging.

Aging comes from the SQL aging report (the same the Reportes page and the CLI use),
grouped as one portfolio; amounts are never added across currencies here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from cfdi_cobranza.domain.aging import AgingBuckets
from cfdi_cobranza.domain.trends import PREVIOUS_MONTHS, RECENT_MONTHS, CustomerTrend
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.services import collection_reports as reports
from cfdi_cobranza.services.settings import aging_buckets


@dataclass(frozen=True)
class CurrencySummary:
    moneda: str
    por_cobrar: Decimal
    vencido: Decimal
    documentos: int
    documentos_vencidos: int
    etiquetas: tuple[str, ...]
    importes: tuple[Decimal, ...]

    @property
    def pct_vencido(self) -> Decimal:
        if self.por_cobrar == 0:
            return Decimal(0)
        return (self.vencido * 100 / self.por_cobrar).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class DashboardSummary:
    fecha_corte: date
    monedas: list[CurrencySummary]
    clientes_con_saldo: int


def dashboard_summary(session: Session, as_of: date, buckets: str | None = None) -> DashboardSummary:
    """Totals per currency at the fecha de corte, computed in SQL (no per-document rows)."""
    # Without ``buckets``, the ones set in Configuración → Cobranza.
    spec = aging_buckets(session) if buckets is None else AgingBuckets.parse(buckets)
    try:
        report = reports.aging(session, as_of, buckets=spec, group_by="cartera")
    except ValidationError as exc:
        if exc.code != "TIPO_CAMBIO_FALTANTE":
            raise
        # The Tablero shows each currency on its own and never converts: a missing
        # exchange rate must not hide the balances. Unit rates only feed the MXN
        # view of the report, which is not shown here.
        report = reports.aging(session, as_of, buckets=spec, group_by="cartera",
                               rates={m: Decimal(1) for m in reports.open_currencies(session)})
    counts, customers = reports.open_counts(session, as_of)
    out = []
    for moneda in sorted(report.totales, key=lambda m: (m != "MXN", m)):
        amounts = report.totales[moneda]
        out.append(CurrencySummary(
            moneda=moneda, por_cobrar=amounts.total, vencido=sum(amounts.importes[1:], Decimal(0)),
            documentos=amounts.documentos, documentos_vencidos=counts.get(moneda, 0),
            etiquetas=report.etiquetas, importes=amounts.importes,
        ))
    return DashboardSummary(as_of, out, customers)


@dataclass(frozen=True)
class Worsening:
    """Customers whose days late worsened sharply (``domain.trends``), worst first."""

    clientes: tuple[CustomerTrend, ...]
    error: str | None = None  # e.g. a currency without an exchange rate


def worsening_customers(session: Session, as_of: date) -> Worsening:
    """Only the verdicts: the monthly lines are the report's, not the Tablero's."""
    try:
        rep = reports.trends(session, as_of, months=RECENT_MONTHS + PREVIOUS_MONTHS, with_months=False)
    except ValidationError as exc:
        if exc.code != "TIPO_CAMBIO_FALTANTE":
            raise
        return Worsening((), exc.message)
    return Worsening(rep.empeoran_fuerte)
