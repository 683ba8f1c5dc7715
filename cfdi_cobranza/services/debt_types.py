"""Debt document types as data, and registering an instrument (by hand or from a receipt).

The payments service calls ``record_for_payment`` when a receipt is paid by cheque
(c_FormaPago 02) or card (04, 28), so this module must not import it; state changes
(which reverse applications through ``payments.unapply``) live in ``services/debts.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import AuditEntry, Customer, Document, Payment
from cfdi_cobranza.db.models.collections import DebtDocument, DebtDocumentState, DebtDocumentType
from cfdi_cobranza.domain.debts import DEFAULT_TYPES, FORM_TYPES, DebtType, debt_type
from cfdi_cobranza.domain.money import is_currency, round_currency
from cfdi_cobranza.domain.states import DebtStatus
from cfdi_cobranza.errors import ConflictError, NotFoundError, ValidationError
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.ledger import find_customer


def _audit(session: Session, clock: Clock, actor: str, action: str, entity: str, entity_id: Any,
           detail: dict[str, Any]) -> None:
    session.add(AuditEntry(at=clock(), actor=actor[:100], action=action[:50], entity=entity[:50],
                           entity_id=str(entity_id)[:64], detail=json.dumps(detail, default=str)))


# --------------------------------------------------------------------------- types


def _from_row(row: DebtDocumentType) -> DebtType:
    return debt_type(row.code, row.nombre, row.posfechable, [s for s in row.estados.split(",") if s],
                     json.loads(row.transiciones))


def list_types(session: Session) -> list[DebtType]:
    """The built-in types overlaid by the configured ones (same code: the configured wins)."""
    types = {t.code: t for t in DEFAULT_TYPES}
    for row in session.scalars(select(DebtDocumentType).order_by(DebtDocumentType.code)):
        types[row.code] = _from_row(row)
    return list(types.values())


def get_type(session: Session, code: str) -> DebtType:
    types = {t.code: t for t in list_types(session)}
    kind = types.get(code.strip().lower())
    if kind is None:
        raise ValidationError(f"Tipo de documento desconocido: {code!r}. Opciones: {', '.join(types)}. "
                              "Se configura con «cobranza debt type-set».", code="TIPO_DOCUMENTO_INVALIDO")
    return kind


def set_type(session: Session, code: str, *, nombre: str, posfechable: bool, estados: list[str] | None = None,
             transiciones: dict[str, list[str]] | None = None, actor: str,
             clock: Clock = system_clock) -> DebtType:
    """Create or change a type. Refused when documents of the type sit in a state it drops."""
    kind = debt_type(code, nombre, posfechable, estados, transiciones)
    stranded = session.scalars(select(DebtDocument.estado).distinct().where(
        DebtDocument.tipo == kind.code, DebtDocument.estado.not_in([s.value for s in kind.estados]))).all()
    if stranded:
        raise ConflictError(f"Hay documentos {kind.code} en estado {', '.join(sorted(stranded))}, que el tipo ya no "
                            "tendría.", code="TIPO_EN_USO")
    row = session.get(DebtDocumentType, kind.code, with_for_update=True)
    if row is None:
        row = DebtDocumentType(code=kind.code)
        session.add(row)
    row.nombre = kind.nombre
    row.posfechable = kind.posfechable
    row.estados = ",".join(s.value for s in kind.estados)
    row.transiciones = json.dumps({s.value: [m.value for m in kind.moves_from(s)] for s in kind.estados})
    row.updated_at = clock()
    row.updated_by = actor
    session.flush()
    _audit(session, clock, actor, "tipo_documento", "debt_document_type", kind.code, kind.to_dict())
    return kind


# --------------------------------------------------------------------------- documents


@dataclass
class DebtDocumentView:
    row: DebtDocument
    rfc: str
    kind: DebtType
    reversed_credits: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        r = self.row
        estado = DebtStatus(r.estado)
        return {
            "id": r.id, "rfc": self.rfc, "tipo": r.tipo, "tipo_etiqueta": self.kind.nombre,
            "numero": r.numero, "banco": r.banco, "moneda": r.moneda,
            "importe": format(round_currency(r.importe, r.moneda), "f"),
            "fecha": r.fecha.isoformat(), "fecha_cobro": r.fecha_cobro.isoformat(), "posfechado": r.posfechado,
            "estado": r.estado, "estado_etiqueta": estado.etiqueta, "payment_id": r.payment_id,
            "pasa_a": [s.value for s in self.kind.moves_from(estado)],
            "historial": [{"estado": h.estado, "fecha": h.fecha.isoformat(), "registrado": h.recorded_at.isoformat(),
                           "por": h.recorded_by, "nota": h.nota, "creditos_revertidos": h.creditos_revertidos}
                          for h in r.history],
            "creditos_revertidos": self.reversed_credits,
        }


def register_debt_document(
    session: Session, rfc: str, *, tipo: str, importe: Decimal, moneda: str = "MXN", fecha: date,
    fecha_cobro: date | None = None, numero: str | None = None, banco: str | None = None,
    payment_id: int | None = None, complement_uuid: str | None = None, notes: str | None = None,
    actor: str, clock: Clock = system_clock,
) -> DebtDocumentView:
    customer = find_customer(session, rfc)
    kind = get_type(session, tipo)
    if importe <= 0:
        raise ValidationError("El importe del documento debe ser mayor que cero.", code="IMPORTE_INVALIDO")
    if not is_currency(moneda):
        raise ValidationError(f"Moneda desconocida: {moneda!r}.", code="MONEDA_INVALIDA")
    cobro = fecha_cobro or fecha
    if cobro < fecha:
        raise ValidationError("La fecha de cobro no puede ser anterior a la fecha del documento.",
                              code="RANGO_INVALIDO")
    if cobro > fecha and not kind.posfechable:
        raise ValidationError(f"Un {kind.nombre.lower()} no puede ser posfechado.", code="POSFECHADO_NO_PERMITIDO")
    complement_id = None
    if payment_id is not None:
        pay = session.get(Payment, payment_id)
        if pay is None or pay.customer_id != customer.id:
            raise NotFoundError(f"El pago {payment_id} no existe o es de otro cliente.", code="PAGO_NO_ENCONTRADO")
        other = session.scalar(select(DebtDocument.id).where(DebtDocument.payment_id == payment_id))
        if other is not None:
            raise ConflictError(f"El pago {payment_id} ya está respaldado por el documento {other}.",
                                code="PAGO_CON_DOCUMENTO")
    if complement_uuid:
        comp = session.scalar(select(Document).where(Document.uuid == complement_uuid.strip().upper(),
                                                     Document.tipo == "P"))
        if comp is None or comp.customer_id != customer.id:
            raise NotFoundError(f"No hay un complemento de pago {complement_uuid} de este cliente.",
                                code="DOCUMENTO_NO_ENCONTRADO")
        complement_id = comp.id
    now = clock()
    row = DebtDocument(customer_id=customer.id, tipo=kind.code, numero=numero, banco=banco, moneda=moneda,
                       importe=importe, fecha=fecha, fecha_cobro=cobro, estado=DebtStatus.EN_CARTERA,
                       payment_id=payment_id, complement_id=complement_id, notes=notes,
                       created_at=now, created_by=actor)
    row.history.append(DebtDocumentState(estado=DebtStatus.EN_CARTERA, fecha=fecha, recorded_at=now, recorded_by=actor,
                                         creditos_revertidos=0))
    session.add(row)
    session.flush()
    _audit(session, clock, actor, "documento_registrado", "debt_document", row.id,
           {"tipo": kind.code, "importe": str(importe), "moneda": moneda, "pago": payment_id})
    return DebtDocumentView(row, customer.key, kind)


def record_for_payment(session: Session, payment: Payment, customer: Customer, *, actor: str,
                       clock: Clock = system_clock) -> DebtDocumentView | None:
    """The instrument behind a receipt paid by cheque or card, with the receipt's data."""
    tipo = FORM_TYPES.get(payment.forma_pago)
    if tipo is None:
        return None
    fecha = payment.fecha_pago.date()  # local, as the REP writes it
    return register_debt_document(
        session, customer.key, tipo=tipo, importe=payment.monto, moneda=payment.moneda, fecha=fecha,
        numero=payment.num_operacion, banco=payment.nom_banco_ord_ext or payment.rfc_emisor_cta_ord,
        payment_id=payment.id, actor=actor, clock=clock)


def debt_ids_of_payments(session: Session, payment_ids: list[int]) -> dict[int, int]:
    """payment id -> the debt document that backs it (the other side of ``payment_id``)."""
    if not payment_ids:
        return {}
    return {p: d for d, p in session.execute(select(DebtDocument.id, DebtDocument.payment_id)
                                             .where(DebtDocument.payment_id.in_(payment_ids))) if p is not None}


__all__ = [
    "DebtDocumentView",
    "debt_ids_of_payments",
    "get_type",
    "list_types",
    "record_for_payment",
    "register_debt_document",
    "set_type",
]
