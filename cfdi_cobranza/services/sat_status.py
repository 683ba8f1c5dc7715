"""A CFDI cancelled at the SAT, and the SAT's CFDI status service run over the ledger.

``mark_cancelled`` is the one way a document becomes ``cancelado``, whoever found out:
the status service (``check_status``), the bulk download's metadata (``fuente="metadata"``,
pairs of UUID and cancellation date) or a user (``cobranza document cancelled``). It

* moves the document to ``cancelado`` (``check_move``) with its cancellation date; its
  saldo becomes zero, so it leaves aging, due dates, projection and credit exposure;
* when an imported CFDI substitutes it (``TipoRelacion`` 04, same customer and currency),
  moves each payment application to the substitute while the substitute's balance
  allows it;
* reverses every other application: the payment's money comes back as the customer's
  unapplied balance and the payment is flagged for review (``payment.revisar``);
* lists the live REPs that cite the document: they must be cancelled or substituted;
* writes one audit entry with all of it. Marking an already cancelled document again
  changes nothing (the cancellation date is filled in if it was missing), except that a
  substitute imported since takes the applications still waiting for one.

A cancelled credit note or payment complement stops crediting the invoices it named.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import (
    AuditEntry,
    Company,
    Credit,
    Customer,
    Document,
    DocumentRelation,
    Payment,
    Rep,
    RepLine,
)
from cfdi_cobranza.db.models.sat import SatStatusCheck
from cfdi_cobranza.domain.states import LIVE_REP_STATUSES, DocumentStatus, PaymentStatus
from cfdi_cobranza.errors import CobranzaError, NotFoundError, ValidationError
from cfdi_cobranza.sat import consulta as sat_consulta
from cfdi_cobranza.sat import readonly_http
from cfdi_cobranza.sat.consulta import EstadoCfdi
from cfdi_cobranza.sat.readonly_http import ReadPolicy
from cfdi_cobranza.services import balances
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.payments import renumber_instalments

FUENTES = ("consulta", "metadata", "usuario")
SUSTITUCION = "04"


@dataclass(frozen=True)
class MovedApplication:
    payment_id: int
    credit_id: int
    new_credit_id: int | None  # None: reversed, waiting for the user
    amount: Decimal
    moneda: str


@dataclass(frozen=True)
class Cancellation:
    uuid: str
    fecha_cancelacion: date | None
    fuente: str
    ya_cancelado: bool
    sustituto: str | None = None
    movidas: tuple[MovedApplication, ...] = ()
    revertidas: tuple[MovedApplication, ...] = ()
    reps_por_cancelar: tuple[str, ...] = ()
    pagos_a_revisar: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("movidas", "revertidas"):
            data[key] = [{**m, "amount": str(m["amount"])} for m in data[key]]
        data["fecha_cancelacion"] = self.fecha_cancelacion.isoformat() if self.fecha_cancelacion else None
        return data


def _audit(session: Session, clock: Clock, actor: str, action: str, entity: str, entity_id: Any,
           detail: dict[str, Any]) -> None:
    session.add(AuditEntry(at=clock(), actor=actor, action=action, entity=entity, entity_id=str(entity_id),
                           detail=json.dumps(detail, ensure_ascii=False, default=str)))


def _live_reps_citing(session: Session, credit_ids: Sequence[int]) -> list[str]:
    if not credit_ids:
        return []
    reps = session.scalars(select(Rep).join(RepLine, RepLine.rep_id == Rep.id)
                           .where(RepLine.credit_id.in_(list(credit_ids)), Rep.status.in_(LIVE_REP_STATUSES))
                           .distinct().order_by(Rep.id)).all()
    return [r.uuid or f"{r.serie}-{r.folio} (en envío)" for r in reps]


def _substitute(session: Session, doc: Document) -> Document | None:
    """The live invoice of the same customer and currency that cites ``doc`` with TipoRelacion 04."""
    return session.scalar(
        select(Document).join(DocumentRelation, DocumentRelation.document_id == Document.id)
        .where(DocumentRelation.related_uuid == doc.uuid, DocumentRelation.tipo_relacion == SUSTITUCION,
               Document.tipo == "I", Document.status == DocumentStatus.VIGENTE,
               Document.customer_id == doc.customer_id, Document.moneda == doc.moneda, Document.id != doc.id)
        .order_by(Document.fecha_timbrado, Document.id).limit(1).with_for_update())


def _cancel_prefix(uuid: str) -> str:
    return f"CFDI {uuid} cancelado en el SAT"


_NO_ROOM = "El saldo del CFDI sustituto no alcanzó."


def _review_note(uuid: str) -> str:
    return f"La factura {uuid} fue cancelada en el SAT; su aplicación volvió como saldo a favor."


def _move(session: Session, credit: Credit, doc: Document, substitute: Document, actor: str) -> MovedApplication:
    """A new application of the same payment and amounts to ``substitute``; ``credit`` (already
    reversed) says where it went."""
    new = Credit(kind="pago", target_uuid=substitute.uuid, document_id=substitute.id, source_line=0,
                 amount=credit.amount, fecha=credit.fecha, payment_id=credit.payment_id, amount_p=credit.amount_p,
                 equivalencia_dr=credit.equivalencia_dr, requires_rep=substitute.metodo_pago == "PPD",
                 warning=credit.warning, note=f"Trasladada de {doc.uuid} (sustituido, TipoRelacion 04)",
                 created_by=actor)
    session.add(new)
    credit.reverse_reason = f"{(credit.reverse_reason or _cancel_prefix(doc.uuid))[:420]}; trasladada a {substitute.uuid}"
    session.flush()
    return MovedApplication(credit.payment_id or 0, credit.id, new.id, credit.amount, doc.moneda)


def _move_waiting_to_substitute(session: Session, doc: Document, fuente: str, *, actor: str,
                                clock: Clock) -> Cancellation:
    """For an invoice already cancelled: the applications its cancellation sent back as
    unapplied balance move to a substitute imported since, while the payment still has
    that balance unapplied and the substitute's balance allows it."""
    substitute = _substitute(session, doc) if doc.tipo == "I" else None
    if substitute is None:
        return Cancellation(doc.uuid, doc.fecha_cancelacion, fuente, True)
    waiting = session.scalars(select(Credit).where(
        Credit.document_id == doc.id, Credit.kind == "pago", Credit.reversed_at.is_not(None),
        Credit.reverse_reason.startswith(_cancel_prefix(doc.uuid), autoescape=True),
        ~Credit.reverse_reason.contains("; trasladada a ", autoescape=True)).order_by(Credit.id).with_for_update()).all()
    room = substitute.saldo
    moved: list[MovedApplication] = []
    for credit in waiting:
        payment = session.get(Payment, credit.payment_id, with_for_update=True) if credit.payment_id else None
        amount_p = credit.amount_p or Decimal(0)
        if (payment is None or payment.status != PaymentStatus.ACTIVO or payment.monto - payment.aplicado < amount_p
                or credit.amount > room):
            continue
        room -= credit.amount
        payment.aplicado = payment.aplicado + amount_p
        moved.append(_move(session, credit, doc, substitute, actor))
        if payment.revisar:
            payment.revisar = (payment.revisar.replace(f"{_review_note(doc.uuid)} {_NO_ROOM}", "")
                               .replace(_review_note(doc.uuid), "").strip() or None)
    if not moved:
        return Cancellation(doc.uuid, doc.fecha_cancelacion, fuente, True)
    balances.refresh_saldo(session, substitute)
    renumber_instalments(session, substitute)
    result = Cancellation(doc.uuid, doc.fecha_cancelacion, fuente, True, substitute.uuid, tuple(moved))
    _audit(session, clock, actor, "aplicaciones_a_sustituto", "document", doc.uuid,
           {"sustituto": substitute.uuid, "movidas": result.to_dict()["movidas"]})
    return result


