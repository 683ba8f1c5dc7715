"""The receivables ledger of a customer: cargos (documents) and abonos (applications).

Statements and the receivables movement both read the same ordered list of entries,
so "saldo inicial + cargos - abonos = saldo final" holds by construction in both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from cfdi_cobranza.domain.money import ZERO
from cfdi_cobranza.domain.receivables import Application, ApplicationKind, Receivable
from cfdi_cobranza.errors import ValidationError

TIPO_LABELS = {
    "factura": "Factura",
    "cheque": "Cheque devuelto",
    "pagare": "Pagaré",
    "tarjeta": "Tarjeta de crédito",
    "devuelto": "Cargo por documento devuelto",
    ApplicationKind.PAGO.value: "Pago",
    ApplicationKind.NOTA_CREDITO.value: "Nota de crédito",
}


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    fecha: date
    rfc: str
    moneda: str
    doc_id: str
    tipo: str  # factura | cheque | pagare | ... | pago | nota_credito
    referencia: str
    cargo: Decimal
    abono: Decimal
    document: Receivable  # the debt document the entry concerns (for grouping)

    @property
    def concepto(self) -> str:
        return TIPO_LABELS.get(self.tipo, self.tipo.capitalize())

    def sort_key(self) -> tuple[date, int, str, str]:
        # Same day: the charge first, so a running balance never dips below zero
        # for an invoice paid on its issue date.
        return (self.fecha, 0 if self.cargo else 1, self.doc_id, self.referencia)


def ledger_entries(
    docs: Iterable[Receivable], applications: Iterable[Application]
) -> list[LedgerEntry]:
    """All cargos and abonos, in date order. An application to an unknown document is
    refused: silently dropping it would make every balance after it wrong."""
    by_id = {d.doc_id: d for d in docs}
    entries = [
        LedgerEntry(d.fecha, d.rfc, d.moneda, d.doc_id, d.tipo, d.referencia, d.total, ZERO, d)
        for d in by_id.values()
    ]
    for app in applications:
        doc = by_id.get(app.doc_id)
        if doc is None:
            raise ValidationError(
                f"Hay una aplicación al documento {app.doc_id}, que no está en la cartera.",
                code="DOCUMENTO_DESCONOCIDO",
                doc_id=app.doc_id,
            )
        ref = app.referencia or (app.payment_id or "")
        entries.append(
            LedgerEntry(
                app.fecha,
                doc.rfc,
                doc.moneda,
                doc.doc_id,
                app.tipo.value,
                ref,
                ZERO,
                app.importe,
                doc,
            )
        )
    entries.sort(key=LedgerEntry.sort_key)
    return entries
