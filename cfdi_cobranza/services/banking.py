"""Bank statements: import deposits once, suggest what they pay, apply the chosen ones.

Nothing is applied without a user's choice or an explicit ``min_score`` threshold.
An applied deposit becomes a settlement with one transfer payment (forma 03) whose
applications go through ``services.payments``, so every rule of applying holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza.bank.statements import (
    ColumnMapping,
    StatementResult,
    parse_statement,
    payer_hints,
)
from cfdi_cobranza.db.models import BankMovement, Customer, Document, Payment
from cfdi_cobranza.domain import matching
from cfdi_cobranza.domain.payments import ReceiptInput
from cfdi_cobranza.domain.states import DepositStatus, DocumentStatus, PaymentStatus
from cfdi_cobranza.errors import CobranzaError, NotFoundError, ValidationError
from cfdi_cobranza.services import payments as pay
from cfdi_cobranza.services.clock import Clock, system_clock


@dataclass(frozen=True)
class StatementImport:
    banco: str
    cuenta: str
    nuevos: int
    repetidos: int
    cargos_omitidos: int
    errores: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class DepositOutcome:
    """What became of one deposit chosen to be applied: its payment, or why not."""

    deposit_id: int
    applied: pay.ApplicationResult | None = None
    score: int | None = None
    code: str | None = None
    message: str | None = None

    @property
    def status(self) -> str:
        return "rechazado" if self.applied is None else "aplicado"

    @property
    def payment_id(self) -> int | None:
        return None if self.applied is None else self.applied.payment_id

    def to_dict(self) -> dict[str, Any]:
        if self.applied is None:
            return {"deposit_id": self.deposit_id, "status": self.status, "code": self.code, "message": self.message}
        return {"deposit_id": self.deposit_id, "status": self.status, "score": self.score,
                "payment_id": self.payment_id, "lines": [ln.to_dict() for ln in self.applied.lines]}


def import_statement(session: Session, data: bytes, preset: str, *, cuenta: str = "", moneda: str = "MXN",
                     mapping: ColumnMapping | None = None, source_name: str | None = None,
                     clock: Clock = system_clock) -> StatementImport:
    result: StatementResult = parse_statement(data, preset, cuenta=cuenta, moneda=moneda, mapping=mapping)
    fingerprints = [m.huella for m in result.depositos]
    known = set(session.scalars(select(BankMovement.fingerprint).where(BankMovement.fingerprint.in_(fingerprints))))
    nuevos = 0
    now = clock()
    for m in result.depositos:
        if m.huella in known:
            continue
        known.add(m.huella)
        hints = " ".join(x for x in (m.rfc_ordenante, m.cuenta_ordenante, m.nombre_ordenante) if x)
        session.add(BankMovement(
            fingerprint=m.huella, bank=m.banco, account=m.cuenta or None, fecha=m.fecha, amount=m.importe,
            moneda=m.moneda, description=(m.descripcion + (f" [{hints}]" if hints and hints not in m.descripcion else "")),
            reference=m.referencia[:200] or None, status=DepositStatus.PENDIENTE, imported_at=now, source_name=source_name,
        ))
        nuevos += 1
    session.flush()
    return StatementImport(result.banco, result.cuenta, nuevos, len(result.depositos) - nuevos,
                           result.cargos_omitidos,
                           [{"fila": e.fila, "code": e.code, "message": e.mensaje} for e in result.errores])


def _deposit(m: BankMovement) -> matching.Deposit:
    rfc, account = payer_hints(m.description or "")
    return matching.Deposit(id=str(m.id), fecha=m.fecha, importe=m.amount, moneda=m.moneda,
                            descripcion=m.description or "", referencia=m.reference or "",
                            rfc_ordenante=rfc, cuenta_ordenante=account)


def build_matcher(session: Session, rates: Mapping[str, Decimal] | None = None) -> matching.Matcher:
    customers = {c.id: c for c in session.scalars(select(Customer))}
    docs = session.scalars(select(Document).where(Document.tipo == "I", Document.saldo > 0,
                                                  Document.status == DocumentStatus.VIGENTE)).all()
    open_docs = [pay.open_document(session, d, customers[d.customer_id].key) for d in docs]
    history: dict[int, list[tuple[Any, Decimal]]] = defaultdict(list)
    accounts: dict[int, set[str]] = defaultdict(set)
    for p in session.scalars(select(Payment).where(Payment.status == PaymentStatus.ACTIVO).order_by(Payment.fecha_pago)):
        history[p.customer_id].append((p.fecha_pago.date(), p.monto))
        if p.cta_ordenante:
            accounts[p.customer_id].add(p.cta_ordenante)
    profiles = [
        matching.CustomerProfile(customer=c.key, rfc=c.rfc, nombre=c.nombre or "", cuentas=tuple(sorted(accounts[c.id])),
                                 pagos_previos=tuple(history[c.id]))
        for c in customers.values()
    ]
    return matching.Matcher(profiles, open_docs, tipos_cambio=dict(rates or {}))


def suggest(session: Session, *, limit: int = 3, rates: Mapping[str, Decimal] | None = None
            ) -> list[tuple[BankMovement, list[matching.Suggestion]]]:
    pending = session.scalars(select(BankMovement).where(BankMovement.status == DepositStatus.PENDIENTE)
                              .order_by(BankMovement.fecha, BankMovement.id)).all()
    if not pending:
        return []
    matcher = build_matcher(session, rates)
    return [(m, matcher.suggest(_deposit(m), limit=limit)) for m in pending]


def suggestion_dict(s: matching.Suggestion) -> dict[str, Any]:
    return {
        "customer": s.customer.split("|")[0], "score": s.score,
        "aplicaciones": [{"uuid": a.doc.uuid, "serie_folio": a.doc.serie_folio, "moneda": a.doc.moneda,
                          "importe": format(a.importe, "f"),
                          "equivalencia": format(a.equivalencia, "f") if a.equivalencia is not None else None}
                         for a in s.aplicaciones],
        "razones": [{"code": r.code, "message": r.mensaje, "puntos": r.puntos} for r in s.razones],
        "remanente": format(s.remanente, "f"),
    }


def apply_suggestion(session: Session, movement: BankMovement, s: matching.Suggestion, *, actor: str,
                     clock: Clock, rates: Mapping[str, Decimal] | None = None) -> pay.ApplicationResult:
    if movement.status != DepositStatus.PENDIENTE:
        raise NotFoundError(f"El depósito {movement.id} ya fue aplicado.", code="DEPOSITO_APLICADO")
    rate = None if movement.moneda == "MXN" else _rate_for(movement, rates or {})
    receipt = ReceiptInput(customer=s.customer, company="", fecha_pago=datetime.combine(movement.fecha, time(12, 0)),
                           forma_pago="03", moneda=movement.moneda, monto=movement.amount, tipo_cambio=rate,
                           num_operacion=(movement.reference or None), notas=f"Depósito bancario {movement.id}")
    settlement = pay.register_settlement(session, [receipt], actor=actor, clock=clock,
                                         bank_movement_id=movement.id)
    payment = settlement.payments[0]
    result = pay.apply_payment(session, payment.id,
                               [pay.Allocation(a.doc.uuid, a.importe, a.equivalencia) for a in s.aplicaciones],
                               rates=rates, actor=actor, clock=clock)
    movement.status = DepositStatus(movement.status).check_move(DepositStatus.APLICADO)
    return result


def _rate_for(movement: BankMovement, rates: Mapping[str, Decimal]) -> Decimal:
    rate = rates.get(movement.moneda)
    if rate is None:
        raise ValidationError(
            f"El depósito {movement.id} está en {movement.moneda}: indique su tipo de cambio "
            f"(--rate {movement.moneda}=TC).", code="TIPO_CAMBIO_REQUERIDO")
    return rate


def apply_above(session: Session, min_score: int, *, actor: str = "sistema", clock: Clock = system_clock,
                rates: Mapping[str, Decimal] | None = None) -> list[DepositOutcome]:
    """Apply every pending deposit whose best suggestion scores at least ``min_score``."""
    ranked = suggest(session, rates=rates)
    by_id = {str(m.id): m for m, _ in ranked}
    chosen = matching.assign({str(m.id): sugg for m, sugg in ranked}, min_score=min_score)
    out = []
    for dep_id, s in sorted(chosen.items(), key=lambda kv: int(kv[0])):
        movement = by_id[dep_id]
        try:
            with session.begin_nested():
                result = apply_suggestion(session, movement, s, actor=actor, clock=clock, rates=rates)
            out.append(DepositOutcome(movement.id, result, s.score))
        except CobranzaError as exc:  # one deposit never spoils the rest; the error is reported
            out.append(DepositOutcome(movement.id, code=exc.code, message=exc.message))
    return out


__all__ = ["ColumnMapping", "DepositOutcome", "apply_above", "import_statement", "suggest"]