def parse_fuente(fuente: str) -> str:
    if fuente not in FUENTES:
        raise ValidationError(f"Fuente de cancelación desconocida: {fuente}.", code="FUENTE_INVALIDA")
    return fuente


def mark_cancelled(
    session: Session,
    uuid: str,
    fecha_cancelacion: date | None,
    *,
    fuente: str,
    motivo: str | None = None,
    actor: str = "sistema",
    clock: Clock = system_clock,
) -> Cancellation:
    """Record that the SAT cancelled ``uuid`` (see the module docstring); audited."""
    parse_fuente(fuente)
    if fuente == "usuario" and not (motivo and motivo.strip()):
        raise ValidationError("Indique el motivo (--reason) de la cancelación.", code="MOTIVO_REQUERIDO")
    key = uuid.strip().upper()
    doc = session.scalar(select(Document).where(Document.uuid == key).with_for_update()
                         .execution_options(populate_existing=True))
    if doc is None:
        raise NotFoundError(f"No existe el CFDI {key} en el libro.", code="DOCUMENTO_NO_ENCONTRADO")
    if doc.status == DocumentStatus.CANCELADO:
        if doc.fecha_cancelacion is None and fecha_cancelacion is not None:
            doc.fecha_cancelacion = fecha_cancelacion
            _audit(session, clock, actor, "fecha_cancelacion_sat", "document", doc.uuid,
                   {"fecha_cancelacion": fecha_cancelacion, "fuente": fuente})
        # The substitute may have arrived since: the applications still waiting move now.
        return _move_waiting_to_substitute(session, doc, fuente, actor=actor, clock=clock)
    DocumentStatus(doc.status).check_move(DocumentStatus.CANCELADO)
    now = clock()
    reason = f"CFDI {doc.uuid} cancelado en el SAT ({fuente})" + (f": {motivo.strip()}" if motivo else "")
    moved: list[MovedApplication] = []
    reversed_: list[MovedApplication] = []
    to_review: dict[int, Payment] = {}
    touched: dict[int, Document] = {}
    substitute = None
    reps: list[str] = []

    if doc.tipo == "I":
        credits = session.scalars(select(Credit).where(Credit.document_id == doc.id, Credit.kind == "pago",
                                                       Credit.reversed_at.is_(None))
                                  .order_by(Credit.id).with_for_update()).all()
        reps = _live_reps_citing(session, [c.id for c in credits])
        substitute = _substitute(session, doc) if credits else None
        room = substitute.saldo if substitute is not None else Decimal(0)
        for credit in credits:
            payment = session.get(Payment, credit.payment_id, with_for_update=True) if credit.payment_id else None
            credit.reversed_at = now
            credit.reversed_by = actor
            credit.reverse_reason = reason[:500]
            if substitute is not None and credit.amount <= room:
                room -= credit.amount
                moved.append(_move(session, credit, doc, substitute, actor))
                touched[substitute.id] = substitute
                continue
            if payment is not None:
                payment.aplicado = payment.aplicado - (credit.amount_p or Decimal(0))
                to_review[payment.id] = payment
            reversed_.append(MovedApplication(credit.payment_id or 0, credit.id, None, credit.amount, doc.moneda))
        for payment in to_review.values():
            note = _review_note(doc.uuid) + (f" {_NO_ROOM}" if substitute is not None else "")
            payment.revisar = ((payment.revisar + " " if payment.revisar else "") + note)[:500]
    else:
        # A cancelled credit note or complement no longer credits the invoices it named.
        for credit in session.scalars(select(Credit).where(Credit.source_document_id == doc.id,
                                                           Credit.reversed_at.is_(None)).with_for_update()):
            credit.reversed_at = now
            credit.reversed_by = actor
            credit.reverse_reason = reason[:500]
            if credit.document_id is not None:
                target = session.get(Document, credit.document_id, with_for_update=True)
                if target is not None:
                    touched[target.id] = target

    doc.status = DocumentStatus.CANCELADO
    doc.estado_sat = "Cancelado"
    doc.fecha_cancelacion = fecha_cancelacion
    session.flush()
    balances.refresh_saldo(session, doc)
    for other in touched.values():
        balances.refresh_saldo(session, other)
        renumber_instalments(session, other)
    result = Cancellation(
        doc.uuid, fecha_cancelacion, fuente, False, substitute.uuid if substitute is not None and moved else None,
        tuple(moved), tuple(reversed_), tuple(reps), tuple(sorted(to_review)),
    )
    _audit(session, clock, actor, "cancelado_en_sat", "document", doc.uuid,
           {"fuente": fuente, "motivo": motivo, **{k: v for k, v in result.to_dict().items()
                                                  if k not in ("uuid", "fuente", "ya_cancelado")}})
    return result


