"""Seguimiento de cartera: the follow-up file, its tasks, closings and promises.

The file is read-only. A follow-up is dated by the clock when it is recorded (a user
cannot date it in the past), nothing edits or deletes it, and closing it adds a
closure row instead of changing it. Three layers say no to a change:

1. this service has no edit/delete path and refuses a clock earlier than the newest
   follow-up (``SEGUIMIENTO_EN_EL_PASADO``); ``edit_follow_up``/``delete_follow_up``
   exist only to answer the web/API with the stable code ``SEGUIMIENTO_INMUTABLE``;
2. an ORM guard (``before_flush``, in ``db.models.collections``) refuses any session
   that tries to update or delete a row of an append-only table;
3. database triggers (migration 0004) refuse raw ``UPDATE``/``DELETE`` and back-dated
   inserts on PostgreSQL and SQLite.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Customer, Document
from cfdi_cobranza.db.models.collections import (
    IMMUTABLE,
    CreditCondition,
    FollowUp,
    FollowUpAttachment,
    FollowUpClosure,
    FollowUpDocument,
    FollowUpType,
)
from cfdi_cobranza.domain.money import is_currency, round_currency
from cfdi_cobranza.domain.period import DateRange
from cfdi_cobranza.domain.promises import PromiseOutcome, broken_promises, evaluate_promises
from cfdi_cobranza.domain.states import FollowUpStatus
from cfdi_cobranza.errors import ConflictError, NotFoundError, ValidationError
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.ledger import find_customer
from cfdi_cobranza.services.portfolio import LOCAL_TZ, Filters, load_portfolio, local_date


def edit_follow_up(*_args: Any, **_kwargs: Any) -> None:
    raise ConflictError("Un seguimiento registrado no se puede modificar; registre uno nuevo.", code=IMMUTABLE)


def delete_follow_up(*_args: Any, **_kwargs: Any) -> None:
    raise ConflictError("Un seguimiento registrado no se puede borrar.", code=IMMUTABLE)


def _local_bounds(rng: DateRange) -> tuple[datetime, datetime]:
    """UTC instants of the local days of ``rng`` (follow-ups are stored in UTC)."""
    start = datetime.combine(rng.desde, time.min, LOCAL_TZ)
    end = datetime.combine(rng.hasta, time.max, LOCAL_TZ)
    return start, end


@dataclass(frozen=True)
class FollowUpView:
    row: FollowUp
    rfc: str
    nombre: str | None
    tipo_nombre: str
    documentos: tuple[str, ...]
    closure: FollowUpClosure | None
    adjunto: dict[str, Any] | None = None  # the stored file's facts (download by its id)

    @property
    def estado(self) -> FollowUpStatus:
        return FollowUpStatus.CERRADO if self.closure is not None else FollowUpStatus.PENDIENTE

    def to_dict(self) -> dict[str, Any]:
        r = self.row
        c = self.closure
        cur = r.promise_currency or "MXN"
        return {
            "id": r.id, "rfc": self.rfc, "nombre": self.nombre, "fecha": r.at.isoformat(),
            "fecha_local": r.at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"),
            "tipo": r.tipo, "tipo_nombre": self.tipo_nombre, "vendedor": r.vendedor, "contacto": r.contacto,
            "documentos": list(self.documentos), "notas": r.notes,
            "promesa": None if r.promise_date is None or r.promise_amount is None else {
                "fecha": r.promise_date.isoformat(), "importe": format(round_currency(r.promise_amount, cur), "f"),
                "moneda": cur},
            "proxima_tarea": r.next_task_date.isoformat() if r.next_task_date else None,
            "proxima_tarea_tipo": r.next_task_type,
            "estado": self.estado,
            "cerrado": c.closed_at.isoformat() if c else None,
            "cerrado_por": c.closed_by if c else None,
            "adjunto": self.adjunto,
        }


DEFAULT_TYPES = {
    "llamada": "Llamada",
    "correo": "Correo electrónico",
    "visita": "Visita",
    "carta": "Carta",
    "whatsapp": "WhatsApp",
    "otro": "Otro",
}


def follow_up_types(session: Session, *, active_only: bool = True) -> dict[str, str]:
    if session.scalar(select(func.count()).select_from(FollowUpType)) == 0:
        # Migration 0004 seeds them; an emptied table (a restore, a TRUNCATE) gets them back.
        session.add_all(FollowUpType(code=c, nombre=n, active=True) for c, n in DEFAULT_TYPES.items())
        session.flush()
    stmt = select(FollowUpType.code, FollowUpType.nombre)
    if active_only:
        stmt = stmt.where(FollowUpType.active.is_(True))
    return dict(session.execute(stmt.order_by(FollowUpType.code)).all())


def add_follow_up_type(session: Session, code: str, nombre: str) -> None:
    """Types are configurable: add one (codes are lower-case, never renamed)."""
    key = code.strip().lower()
    if not key or len(key) > 20 or not key.replace("_", "").isalnum():
        raise ValidationError("El código del tipo debe ser una palabra de hasta 20 letras.", code="TIPO_INVALIDO")
    existing = session.get(FollowUpType, key)
    if existing is not None:
        existing.nombre, existing.active = nombre, True
    else:
        session.add(FollowUpType(code=key, nombre=nombre, active=True))
    session.flush()


def _type(session: Session, code: str | None) -> str | None:
    if code is None:
        return None
    key = code.strip().lower()
    types = follow_up_types(session)
    if key not in types:
        raise ValidationError(f"Tipo de seguimiento desconocido: {code!r}. Opciones: {', '.join(types)}.",
                              code="TIPO_SEGUIMIENTO_INVALIDO")
    return key


def add_follow_up(
    session: Session,
    rfc: str,
    *,
    tipo: str,
    contacto: str,
    notes: str | None = None,
    documentos: list[str] | None = None,
    vendedor: str | None = None,
    promise_date: date | None = None,
    promise_amount: Decimal | None = None,
    promise_currency: str = "MXN",
    next_task_date: date | None = None,
    next_task_type: str | None = None,
    clock: Clock = system_clock,
) -> FollowUpView:
    """Record a collection action now; the follow-up file only grows forward in time."""
    customer = find_customer(session, rfc)
    kind = _type(session, tipo)
    assert kind is not None
    next_kind = _type(session, next_task_type)
    now = clock()
    today = local_date(now)
    newest = session.scalar(select(func.max(FollowUp.at)))
    if newest is not None and now < newest:
        raise ConflictError("No se puede registrar un seguimiento con fecha anterior al último registrado.",
                            code="SEGUIMIENTO_EN_EL_PASADO")
    if (promise_date is None) != (promise_amount is None):
        raise ValidationError("Una promesa de pago necesita fecha e importe.", code="PROMESA_INCOMPLETA")
    currency = promise_currency.strip().upper()
    if promise_amount is not None:
        if promise_amount <= 0:
            raise ValidationError("El importe prometido debe ser mayor que cero.", code="IMPORTE_INVALIDO")
        if not is_currency(currency):
            raise ValidationError(f"Moneda desconocida: {promise_currency!r}.", code="MONEDA_INVALIDA")
    if promise_date is not None and promise_date < today:
        raise ValidationError("La fecha de la promesa no puede ser anterior a hoy.", code="FECHA_EN_EL_PASADO")
    if next_task_date is not None and next_task_date < today:
        raise ValidationError("La fecha de la próxima tarea no puede ser anterior a hoy.",
                              code="FECHA_EN_EL_PASADO")
    doc_ids = _documents(session, customer, documentos or [])
    if promise_amount is not None and not doc_ids:
        # A promise is about some debt: without documents named, the open ones in its currency.
        doc_ids = list(session.scalars(
            select(Document.id).where(Document.customer_id == customer.id, Document.tipo == "I",
                                      Document.moneda == currency, Document.saldo > 0,
                                      Document.status != "cancelado").order_by(Document.vencimiento, Document.id)))
        if not doc_ids:
            raise ValidationError(f"El cliente no tiene documentos abiertos en {currency} para la promesa.",
                                  code="PROMESA_SIN_DOCUMENTOS")
    if vendedor is None:
        cond = session.get(CreditCondition, customer.id)
        vendedor = cond.vendedor if cond else None
    row = FollowUp(
        customer_id=customer.id, at=now, tipo=kind, vendedor=vendedor, contacto=contacto,
        notes=(notes or "").strip() or None, promise_date=promise_date, promise_amount=promise_amount,
        promise_currency=currency if promise_amount is not None else None,
        next_task_date=next_task_date, next_task_type=next_kind,
    )
    session.add(row)
    session.flush()
    for doc_id in doc_ids:
        session.add(FollowUpDocument(follow_up_id=row.id, document_id=doc_id))
    session.flush()
    return _views(session, [row])[0]


def _documents(session: Session, customer: Customer, refs: list[str]) -> list[int]:
    ids: list[int] = []
    for ref in refs:
        text = ref.strip().upper()
        doc = session.scalar(select(Document).where(Document.uuid == text))
        if doc is None:  # Serie-Folio as users know it
            for cand in session.scalars(select(Document).where(Document.customer_id == customer.id,
                                                               Document.tipo == "I")):
                if cand.serie_folio.upper() == text or (cand.folio or "").upper() == text:
                    doc = cand
                    break
        if doc is None or doc.customer_id != customer.id:
            raise NotFoundError(f"El documento {ref} no existe o no es de este cliente.",
                                code="DOCUMENTO_NO_ENCONTRADO")
        if doc.id not in ids:
            ids.append(doc.id)
    return ids


def _views(session: Session, rows: list[FollowUp]) -> list[FollowUpView]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    docs: dict[int, list[str]] = defaultdict(list)
    for fid, uuid in session.execute(
        select(FollowUpDocument.follow_up_id, Document.uuid)
        .join(Document, Document.id == FollowUpDocument.document_id)
        .where(FollowUpDocument.follow_up_id.in_(ids)).order_by(Document.id)
    ):
        docs[fid].append(uuid)
    closures = {c.follow_up_id: c for c in session.scalars(
        select(FollowUpClosure).where(FollowUpClosure.follow_up_id.in_(ids)))}
    customers = {c.id: c for c in session.scalars(
        select(Customer).where(Customer.id.in_({r.customer_id for r in rows})))}
    types = follow_up_types(session, active_only=False)
    files = {a.follow_up_id: _attachment_facts(*a) for a in session.execute(
        select(FollowUpAttachment.follow_up_id, FollowUpAttachment.id, FollowUpAttachment.nombre,
               FollowUpAttachment.mimetype, FollowUpAttachment.size, FollowUpAttachment.sha256,
               FollowUpAttachment.carta_tipo, FollowUpAttachment.fecha_corte)
        .where(FollowUpAttachment.follow_up_id.in_(ids)))}
    return [
        FollowUpView(r, customers[r.customer_id].key, customers[r.customer_id].nombre,
                     types.get(r.tipo, r.tipo), tuple(docs.get(r.id, ())), closures.get(r.id), files.get(r.id))
        for r in rows
    ]


def _attachment_facts(follow_up_id: int, att_id: int, nombre: str, mimetype: str, size: int, sha256: str,
                      carta_tipo: str | None, fecha_corte: date | None) -> dict[str, Any]:
    return {"id": att_id, "seguimiento": follow_up_id, "nombre": nombre, "mimetype": mimetype, "bytes": size,
            "sha256": sha256, "carta_tipo": carta_tipo,
            "fecha_corte": fecha_corte.isoformat() if fecha_corte else None}


def attach_file(session: Session, follow_up_id: int, nombre: str, content: bytes, *,
                mimetype: str = "application/pdf", carta_tipo: str | None = None,
                fecha_corte: date | None = None) -> FollowUpAttachment:
    """Keep a file with a follow-up (one per follow-up; read-only afterwards)."""
    if session.get(FollowUp, follow_up_id) is None:
        raise NotFoundError(f"No existe el seguimiento {follow_up_id}.", code="SEGUIMIENTO_NO_ENCONTRADO")
    if session.scalar(select(FollowUpAttachment.id).where(FollowUpAttachment.follow_up_id == follow_up_id)):
        raise ConflictError("El seguimiento ya tiene un archivo adjunto.", code=IMMUTABLE)
    row = FollowUpAttachment(follow_up_id=follow_up_id, nombre=nombre[:200], mimetype=mimetype[:100],
                             size=len(content), sha256=hashlib.sha256(content).hexdigest(), content=content,
                             carta_tipo=carta_tipo, fecha_corte=fecha_corte)
    session.add(row)
    session.flush()
    return row


def attachment_of(session: Session, follow_up_id: int) -> FollowUpAttachment:
    """The file kept with follow-up ``follow_up_id`` (NotFound when it has none).

    Looked up through the follow-up first: ``FollowUp`` carries the session's company
    limit (``db.scope``), so another company's letter is not found either.
    """
    visible = session.get(FollowUp, follow_up_id) is not None
    row = session.scalar(select(FollowUpAttachment).where(FollowUpAttachment.follow_up_id == follow_up_id)) \
        if visible else None
    if row is None:
        raise NotFoundError(f"El seguimiento {follow_up_id} no tiene archivo adjunto.", code="ADJUNTO_NO_ENCONTRADO")
    return row


def get_follow_up(session: Session, follow_up_id: int) -> FollowUpView:
    row = session.get(FollowUp, follow_up_id)
    if row is None:
        raise NotFoundError(f"No existe el seguimiento {follow_up_id}.", code="SEGUIMIENTO_NO_ENCONTRADO")
    return _views(session, [row])[0]


def letter_follow_up_today(session: Session, customer_id: int, carta_tipo: str, fecha_corte: date,
                           now: datetime) -> int | None:
    """The follow-up already logging this letter (kind, fecha de corte) today, if any."""
    day = local_date(now)
    start, end = _local_bounds(DateRange(day, day))
    return session.scalar(
        select(FollowUp.id).join(FollowUpAttachment, FollowUpAttachment.follow_up_id == FollowUp.id)
        .where(FollowUp.customer_id == customer_id, FollowUp.tipo == "carta", FollowUp.at >= start,
               FollowUp.at <= end, FollowUpAttachment.carta_tipo == carta_tipo,
               FollowUpAttachment.fecha_corte == fecha_corte)
        .order_by(FollowUp.id).limit(1))


def list_follow_ups(
    session: Session,
    *,
    rfc: str | None = None,
    rango: DateRange | None = None,
    tipo: str | None = None,
    estado: str | None = FollowUpStatus.PENDIENTE,
) -> list[FollowUpView]:
    """The file (``estado`` pendiente), the history (cerrado) or everything (None)."""
    stmt = select(FollowUp)
    if rfc:
        stmt = stmt.where(FollowUp.customer_id == find_customer(session, rfc).id)
    if rango is not None:
        start, end = _local_bounds(rango)
        stmt = stmt.where(FollowUp.at >= start, FollowUp.at <= end)
    if tipo:
        stmt = stmt.where(FollowUp.tipo == _type(session, tipo))
    closed = select(FollowUpClosure.follow_up_id)
    if estado == FollowUpStatus.PENDIENTE:
        stmt = stmt.where(FollowUp.id.not_in(closed))
    elif estado == FollowUpStatus.CERRADO:
        stmt = stmt.where(FollowUp.id.in_(closed))
    elif estado is not None:
        raise ValidationError(f"Estado desconocido: {estado!r}. Use pendiente o cerrado.", code="ESTADO_INVALIDO")
    return _views(session, list(session.scalars(stmt.order_by(FollowUp.at, FollowUp.id))))


def close_follow_ups(
    session: Session, rango: DateRange, *, actor: str, rfc: str | None = None, nota: str | None = None,
    clock: Clock = system_clock,
) -> list[int]:
    """Close the pending follow-ups recorded in ``rango`` (of ``rfc``): they go to history."""
    pending = list_follow_ups(session, rfc=rfc, rango=rango, estado=FollowUpStatus.PENDIENTE)
    now = clock()
    for view in pending:
        view.estado.check_move(FollowUpStatus.CERRADO)
        session.add(FollowUpClosure(follow_up_id=view.row.id, closed_at=now, closed_by=actor, nota=nota))
    session.flush()
    return [v.row.id for v in pending]


@dataclass(frozen=True)
class TasksReport:
    fecha: date
    realizados: dict[str, int]  # follow-ups recorded on the date, per type
    tareas_por_tipo: dict[str, int]  # tasks due by the date, per type
    tareas: tuple[FollowUpView, ...]  # pending follow-ups whose next task is due by the date

    def to_dict(self) -> dict[str, Any]:
        return {
            "fecha": self.fecha.isoformat(), "realizados_por_tipo": self.realizados,
            "tareas_por_tipo": self.tareas_por_tipo, "tareas": [t.to_dict() for t in self.tareas],
        }


def tasks(session: Session, on: date, *, tipo: str | None = None, rfc: str | None = None,
          vendedor: str | None = None) -> TasksReport:
    """What was done on ``on`` by type, and the pending next tasks due on or before it."""
    done = list_follow_ups(session, rfc=rfc, rango=DateRange(on, on), tipo=tipo, estado=None)
    stmt = select(FollowUp).where(FollowUp.next_task_date.is_not(None), FollowUp.next_task_date <= on,
                                  FollowUp.id.not_in(select(FollowUpClosure.follow_up_id)))
    if rfc:
        stmt = stmt.where(FollowUp.customer_id == find_customer(session, rfc).id)
    if tipo:
        stmt = stmt.where(func.coalesce(FollowUp.next_task_type, FollowUp.tipo) == _type(session, tipo))
    if vendedor:
        stmt = stmt.where(FollowUp.vendedor == vendedor)
    pending = _views(session, list(session.scalars(stmt.order_by(FollowUp.next_task_date, FollowUp.id))))
    if vendedor:
        done = [d for d in done if d.row.vendedor == vendedor]
    return TasksReport(
        fecha=on,
        realizados=dict(sorted(Counter(d.row.tipo for d in done).items())),
        tareas_por_tipo=dict(sorted(Counter(p.row.next_task_type or p.row.tipo for p in pending).items())),
        tareas=tuple(pending),
    )


def promise_outcomes(session: Session, as_of: date, *, rfc: str | None = None,
                     only_broken: bool = False) -> list[PromiseOutcome]:
    # Only customers that promised something matter: loading the whole portfolio to
    # evaluate a handful of promises cost seconds on a large ledger.
    promised = select(FollowUp.customer_id).where(FollowUp.promise_date.is_not(None)).distinct()
    if rfc:
        promised = promised.where(FollowUp.customer_id == find_customer(session, rfc).id)
    ids = tuple(sorted(session.scalars(promised)))
    if not ids:
        return []
    portfolio = load_portfolio(session, Filters(customer_ids=ids), until=as_of, with_payments=False)
    if only_broken:
        return broken_promises(portfolio.promises, portfolio.applications, as_of)
    return evaluate_promises(portfolio.promises, portfolio.applications, as_of)


__all__ = [
    "FollowUpView",
    "TasksReport",
    "add_follow_up",
    "add_follow_up_type",
    "attach_file",
    "attachment_of",
    "close_follow_ups",
    "delete_follow_up",
    "edit_follow_up",
    "follow_up_types",
    "get_follow_up",
    "letter_follow_up_today",
    "list_follow_ups",
    "promise_outcomes",
    "tasks",
]
