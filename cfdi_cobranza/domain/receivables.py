"""Plain records the collections reports are fed with, and balances derived from them.

The DB layer (or a test, or the history generator) hands the reports these immutable
records; it may compute balances in SQL, but :func:`open_items` defines what a
balance at a fecha de corte means:

* a debt document (``Receivable``: factura, cheque, pagaré ...) owes its ``total``;
* every ``Application`` dated on or before the fecha de corte reduces it: a ``pago``
  (part of a payment) or a ``nota_credito`` (a credit note applied to the document);
* later applications do not exist yet at that date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from cfdi_cobranza.domain.money import ZERO
from cfdi_cobranza.errors import ValidationError


class ApplicationKind(StrEnum):
    PAGO = "pago"
    NOTA_CREDITO = "nota_credito"


@dataclass(frozen=True, slots=True)
class Receivable:
    """A debt document and the attributes reports group by."""

    doc_id: str
    rfc: str
    nombre: str
    moneda: str
    total: Decimal
    fecha: date  # fecha de emisión
    vencimiento: date
    tipo: str = "factura"  # factura | cheque | pagare | tarjeta ...
    referencia: str = ""  # Serie/Folio as users know it
    vendedor: str | None = None
    zona: str | None = None
    clasificacion: str | None = None
    sucursal: str | None = None
    empresa: str | None = None
    tipo_cobranza: str | None = None  # normal, judicial, especial u otra (the customer's)

    def __post_init__(self) -> None:
        if self.total < 0:
            raise ValidationError(
                f"El documento {self.doc_id} tiene un total negativo.",
                code="IMPORTE_INVALIDO",
                doc_id=self.doc_id,
            )


@dataclass(frozen=True, slots=True)
class Application:
    """An amount applied to one document, in the document's currency."""

    doc_id: str
    fecha: date
    importe: Decimal
    tipo: ApplicationKind = ApplicationKind.PAGO
    payment_id: str | None = None  # the Payment it comes from (pagos only)
    importe_pago: Decimal | None = None  # same amount in the payment's currency, if different
    referencia: str = ""

    def __post_init__(self) -> None:
        if self.importe <= 0:
            raise ValidationError(
                f"La aplicación al documento {self.doc_id} debe tener importe mayor que cero.",
                code="IMPORTE_INVALIDO",
                doc_id=self.doc_id,
            )


@dataclass(frozen=True, slots=True)
class Payment:
    """Money received from a customer; what is not applied is saldo sin aplicar."""

    payment_id: str
    rfc: str
    fecha: date
    moneda: str
    importe: Decimal
    referencia: str = ""


@dataclass(frozen=True, slots=True)
class OpenItem:
    """A document with a balance at a fecha de corte: what aging and forecasts read."""

    doc_id: str
    rfc: str
    nombre: str
    moneda: str
    saldo: Decimal
    vencimiento: date
    referencia: str = ""
    vendedor: str | None = None
    zona: str | None = None
    clasificacion: str | None = None
    sucursal: str | None = None
    empresa: str | None = None
    tipo_cobranza: str | None = None  # normal, judicial, especial u otra (the customer's)


def applications_by_doc(
    applications: Iterable[Application], *, until: date | None = None
) -> dict[str, list[Application]]:
    grouped: dict[str, list[Application]] = defaultdict(list)
    for app in applications:
        if until is None or app.fecha <= until:
            grouped[app.doc_id].append(app)
    for apps in grouped.values():
        apps.sort(key=lambda a: a.fecha)
    return dict(grouped)


def balance_at(doc: Receivable, applied: Iterable[Application], as_of: date) -> Decimal:
    """Saldo of ``doc`` at the end of ``as_of`` (documents issued later owe nothing yet)."""
    if doc.fecha > as_of:
        return ZERO
    return doc.total - sum((a.importe for a in applied if a.fecha <= as_of), ZERO)


def open_items(
    docs: Iterable[Receivable], applications: Iterable[Application], as_of: date
) -> list[OpenItem]:
    """Documents issued by ``as_of`` with a positive balance at ``as_of``.

    An over-applied document (negative balance) is refused: it is a data error the
    caller must see, not something a report should hide or net against other debts.
    """
    by_doc = applications_by_doc(applications, until=as_of)
    items: list[OpenItem] = []
    for doc in docs:
        saldo = balance_at(doc, by_doc.get(doc.doc_id, ()), as_of)
        if saldo < 0:
            raise ValidationError(
                f"El documento {doc.referencia or doc.doc_id} tiene más aplicado que su total.",
                code="SOBREAPLICADO",
                doc_id=doc.doc_id,
            )
        if saldo > 0:
            items.append(to_open_item(doc, saldo))
    return items


def to_open_item(doc: Receivable, saldo: Decimal) -> OpenItem:
    return OpenItem(
        doc_id=doc.doc_id,
        rfc=doc.rfc,
        nombre=doc.nombre,
        moneda=doc.moneda,
        saldo=saldo,
        vencimiento=doc.vencimiento,
        referencia=doc.referencia,
        vendedor=doc.vendedor,
        zona=doc.zona,
        clasificacion=doc.clasificacion,
        sucursal=doc.sucursal,
        empresa=doc.empresa,
        tipo_cobranza=doc.tipo_cobranza,
    )


def unapplied_by_currency(
    payments: Iterable[Payment], applications: Iterable[Application], as_of: date
) -> Mapping[str, Decimal]:
    """Saldo sin aplicar (saldo a favor) per payment currency at ``as_of``."""
    applied: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for app in applications:
        if app.payment_id is not None and app.fecha <= as_of:
            amount = app.importe_pago if app.importe_pago is not None else app.importe
            applied[app.payment_id] += amount
    result: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for pay in payments:
        if pay.fecha <= as_of:
            result[pay.moneda] += pay.importe - applied.get(pay.payment_id, ZERO)
    return {k: v for k, v in result.items() if v != 0}