def mark_cancelled_from_metadata(session: Session, pairs: Iterable[tuple[str, date | None]], *,
                                 actor: str = "sistema", clock: Clock = system_clock) -> list[Cancellation]:
    """The bulk download's (uuid, fecha_cancelacion) pairs; UUIDs not in the ledger are skipped."""
    out = []
    for uuid, fecha in pairs:
        if session.scalar(select(Document.id).where(Document.uuid == uuid.strip().upper())) is None:
            continue
        out.append(mark_cancelled(session, uuid, fecha, fuente="metadata", actor=actor, clock=clock))
    return out


def reps_citing_cancelled(session: Session) -> list[dict[str, str]]:
    """Live REPs whose applications name a cancelled invoice: to cancel or substitute."""
    rows = session.execute(
        select(Rep.uuid, Rep.serie, Rep.folio, Rep.status, Document.uuid, Document.fecha_cancelacion)
        .join(RepLine, RepLine.rep_id == Rep.id).join(Credit, Credit.id == RepLine.credit_id)
        .join(Document, Document.uuid == Credit.target_uuid)
        .where(Rep.status.in_(LIVE_REP_STATUSES), Document.status == DocumentStatus.CANCELADO)
        .distinct().order_by(Rep.serie, Rep.folio)).all()
    return [{"rep": r_uuid or f"{serie}-{folio}", "serie_folio": f"{serie}-{folio}", "estado_rep": status,
             "factura_cancelada": d_uuid, "fecha_cancelacion": f.isoformat() if f else ""}
            for r_uuid, serie, folio, status, d_uuid, f in rows]


