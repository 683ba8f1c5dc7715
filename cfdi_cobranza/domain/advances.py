"""A payment received before the invoice it is applied to: when a REP may document it.

The decision and the SAT texts behind it: docs/pagos20-decisions.md section 9. In short,
comparing the calendar days of ``FechaPago`` and the invoice's ``Fecha``:

* paid on or after the invoice's day: an ordinary application (``NORMAL``);
* paid before, and the invoice was issued after the REP deadline of that payment (the
  5th of the month after it was received, RMF 2.7.1.32): no REP can ever document that
  money on time, the income had to be documented when it was received, which is the
  anticipo procedure of Apéndice 6 of the Anexo 20 guide (CFDI de anticipo, the invoice
  related with TipoRelacion 07, a CFDI de egreso with forma de pago 30). Refused
  (``ANTICIPO``, code ``ANTICIPO_REQUERIDO``): the money stays as saldo a favor;
* paid before a PPD invoice issued within that deadline: a REP is possible only when the
  operation (good and price) was already agreed when the money came; otherwise it is an
  anticipo. Nothing in the data says which, so the application is stored flagged
  (``REQUIERE_CONFIRMACION``, code ``PAGO_ANTERIOR_A_FACTURA``) and its REP waits for a
  user's confirmation;
* paid before a PUE invoice issued within that deadline: the invoice itself documents
  the payment (received, then invoiced in one exhibition); no REP, nothing to confirm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from cfdi_cobranza.domain import period

METODO_PUE = "PUE"
REP_DEADLINE_DAY = 5  # RMF 2.7.1.32: the REP is due by the 5th of the month after the payment
CODE_NEEDS_CONFIRMATION = "PAGO_ANTERIOR_A_FACTURA"
CODE_ADVANCE_REQUIRED = "ANTICIPO_REQUERIDO"
CODE_NOT_CONFIRMED = "PAGO_ANTERIOR_SIN_CONFIRMAR"


class AdvanceClass(StrEnum):
    NORMAL = "normal"
    REQUIERE_CONFIRMACION = "requiere_confirmacion"
    ANTICIPO = "anticipo"


@dataclass(frozen=True, slots=True)
class AdvanceCheck:
    """How an application stands against the invoice's date; ``code``/``message`` unless normal."""

    clase: AdvanceClass
    code: str | None = None
    message: str | None = None
    deadline: date | None = None  # the REP deadline of the payment, when paid before the invoice

    @property
    def needs_confirmation(self) -> bool:
        return self.clase is AdvanceClass.REQUIERE_CONFIRMACION

    @property
    def refused(self) -> bool:
        return self.clase is AdvanceClass.ANTICIPO


def _d(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def rep_deadline(fecha_pago: date) -> date:
    """Last day a REP for a payment received on ``fecha_pago`` is on time."""
    return period.day_of_next_month(fecha_pago, REP_DEADLINE_DAY)


def classify(fecha_pago: datetime | date, fecha_factura: datetime | date, metodo_pago: str | None,
             documento: str = "") -> AdvanceCheck:
    """Classify applying a payment received on ``fecha_pago`` to an invoice dated
    ``fecha_factura`` (``metodo_pago`` PPD or PUE; ``documento`` names it in messages).

    Days, not times: a payment typed without a time carries the SAT's 12:00:00
    placeholder, which says nothing about the order within that day.
    """
    paid = fecha_pago.date() if isinstance(fecha_pago, datetime) else fecha_pago
    issued = fecha_factura.date() if isinstance(fecha_factura, datetime) else fecha_factura
    if paid >= issued:
        return AdvanceCheck(AdvanceClass.NORMAL)
    factura = f"la factura {documento}" if documento else "la factura"
    deadline = rep_deadline(paid)
    if issued > deadline:
        return AdvanceCheck(
            AdvanceClass.ANTICIPO, CODE_ADVANCE_REQUIRED,
            f"El pago se recibió el {_d(paid)}, antes de {factura} (emitida el {_d(issued)}), y la "
            f"factura se emitió después del plazo del REP de ese pago ({_d(deadline)}). Para el SAT "
            "ese cobro es un anticipo: se documenta con un CFDI de anticipo al recibirlo, la "
            "factura relacionada con TipoRelacion 07 y un CFDI de egreso con forma de pago 30 "
            "(Apéndice 6 de la guía de llenado del Anexo 20), no con un REP. No se aplicó; el "
            "importe queda como saldo a favor del cliente.", deadline)
    if (metodo_pago or "").upper() == METODO_PUE:
        return AdvanceCheck(AdvanceClass.NORMAL, deadline=deadline)
    return AdvanceCheck(
        AdvanceClass.REQUIERE_CONFIRMACION, CODE_NEEDS_CONFIRMATION,
        f"Pago recibido el {_d(paid)}, antes de {factura} (emitida el {_d(issued)}): lleva REP "
        "solo si el bien y su precio ya estaban pactados al recibirlo; si no, es un anticipo "
        "(Apéndice 6 del Anexo 20). Su REP espera confirmación (payment confirm-advance).", deadline)
