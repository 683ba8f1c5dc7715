"""The Tablero: receivable and overdue per currency at a fecha de corte, and its aging.

Aging comes from ``cfdi_cobranza.domain.aging`` fed with the ledger's open balances
at the fecha de corte; it runs once per currency so no exchange rate is needed for
the figures shown (amounts are never added across currencies here).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from cfdi_cobranza.domain.aging import AgingBuckets, aging_report
from cfdi_cobranza.domain.receivables import OpenItem
from cfdi_cobranza.services.ledger import list_documents


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
    if buckets is None:
        from cfdi_cobranza.services.settings import aging_buckets

        spec = aging_buckets(session)  # the buckets set in Configuración → Cobranza
    else:
        spec = AgingBuckets.parse(buckets)
    by_currency: dict[str, list[OpenItem]] = defaultdict(list)
    customers: set[str] = set()
    for row in list_documents(session, open_only=True, as_of=as_of):
        if row.saldo <= 0:
            continue
        # A PUE invoice has no term: it was due the day it was issued.
        venc = row.vencimiento or row.fecha.date()
        by_currency[row.moneda].append(OpenItem(
            doc_id=row.uuid, rfc=row.customer_rfc, nombre=row.customer_nombre or row.customer_rfc,
            moneda=row.moneda, saldo=row.saldo, vencimiento=venc, referencia=f"{row.serie or ''}{row.folio or ''}",
        ))
        customers.add(row.customer_rfc)
    out = []
    for moneda in sorted(by_currency, key=lambda m: (m != "MXN", m)):
        items = by_currency[moneda]
        report = aging_report(items, as_of, spec, group_by="cartera", rates_to_mxn={moneda: Decimal(1)})
        amounts = report.totales[moneda]
        overdue_docs = sum(1 for line in report.detalle if line.bucket > 0)
        out.append(CurrencySummary(
            moneda=moneda, por_cobrar=amounts.total, vencido=sum(amounts.importes[1:], Decimal(0)),
            documentos=amounts.documentos, documentos_vencidos=overdue_docs,
            etiquetas=report.etiquetas, importes=amounts.importes,
        ))
    return DashboardSummary(as_of, out, len(customers))