# --------------------------------------------------------------------------- the status service

@dataclass(frozen=True)
class StatusAnswer:
    uuid: str
    consultado: datetime
    estado: str | None
    es_cancelable: str | None
    estatus_cancelacion: str | None
    validacion_efos: str | None
    codigo_estatus: str | None
    error: dict[str, Any] | None = None
    cancelacion: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["consultado"] = self.consultado.isoformat()
        return data


@dataclass(frozen=True)
class StatusRun:
    respuestas: list[StatusAnswer] = field(default_factory=list)
    omitidos: int = 0  # asked recently, skipped (resuming an interrupted run)

    def to_dict(self) -> dict[str, Any]:
        return {"respuestas": [a.to_dict() for a in self.respuestas], "omitidos": self.omitidos,
                "errores": sum(1 for a in self.respuestas if a.error)}


Asker = Callable[[str, str, str, str], EstadoCfdi]  # uuid, RFC emisor, RFC receptor, Total as written


def documents_to_check(session: Session, uuids: Sequence[str], *, open_only: bool) -> list[Document]:
    if uuids:
        keys = [u.strip().upper() for u in uuids]
        docs = session.scalars(select(Document).where(Document.uuid.in_(keys))).all()
        missing = sorted(set(keys) - {d.uuid for d in docs})
        if missing:
            raise NotFoundError(f"No existe el CFDI {missing[0]} en el libro.", code="DOCUMENTO_NO_ENCONTRADO")
        return sorted(docs, key=lambda d: keys.index(d.uuid))
    if not open_only:
        raise ValidationError("Indique --uuid o --open.", code="SIN_DOCUMENTOS")
    return list(session.scalars(select(Document).where(
        Document.tipo == "I", Document.status == DocumentStatus.VIGENTE, Document.saldo > 0).order_by(Document.id)))


