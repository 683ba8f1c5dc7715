"""Promesas de pago: a customer's commitment to pay an amount by a date.

A promise is *cumplida* when pagos applied to its documents from the day it was
recorded through the promised date (plus ``grace_days``) reach the promised amount;
*incumplida* (broken) when that date has passed without it; *vigente* otherwise.
Payments made before the promise was recorded do not count toward it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from cfdi_cobranza.domain.money import ZERO
from cfdi_cobranza.domain.period import add_days
from cfdi_cobranza.domain.receivables import Application, ApplicationKind
from cfdi_cobranza.domain.states import (
    PromiseStatus as PromiseStatus,  # re-exported: its state set lives there
)
from cfdi_cobranza.errors import ValidationError


@dataclass(frozen=True, slots=True)
class Promise:
    promise_id: str
    rfc: str
    fecha_registro: date  # day the follow-up recorded it
    fecha_promesa: date  # day the customer promised to pay by
    importe: Decimal
    moneda: str
    doc_ids: tuple[str, ...]
    nota: str = ""

    def __post_init__(self) -> None:
        if self.importe <= 0:
            raise ValidationError(
                "El importe prometido debe ser mayor que cero.", code="IMPORTE_INVALIDO"
            )
        if self.fecha_promesa < self.fecha_registro:
            raise ValidationError(
                "La fecha de la promesa no puede ser anterior a la fecha en que se registró.",
                code="RANGO_INVALIDO",
            )
        if not self.doc_ids:
            raise ValidationError(
                "La promesa debe referirse al menos a un documento.", code="PROMESA_SIN_DOCUMENTOS"
            )


@dataclass(frozen=True, slots=True)
class PromiseOutcome:
    promise: Promise
    estado: PromiseStatus
    pagado: Decimal  # pagos counted toward the promise so far
    faltante: Decimal  # promised amount not yet paid (0 when cumplida)
    dias_incumplida: int  # days since the (grace) deadline passed; 0 unless incumplida


def evaluate_promise(
    promise: Promise, applications: Iterable[Application], as_of: date, *, grace_days: int = 0
) -> PromiseOutcome:
    deadline = add_days(promise.fecha_promesa, grace_days)
    docs = set(promise.doc_ids)
    paid = sum(
        (
            a.importe
            for a in applications
            if a.doc_id in docs
            and a.tipo is ApplicationKind.PAGO
            and promise.fecha_registro <= a.fecha <= min(deadline, as_of)
        ),
        ZERO,
    )
    if paid >= promise.importe:
        return PromiseOutcome(promise, PromiseStatus.CUMPLIDA, paid, ZERO, 0)
    missing = promise.importe - paid
    if as_of > deadline:
        return PromiseOutcome(
            promise, PromiseStatus.INCUMPLIDA, paid, missing, (as_of - deadline).days
        )
    return PromiseOutcome(promise, PromiseStatus.VIGENTE, paid, missing, 0)


def evaluate_promises(
    promises: Iterable[Promise],
    applications: Iterable[Application],
    as_of: date,
    *,
    grace_days: int = 0,
) -> list[PromiseOutcome]:
    """Promises recorded by ``as_of`` with their status, by promised date."""
    apps = list(applications)
    return sorted(
        (
            evaluate_promise(p, apps, as_of, grace_days=grace_days)
            for p in promises
            if p.fecha_registro <= as_of
        ),
        key=lambda o: (o.promise.fecha_promesa, o.promise.rfc, o.promise.promise_id),
    )


def broken_promises(
    promises: Iterable[Promise],
    applications: Iterable[Application],
    as_of: date,
    *,
    grace_days: int = 0,
) -> list[PromiseOutcome]:
    """Promises whose date passed without the promised payment: the alert list."""
    return [
        o
        for o in evaluate_promises(promises, applications, as_of, grace_days=grace_days)
        if o.estado is PromiseStatus.INCUMPLIDA
    ]