def _last_checked(session: Session, doc_id: int) -> datetime | None:
    return session.scalar(select(func.max(SatStatusCheck.checked_at))
                          .where(SatStatusCheck.document_id == doc_id, SatStatusCheck.error_code.is_(None)))


def check_status(
    session_factory: Callable[[], Session],
    doc_ids: Sequence[int],
    ask: Asker,
    *,
    min_interval: float = 1.0,
    skip_checked_since: datetime | None = None,
    actor: str = "sat-status",
    clock: Clock = system_clock,
    sleep: Callable[[float], None] = time.sleep,
) -> StatusRun:
    """Ask the SAT about each document, one transaction per document (an interrupted run
    keeps what it had asked); at most one request every ``min_interval`` seconds. A
    document answered successfully since ``skip_checked_since`` is skipped, so a rerun
    resumes. A ``Cancelado`` answer calls ``mark_cancelled`` (fuente ``consulta``)."""
    answers: list[StatusAnswer] = []
    skipped = 0
    last_call: float | None = None
    for doc_id in doc_ids:
        with session_factory() as session, session.begin():
            doc = session.get(Document, doc_id)
            if doc is None:
                continue
            if skip_checked_since is not None:
                last = _last_checked(session, doc.id)
                if last is not None and last >= skip_checked_since:
                    skipped += 1
                    continue
            company = session.get(Company, doc.company_id)
            customer = session.get(Customer, doc.customer_id)
            assert company is not None and customer is not None
            if last_call is not None:
                wait = min_interval - (time.monotonic() - last_call)
                if wait > 0:
                    sleep(wait)
            last_call = time.monotonic()
            now = clock()
            try:
                total = sat_consulta.total_as_written(doc.xml) or format(doc.total.normalize(), "f")
                answer = ask(doc.uuid, company.rfc, customer.rfc, total)
            except CobranzaError as exc:
                session.add(SatStatusCheck(document_id=doc.id, checked_at=now, error_code=exc.code,
                                           error_message=exc.message[:500]))
                answers.append(StatusAnswer(doc.uuid, now, None, None, None, None, None, error=exc.to_dict()))
                continue
            session.add(SatStatusCheck(
                document_id=doc.id, checked_at=now, estado=answer.estado[:30],
                codigo_estatus=(answer.codigo_estatus or "")[:200] or None,
                es_cancelable=answer.es_cancelable, estatus_cancelacion=answer.estatus_cancelacion,
                validacion_efos=answer.validacion_efos))
            doc.estado_sat = answer.estado[:30]
            cancel = None
            if answer.cancelado:
                cancel = mark_cancelled(session, doc.uuid, now.date(), fuente="consulta",
                                        motivo=f"Estado «{answer.estado}» del servicio de consulta",
                                        actor=actor, clock=clock).to_dict()
            answers.append(StatusAnswer(doc.uuid, now, answer.estado, answer.es_cancelable,
                                        answer.estatus_cancelacion, answer.validacion_efos, answer.codigo_estatus,
                                        cancelacion=cancel))
    return StatusRun(answers, skipped)


CONSULTA_URL_ENV = "COBRANZA_SAT_CONSULTA_URL"


def sat_asker(url: str | None = None, *, policy: ReadPolicy | None = None) -> Asker:
    """The SAT's status service over our transport (``COBRANZA_SAT_CONSULTA_URL`` overrides
    the production address: the SAT's test instance, or a loopback fake in tests)."""
    policy = policy or ReadPolicy()
    transport = readonly_http.transport_for(policy)
    target = url or os.environ.get(CONSULTA_URL_ENV) or sat_consulta.URLS["production"]

    def ask(uuid: str, rfc_emisor: str, rfc_receptor: str, total: str) -> EstadoCfdi:
        return sat_consulta.consultar(transport, target, uuid, rfc_emisor, rfc_receptor, total, policy=policy)

    return ask
