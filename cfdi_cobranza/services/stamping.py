"""Issue, stamp, cancel and substitute payment complements (REP).

The flow for one REP, built so that a failure never leaves anything half-done and a
retry never stamps twice:

1. In one transaction: lock the payments, gather their applications not yet covered
   by a live REP, compute every Pagos 2.0 amount (``domain.pagos20``), write the XML,
   validate it (XSD + CRP rules; any ERROR refuses and nothing is written), sign it
   with the company's CSD, take the next folio under a row lock and save the REP as
   ``enviando`` with the signed bytes and a fixed idempotency key. Commit.
2. Call the PAC with those bytes and that key, outside any transaction.
3. Stamped: save the stamped XML (evidence, with its SHA-256) as ``timbrado``.
   Refused by the PAC: the REP becomes ``rechazado`` with the PAC's code and message,
   its applications are pending again. No answer after sending: it stays
   ``enviando``; ``retry`` sends the same bytes with the same key and the PAC answers
   with the stamp it already made. PAC unreachable before sending: the REP is dropped
   (nothing left) and the folio, if still the last one, is given back.

Month-end runs (``issue_each``, ``issue_all_pending``) go through ``issue_many``: the
same three steps for up to 50 REPs at a time, step 1 with a handful of queries for the
whole chunk and one transaction for it, step 3 likewise.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, undefer

from cfdi_cobranza.cfdi import rep_writer
from cfdi_cobranza.cfdi.cadena import cadena_original
from cfdi_cobranza.cfdi.parser import parse_xml
from cfdi_cobranza.cfdi.reader import read_invoice_for_pagos
from cfdi_cobranza.db.models import (
    AuditEntry,
    Company,
    CompanyCsd,
    Credit,
    Customer,
    Document,
    FolioSequence,
    Payment,
    Rep,
    RepLine,
)
from cfdi_cobranza.db.session import session_factory
from cfdi_cobranza.domain import pagos20
from cfdi_cobranza.domain.invoice_facts import invoice_from_facts
from cfdi_cobranza.errors import (
    CertificateError,
    CobranzaError,
    ConflictError,
    NotFoundError,
    PacError,
    ValidationError,
)
from cfdi_cobranza.pac.base import (
    CancelRequest,
    CsdCredentials,
    Pac,
    StampOutcome,
    StampRequest,
    StampResult,
    stamp_each,
    stamp_lane,
)
from cfdi_cobranza.rules import errors_only, validate_rep
from cfdi_cobranza.rules.lane import ValidationLane, open_validation_lane
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.rep_links import LIVE_STATUSES
from cfdi_cobranza.signing.csd import Certificate, Signer, load_csd
from cfdi_cobranza.warmup import warm_up

MEXICO = ZoneInfo("America/Mexico_City")
UNREACHABLE_CODES = {"PAC_NO_DISPONIBLE"}
# Failures after the request left: the PAC may have stamped, so the REP stays in flight
# and ``retry`` asks again with the same bytes and key.
AMBIGUOUS_CODES = {"PAC_SIN_RESPUESTA", "PAC_RESPUESTA_INVALIDA"}


# --------------------------------------------------------------------------- CSD


def register_csd(session: Session, company_rfc: str, cer: bytes, key: bytes, password: str, box: SecretBox,
                 *, today: date, clock: Clock = system_clock) -> CompanyCsd:
    """Check a CSD (password, key match, CSD not FIEL, in force, company's RFC) and store it sealed."""
    company = session.scalar(select(Company).where(Company.rfc == company_rfc.strip().upper()))
    if company is None:
        raise NotFoundError(f"No hay ninguna empresa con RFC {company_rfc}.", code="EMPRESA_NO_ENCONTRADA")
    cert, _signer = load_csd(cer, key, password, rfc=company.rfc, today=today)
    for old in session.scalars(select(CompanyCsd).where(CompanyCsd.company_id == company.id, CompanyCsd.active)):
        old.active = False
    csd = CompanyCsd(
        company_id=company.id, no_certificado=cert.no_certificado, certificate_der=cert.der,
        key_sealed=box.seal(key), password_sealed=box.seal(password.encode("utf-8")),
        valid_from=cert.valid_from.date(), valid_to=cert.valid_to.date(), active=True, created_at=clock(),
    )
    session.add(csd)
    session.flush()
    return csd


@dataclass
class LoadedCsd:
    certificate: Certificate
    signer: Signer
    credentials: CsdCredentials


def company_csd(session: Session, company: Company, box: SecretBox, *, today: date) -> LoadedCsd:
    csd = session.scalar(select(CompanyCsd).where(CompanyCsd.company_id == company.id, CompanyCsd.active))
    if csd is None:
        raise CertificateError(
            f"La empresa {company.rfc} no tiene CSD registrado: use «cobranza company csd --rfc {company.rfc} "
            "--cer ARCHIVO.cer --key ARCHIVO.key».", code="CSD_NO_REGISTRADO")
    key = box.open(csd.key_sealed)
    password = box.open(csd.password_sealed).decode("utf-8")
    # Checked when it was registered and stored sealed (authenticated): no RSA re-check;
    # the match with the certificate, its validity today and its RFC are checked again.
    cert, signer = load_csd(csd.certificate_der, key, password, rfc=company.rfc, today=today, checked=True)
    return LoadedCsd(cert, signer, CsdCredentials(csd.certificate_der, key, password))


# --------------------------------------------------------------------------- folios


def folio_sequence(session: Session, company_id: int, serie: str) -> FolioSequence:
    """The folio sequence of ``serie``, created if new, locked (row lock) until commit."""
    for _ in range(3):
        seq = session.scalar(select(FolioSequence).where(FolioSequence.company_id == company_id,
                                                         FolioSequence.serie == serie).with_for_update())
        if seq is not None:
            return seq
        try:
            with session.begin_nested():
                session.add(FolioSequence(company_id=company_id, serie=serie, next_folio=1))
        except IntegrityError:
            pass  # another transaction created it first: lock theirs
    raise ConflictError("No se pudo reservar un folio; intente de nuevo.", code="FOLIO_NO_DISPONIBLE")


# --------------------------------------------------------------------------- pending


def deadline_for(fecha_pago: date, day: int = 5) -> date:
    """The REP is due by ``day`` of the month after the payment (RMF 2.7.1.32: the 5th)."""
    year, month = (fecha_pago.year + 1, 1) if fecha_pago.month == 12 else (fecha_pago.year, fecha_pago.month + 1)
    return date(year, month, day)


def _covered_credit_ids(session: Session, credit_ids: Iterable[int]) -> set[int]:
    ids = list(credit_ids)
    if not ids:
        return set()
    return set(session.scalars(
        select(RepLine.credit_id).join(Rep, Rep.id == RepLine.rep_id)
        .where(RepLine.credit_id.in_(ids), Rep.status.in_(LIVE_STATUSES))
    ))


def _rep_credits(session: Session, payment_ids: Sequence[int]) -> dict[int, list[Credit]]:
    """Live applications that need a REP and no live REP covers yet, per payment."""
    credits = session.scalars(
        select(Credit).where(Credit.payment_id.in_(payment_ids), Credit.kind == "pago",
                             Credit.reversed_at.is_(None), Credit.requires_rep.is_(True))
        .order_by(Credit.id)
    ).all()
    covered = _covered_credit_ids(session, [c.id for c in credits])
    out: dict[int, list[Credit]] = defaultdict(list)
    for c in credits:
        if c.id not in covered and c.payment_id is not None:
            out[c.payment_id].append(c)
    return out


@dataclass
class PendingPayment:
    payment_id: int
    customer_id: int
    company_id: int
    customer_rfc: str
    customer_nombre: str | None
    fecha_pago: datetime
    moneda: str
    monto: Decimal
    documentos: int
    deadline: date
    days_left: int
    late: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id, "customer_rfc": self.customer_rfc, "customer_nombre": self.customer_nombre,
            "fecha_pago": self.fecha_pago.isoformat(), "moneda": self.moneda, "monto": format(self.monto, "f"),
            "documentos": self.documentos, "deadline": self.deadline.isoformat(), "days_left": self.days_left,
            "late": self.late,
        }


def pending(session: Session, *, today: date, deadline_day: int = 5) -> list[PendingPayment]:
    """Payments on PPD invoices without a live REP, with the deadline and days left."""
    payment_ids = list(session.scalars(
        select(Credit.payment_id).where(Credit.kind == "pago", Credit.reversed_at.is_(None),
                                        Credit.requires_rep.is_(True), Credit.payment_id.is_not(None)).distinct()
    ))
    by_payment = _rep_credits(session, [p for p in payment_ids if p is not None])
    out = []
    for pid, credits in sorted(by_payment.items()):
        payment = session.get(Payment, pid)
        assert payment is not None
        customer = session.get(Customer, payment.customer_id)
        assert customer is not None
        deadline = deadline_for(payment.fecha_pago.date(), deadline_day)
        days_left = (deadline - today).days
        out.append(PendingPayment(pid, customer.id, payment.company_id, customer.rfc, customer.nombre, payment.fecha_pago, payment.moneda,
                                  payment.monto, len(credits), deadline, days_left, days_left < 0))
    out.sort(key=lambda p: (p.deadline, p.payment_id))
    return out


# --------------------------------------------------------------------------- building


@dataclass
class Finding:
    code: str
    severity: str
    message: str
    location: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message, "location": self.location}


@dataclass
class IssueResult:
    rep_id: int | None
    status: str
    uuid: str | None = None
    serie: str | None = None
    folio: int | None = None
    sandbox: bool = False
    findings: list[Finding] = field(default_factory=list)
    xml: bytes | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rep_id": self.rep_id, "status": self.status, "uuid": self.uuid, "serie": self.serie,
                "folio": self.folio, "sandbox": self.sandbox, "message": self.message,
                "findings": [f.to_dict() for f in self.findings]}


class RepRefused(CobranzaError):
    """The REP cannot leave: validation findings, PAC rejection, nothing to complement."""

    code = "REP_RECHAZADO"

    def __init__(self, message: str, findings: Sequence[Finding] = (), *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.findings = list(findings)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["findings"] = [f.to_dict() for f in self.findings]
        return data


InvoiceCache = dict[tuple[int, str], pagos20.Invoice]
_Row = dict[str, Any]  # the columns of a new ``rep`` row (its ``id`` once inserted)
_REP_TABLE = cast(Table, Rep.__table__)
_INVOICE_CACHE_MAX = 4096


def _invoice(doc: Document, cache: InvoiceCache | None = None) -> pagos20.Invoice:
    # What the importer stored beside the XML, when it is for these very bytes
    # (domain.invoice_facts); otherwise the stored bytes, the evidence, are read again.
    # ``cache`` (a Stamper's) keeps the result per document id + SHA-256 of those bytes:
    # an invoice paid in parts is read once, and changed bytes are read again.
    key = (doc.id, doc.sha256)
    found = None if cache is None else cache.get(key)
    if found is None:
        found = invoice_from_facts(doc.pagos_facts, doc.sha256) or read_invoice_for_pagos(parse_xml(doc.xml))
        if cache is not None:
            _remember(cache, key, found)
    return found


def _remember(cache: InvoiceCache, key: tuple[int, str], invoice: pagos20.Invoice) -> None:
    """``cache[key] = invoice``, the oldest entry evicted once it holds ``_INVOICE_CACHE_MAX``."""
    if len(cache) >= _INVOICE_CACHE_MAX:
        cache.pop(next(iter(cache)))
    cache[key] = invoice


def _facts_into_cache(cache: InvoiceCache, docs: Sequence[Document]) -> list[int]:
    """Put in ``cache`` the stored facts of each of ``docs`` not already there; returns the
    ids of those ``_invoice`` will have to read from their XML: no usable facts, or an
    entry this call had to evict."""
    for doc in docs:
        key = (doc.id, doc.sha256)
        if key in cache:
            cache[key] = cache.pop(key)  # used again: the newest, evicted last
            continue
        found = invoice_from_facts(doc.pagos_facts, doc.sha256)
        if found is not None:
            _remember(cache, key, found)
    return [doc.id for doc in docs if (doc.id, doc.sha256) not in cache]


def _paid_before_all(session: Session, credits: Sequence[Credit]) -> dict[int, Decimal]:
    """For each credit, what earlier parcialidades of its invoice paid (one query for all)."""
    doc_ids = {c.document_id for c in credits}
    rows = session.execute(
        select(Credit.id, Credit.document_id, Credit.num_parcialidad, Credit.amount)
        .where(Credit.document_id.in_(doc_ids), Credit.reversed_at.is_(None),
               Credit.kind.in_(("pago", "complemento")))
    ).all()
    by_doc: dict[int | None, list[tuple[int, int, Decimal]]] = defaultdict(list)
    for cid, did, num, amount in rows:
        by_doc[did].append((cid, num or 0, amount))
    out: dict[int, Decimal] = {}
    for credit in credits:
        n = credit.num_parcialidad or 0
        out[credit.id] = sum((amount for cid, num, amount in by_doc.get(credit.document_id, ())
                              if cid != credit.id and num < n), Decimal(0))
    return out


def _paid_before(session: Session, credit: Credit) -> Decimal:
    return _paid_before_all(session, [credit])[credit.id]


def _group(session: Session, payment: Payment, credits: Sequence[Credit],
           invoices: InvoiceCache | None = None, *, docs: dict[int, Document] | None = None,
           paid_before: dict[int, Decimal] | None = None) -> pagos20.PaymentGroup:
    """The domain input of one payment; ``docs``/``paid_before``: preloaded for a whole batch."""
    apps = []
    if docs is None:
        docs = {d.id: d for d in session.scalars(
            select(Document).where(Document.id.in_({c.document_id for c in credits})))}
    if paid_before is None:
        paid_before = _paid_before_all(session, credits)
    for c in credits:
        doc = docs.get(c.document_id) if c.document_id is not None else None
        if doc is None:
            raise NotFoundError(f"La factura {c.target_uuid} ya no está en el libro.", code="DOCUMENTO_NO_ENCONTRADO")
        if doc.status == "cancelado":
            raise RepRefused(f"La factura {doc.uuid} está cancelada; no se le puede emitir complemento.",
                             code="DOCUMENTO_CANCELADO")
        state = pagos20.InvoiceState(
            num_parcialidades_previas=(c.num_parcialidad or 1) - 1,
            imp_saldo_ant=c.imp_saldo_ant if c.imp_saldo_ant is not None else doc.total,
            pagado_previo=paid_before[c.id],
        )
        apps.append(pagos20.Application(_invoice(doc, invoices), c.amount, state, c.equivalencia_dr))
    pay = pagos20.PaymentInput(
        fecha_pago=payment.fecha_pago, forma_de_pago_p=payment.forma_pago, moneda_p=payment.moneda,
        monto=payment.monto, tipo_cambio_p=payment.tipo_cambio, num_operacion=payment.num_operacion,
        rfc_emisor_cta_ord=payment.rfc_emisor_cta_ord, nom_banco_ord_ext=payment.nom_banco_ord_ext,
        cta_ordenante=payment.cta_ordenante, rfc_emisor_cta_ben=payment.rfc_emisor_cta_ben,
        cta_beneficiario=payment.cta_beneficiario,
    )
    return pagos20.PaymentGroup(pay, tuple(apps))


def _not_valid(errors: Iterable[Any]) -> RepRefused:
    return RepRefused("El REP no pasó la validación (XSD y reglas CRP del SAT); no se envió nada.",
                      _findings(errors))


def _validation_lane() -> AbstractContextManager[ValidationLane | None]:
    lane = open_validation_lane()
    return nullcontext(None) if lane is None else closing(lane)


def _findings(raw: Iterable[Any]) -> list[Finding]:
    return [Finding(f.code, f.severity.value if hasattr(f.severity, "value") else str(f.severity), f.message,
                    f.location) for f in raw]


def _now_local(clock: Clock) -> datetime:
    return clock().astimezone(MEXICO).replace(tzinfo=None, microsecond=0)


@dataclass
class _Spec:
    """What one REP of a batch covers: payments, optionally chosen applications, what it replaces."""

    payment_ids: list[int]
    replaces: Rep | None = None
    credit_ids: Sequence[int] | None = None


@dataclass
class _Chunk:
    """What the REPs of one chunk share, read once: rows, sums, CSDs, folio sequences."""

    payments: dict[int, Payment]
    docs: dict[int, Document]
    paid_before: dict[int, Decimal]
    companies: dict[int, Company]
    customers: dict[int, Customer]
    csds: dict[int, LoadedCsd] = field(default_factory=dict)  # the active CSD cannot change mid-transaction
    sequences: dict[tuple[int, str], FolioSequence] = field(default_factory=dict)  # locked until commit
    claimed: set[int] = field(default_factory=set)  # credits a REP of this chunk already covers
    # Where the chunk's REPs are validated while the next ones are built (None: inline).
    checks: ValidationLane | None = None


_TAIL = 4  # the smallest chunk the tail is cut down to


def _chunk_bounds(n: int, size: int) -> list[tuple[int, int]]:
    """(start, end) of the chunks of ``issue_many``: ``size`` each, then the last ``size``
    or fewer halved again and again (50 → 25, 13, 6, 4, 2).

    The last chunk's stamps are the one part of a run that nothing overlaps: the next
    chunk is prepared while one is being stamped, but after the last there is no next.
    A small last chunk keeps that wait short; each extra chunk costs two commits.
    """
    bounds: list[tuple[int, int]] = []
    start = 0
    while n - start > size:
        bounds.append((start, start + size))
        start += size
    while n - start > _TAIL:
        step = max(_TAIL, -(-(n - start) // 2))
        bounds.append((start, start + step))
        start += step
    if start < n:
        bounds.append((start, n))
    return bounds


@dataclass
class _Batch:
    """A chunk of ``issue_many``: its groups, each prepared REP (id and request) or the
    result of a group refused before anything was saved, and how to wait for its stamps."""

    part: list[list[int]]
    prepared: list[tuple[int, StampRequest] | IssueResult]
    wait: Callable[[], list[StampOutcome]] | None = None

    @property
    def sent(self) -> list[tuple[int, StampRequest]]:
        return [item for item in self.prepared if not isinstance(item, IssueResult)]

    def ids_of(self) -> dict[int, list[int]]:
        return {item[0]: ids for ids, item in zip(self.part, self.prepared, strict=True)
                if not isinstance(item, IssueResult)}

    def results(self, done: dict[int, IssueResult]) -> list[IssueResult]:
        return [item if isinstance(item, IssueResult) else done[item[0]] for item in self.prepared]


@dataclass
class Stamper:
    """Issues REPs for one database with one PAC and one secret box."""

    engine: Engine
    pac: Pac
    box: SecretBox
    clock: Clock = system_clock
    deadline_day: int = 5
    actor: str = "sistema"
    now_local: Callable[[], datetime] | None = None

    _csd_cache: dict[tuple[int, bytes, date], LoadedCsd] = field(default_factory=dict, repr=False)
    _invoice_cache: InvoiceCache = field(default_factory=dict, repr=False)

    def _csd(self, session: Session, company: Company) -> LoadedCsd:
        """The company's CSD, opened once per Stamper (unsealing and loading the key costs ~35 ms)."""
        row = session.scalar(select(CompanyCsd).where(CompanyCsd.company_id == company.id, CompanyCsd.active))
        key = (company.id, row.key_sealed if row is not None else b"", self._today())
        if key not in self._csd_cache:
            self._csd_cache[key] = company_csd(session, company, self.box, today=self._today())
        return self._csd_cache[key]

    def _local(self) -> datetime:
        return self.now_local() if self.now_local else _now_local(self.clock)

    def _today(self) -> date:
        return self._local().date()

    # -- issuing ---------------------------------------------------------------------
    def issue(self, payment_ids: Sequence[int], *, replaces: Rep | None = None,
              credit_ids: Sequence[int] | None = None) -> IssueResult:
        """One REP covering ``payment_ids`` (all of one customer and company)."""
        rep_id, request = self._prepare(payment_ids, replaces=replaces, credit_ids=credit_ids)
        return self._send(rep_id, request)

    def issue_each(self, payment_ids: Sequence[int]) -> list[IssueResult]:
        """One REP per payment (a month-end run); see ``issue_many``."""
        return self.issue_many([[pid] for pid in payment_ids], label="Pago")

    def issue_all_pending(self, *, monthly: bool = False) -> list[IssueResult]:
        with session_factory(self.engine)() as session:
            pend = pending(session, today=self._today(), deadline_day=self.deadline_day)
            # One REP per customer record and company and month (generic RFCs are many customers).
            groups: dict[tuple[int, int, str], list[int]] = defaultdict(list)
            for p in pend:
                key = ((p.customer_id, p.company_id, p.fecha_pago.strftime("%Y-%m")) if monthly
                       else (p.payment_id, 0, ""))
                groups[key].append(p.payment_id)
        return self.issue_many(list(groups.values()))

    def issue_many(self, groups: Sequence[Sequence[int]], *, chunk: int = 50,
                   label: str = "Pagos") -> list[IssueResult]:
        """One REP per group of payment ids, ``chunk`` of them per transaction; results in order.

        The guarantees of ``issue`` hold for each REP: a chunk's REPs are saved signed as
        ``enviando`` (one transaction) before the PAC sees any of them, then stamped one
        by one, then their stamps saved (a second transaction). A group that cannot be
        issued (validation findings, data) writes nothing and takes no folio; it is
        reported in its place and the others go on. Once the PAC cannot be reached, the
        REPs not yet sent are dropped (their folios given back) and the groups left are
        not attempted. What a batch saves against ``issue`` per group: the queries are
        made once per chunk, and two commits per chunk instead of two per REP.
        """
        parts = [[list(ids) for ids in groups[a:b]] for a, b in _chunk_bounds(len(groups), max(1, chunk))]
        results: list[IssueResult] = []
        down: PacError | None = None
        pending: _Batch | None = None
        # Several chunks: each is stamped in the PAC's lane (the sandbox's worker process, a
        # thread for a remote PAC) while the next one is prepared here. One chunk: inline.
        # The REPs of a chunk are validated in a worker process too, while the next is built.
        if len(parts) > 1:
            warm_up()  # what the workers use, loaded before they are forked
        checking = _validation_lane() if len(parts) > 1 else nullcontext(None)
        lanes = stamp_lane(self.pac) if len(parts) > 1 else nullcontext(None)
        with checking as checks, lanes as lane:
            for part in parts:
                if down is not None:
                    results.extend(self._refused(label, ids, RepRefused(
                        f"No se intentó: no se pudo contactar al PAC. {down.message}",
                        [Finding(down.code, "ERROR", down.message, "PAC")], code=down.code)) for ids in part)
                    continue
                batch = self._prepare_batch(part, label, checks)
                if pending is not None:
                    down = self._complete(pending, label, results, later=batch)
                    pending = None
                    if down is not None:
                        continue  # ``_complete`` gave this batch's folios back too
                requests = [request for _rep_id, request in batch.sent]
                if lane is None:
                    batch.wait = partial(stamp_each, self.pac, requests)
                else:
                    batch.wait = lane.submit(requests) if requests else list
                pending = batch
            if pending is not None:
                self._complete(pending, label, results)
        return results

    def _prepare_batch(self, part: list[list[int]], label: str, checks: ValidationLane | None = None) -> _Batch:
        """Step 1 for a chunk (one transaction): its REPs saved signed as ``enviando``."""
        with session_factory(self.engine)() as session, session.begin():
            outcomes = self._prepare_chunk(session, [_Spec(ids) for ids in part], checks)
        prepared: list[tuple[int, StampRequest] | IssueResult] = [
            self._refused(label, ids, o) if isinstance(o, CobranzaError) else o
            for ids, o in zip(part, outcomes, strict=True)]
        return _Batch(part, prepared)

    def _complete(self, batch: _Batch, label: str, results: list[IssueResult], *,
                  later: _Batch | None = None) -> PacError | None:
        """Steps 2 and 3 for a chunk: wait for its stamps, save them (one transaction) and
        append its results; returns the error when the PAC could not be reached.

        Then the REPs that were not sent are dropped, last folio first so every folio goes
        back to its sequence: first those of ``later`` (the next chunk, prepared while this
        one was stamped, so its folios come after), then this chunk's; ``later``'s results
        are appended as well.
        """
        assert batch.wait is not None
        ids_of = batch.ids_of()
        stamped: dict[int, StampResult] = {}
        done: dict[int, IssueResult] = {}
        unsent: list[int] = []
        down: PacError | None = None
        for (rep_id, _request), outcome in zip(batch.sent, batch.wait(), strict=True):
            if isinstance(outcome, StampResult):
                stamped[rep_id] = outcome
            elif outcome is None:
                unsent.append(rep_id)  # not sent: the PAC was down before its turn
            elif outcome.code in UNREACHABLE_CODES:
                down = outcome
                unsent.append(rep_id)
            else:
                done[rep_id] = self._failed(rep_id, outcome, label, ids_of[rep_id])
        if stamped:
            with session_factory(self.engine)() as session, session.begin():
                done.update(self._store_stamps(session, stamped))
        later_done: dict[int, IssueResult] = {}
        if unsent or (down is not None and later is not None):
            assert down is not None
            if later is not None:
                later_ids = later.ids_of()
                for rep_id, _request in reversed(later.sent):
                    later_done[rep_id] = self._failed(rep_id, down, label, later_ids[rep_id])
            for rep_id in reversed(unsent):
                done[rep_id] = self._failed(rep_id, down, label, ids_of[rep_id])
        results.extend(batch.results(done))
        if down is not None and later is not None:
            results.extend(later.results(later_done))
        return down

    def _failed(self, rep_id: int, exc: PacError, label: str, ids: Sequence[int]) -> IssueResult:
        try:
            return self._pac_failed(rep_id, exc)
        except CobranzaError as refused:
            return self._refused(label, ids, refused)

    @staticmethod
    def _refused(label: str, ids: Sequence[int] | None, exc: CobranzaError) -> IssueResult:
        prefix = f"{label} {', '.join(map(str, ids))}: " if ids else ""
        return IssueResult(None, "rechazado", findings=list(getattr(exc, "findings", [])),
                           message=f"{prefix}{exc.message}")

    def _prepare(self, payment_ids: Sequence[int], *, replaces: Rep | None,
                 credit_ids: Sequence[int] | None) -> tuple[int, StampRequest]:
        """Step 1, one transaction: the REP saved as ``enviando`` with its signed bytes and key."""
        with session_factory(self.engine)() as session, session.begin():
            (outcome,) = self._prepare_chunk(session, [_Spec(list(payment_ids), replaces, credit_ids)])
            if isinstance(outcome, CobranzaError):
                raise outcome
            return outcome

    def _prepare_chunk(self, session: Session, specs: Sequence[_Spec], checks: ValidationLane | None = None,
                       ) -> list[tuple[int, StampRequest] | CobranzaError]:
        """Compute, sign and validate one REP per spec and save them as ``enviando``.

        Inside the caller's transaction, with a handful of queries for the whole chunk.
        Nothing is written until every REP of the chunk is built: a spec that cannot be
        issued (refused by validation, bad data) gets its error in its place of the
        result and takes no folio; the next REP gets that folio instead.
        """
        all_ids = sorted({pid for spec in specs for pid in spec.payment_ids})
        payments = {p.id: p for p in session.scalars(
            select(Payment).where(Payment.id.in_(all_ids)).order_by(Payment.id).with_for_update())}
        auto_ids = [pid for spec in specs if spec.credit_ids is None for pid in spec.payment_ids if pid in payments]
        auto = _rep_credits(session, auto_ids) if auto_ids else {}
        chosen_ids = [cid for spec in specs for cid in (spec.credit_ids or ())]
        chosen = {c.id: c for c in session.scalars(select(Credit).where(Credit.id.in_(chosen_ids)))} \
            if chosen_ids else {}
        credits_of: list[dict[int, list[Credit]]] = []
        for spec in specs:
            by_payment: dict[int, list[Credit]] = defaultdict(list)
            if spec.credit_ids is None:
                for pid in spec.payment_ids:
                    by_payment[pid] = list(auto.get(pid, ()))
            else:
                for c in sorted((chosen[i] for i in spec.credit_ids if i in chosen), key=lambda c: c.id):
                    if c.payment_id is not None:
                        by_payment[c.payment_id].append(c)
            credits_of.append(by_payment)
        every = [c for by_payment in credits_of for cs in by_payment.values() for c in cs]
        # The XML only where the stored facts cannot serve (rows imported before them).
        docs = {d.id: d for d in session.scalars(
            select(Document).where(Document.id.in_({c.document_id for c in every}))
            .options(defer(Document.xml)))} if every else {}
        stale = _facts_into_cache(self._invoice_cache, list(docs.values()))
        if stale:  # one query fills the deferred XML of these very objects (no lazy load each)
            session.scalars(select(Document).where(Document.id.in_(stale)).options(undefer(Document.xml))).all()
        chunk = _Chunk(
            payments=payments, docs=docs, paid_before=_paid_before_all(session, every) if every else {},
            companies={c.id: c for c in session.scalars(
                select(Company).where(Company.id.in_({p.company_id for p in payments.values()})))},
            customers={c.id: c for c in session.scalars(
                select(Customer).where(Customer.id.in_({p.customer_id for p in payments.values()})))},
            checks=checks if checks is not None and checks.alive else None,
        )
        built: list[tuple[_Row, bytes, list[Credit]] | CobranzaError] = []
        for spec, by_payment in zip(specs, credits_of, strict=True):
            try:
                built.append(self._build(session, spec, by_payment, chunk))
            except CobranzaError as exc:
                built.append(exc)
        if chunk.checks is not None:
            self._settle(session, specs, credits_of, chunk, built, chunk.checks.collect())
        reps = [item[0] for item in built if not isinstance(item, CobranzaError)]
        if reps:  # one INSERT ... RETURNING for the chunk (Core: no unit of work to flush)
            ids = session.connection().execute(
                insert(_REP_TABLE).returning(_REP_TABLE.c.id, sort_by_parameter_order=True), reps).scalars()
            for row, rep_id in zip(reps, ids, strict=True):
                row["id"] = rep_id
        out: list[tuple[int, StampRequest] | CobranzaError] = []
        lines: list[dict[str, Any]] = []
        audits: list[dict[str, Any]] = []
        for spec, item in zip(specs, built, strict=True):
            if isinstance(item, CobranzaError):
                out.append(item)
                continue
            rep, signed_bytes, credits = item
            lines.extend({"rep_id": rep["id"], "credit_id": c.id, "payment_id": c.payment_id} for c in credits)
            audits.append(self._audit_row("firmar_rep", rep["id"], {"serie": rep["serie"], "folio": rep["folio"],
                                                                    "pagos": list(spec.payment_ids)}))
            # The request is exactly what this transaction commits: no need to read it back.
            out.append((rep["id"], StampRequest(signed_bytes, rep["idempotency_key"])))
        if lines:  # one executemany each: no ids to read back
            session.execute(insert(RepLine), lines)
            session.execute(insert(AuditEntry), audits)
        return out

    def _build(self, session: Session, spec: _Spec, by_payment: dict[int, list[Credit]],
               chunk: _Chunk) -> tuple[_Row, bytes, list[Credit]]:
        """One REP of a chunk, signed and validated, not yet added to the session."""
        payments_by_id, claimed = chunk.payments, chunk.claimed
        missing = set(spec.payment_ids) - set(payments_by_id)
        if missing:
            raise NotFoundError(f"No existe el pago {sorted(missing)[0]}.", code="PAGO_NO_ENCONTRADO")
        payments = sorted((payments_by_id[pid] for pid in set(spec.payment_ids)), key=lambda p: (p.fecha_pago, p.id))
        if len({(p.customer_id, p.company_id) for p in payments}) > 1:
            raise ValidationError("Un REP cubre pagos de un solo cliente y una sola empresa.",
                                  code="REP_VARIOS_CLIENTES")
        by_payment = {pid: [c for c in cs if c.id not in claimed] for pid, cs in by_payment.items()}
        if not any(by_payment.values()):
            raise RepRefused(self._nothing_to_issue(session, payments), code="REP_SIN_APLICACIONES")
        company, customer = chunk.companies[payments[0].company_id], chunk.customers[payments[0].customer_id]
        groups = [_group(session, p, by_payment[p.id], self._invoice_cache, docs=chunk.docs,
                         paid_before=chunk.paid_before)
                  for p in payments if by_payment.get(p.id)]
        complemento = pagos20.build_complement(groups)
        csd = chunk.csds.get(company.id) or chunk.csds.setdefault(company.id, self._csd(session, company))
        serie = company.rep_serie or "P"
        fecha = self._local() - timedelta(seconds=1)
        seq = chunk.sequences.get((company.id, serie))
        if seq is None:
            seq = chunk.sequences[(company.id, serie)] = folio_sequence(session, company.id, serie)
        # The folio is taken under the sequence's row lock; it is only consumed (advanced)
        # once this REP passed validation, so a refusal leaves no gap.
        folio = seq.next_folio
        header = self._header(company, customer, fecha, serie, str(folio), spec.replaces)
        root = rep_writer.build_rep(header, complemento)
        signed = rep_writer.sign_rep(root, no_certificado=csd.certificate.no_certificado,
                                     certificado_b64=csd.certificate.certificado_b64,
                                     cadena=cadena_original, sign=csd.signer.sign)
        if chunk.checks is None:
            errors = errors_only(validate_rep(signed, now=self._local()))
            if errors:
                raise _not_valid(errors)
        signed_bytes = rep_writer.to_bytes(signed)
        if chunk.checks is not None:
            # Validated in the worker while the next REP is built; until its verdict is in
            # (``_settle``) this REP holds its folio and credits, and nothing is saved.
            chunk.checks.submit(signed_bytes, self._local())
        digest = hashlib.sha256(signed_bytes).hexdigest()
        seq.next_folio = folio + 1
        credits = [c for p in payments for c in by_payment.get(p.id, ())]
        claimed.update(c.id for c in credits)
        rep: _Row = dict(
            company_id=company.id, customer_id=customer.id, serie=serie, folio=folio, status="enviando",
            idempotency_key=f"rep-{company.rfc}-{serie}-{folio}-{digest[:16]}", fecha=fecha,
            pac=getattr(self.pac, "name", "pac"), sandbox=bool(getattr(self.pac, "is_sandbox", False)),
            signed_xml=signed_bytes, replaces_id=spec.replaces.id if spec.replaces else None,
            created_at=self.clock(), created_by=self.actor,
        )
        return rep, signed_bytes, credits

    def _settle(self, session: Session, specs: Sequence[_Spec], credits_of: Sequence[dict[int, list[Credit]]],
                chunk: _Chunk, built: list[tuple[_Row, bytes, list[Credit]] | CobranzaError],
                verdicts: list[list[Any] | None]) -> None:
        """Apply the worker's verdicts to ``built`` (in place), as inline validation would.

        Up to the first REP with ERROR findings nothing changes. That REP is refused; it
        and every REP built after it had taken folios and credits, so those go back
        (each sequence to the refused REP's folio or the first one taken after it) and the
        REPs after it are built again, validated inline: the folios stay consecutive and
        a credit the refused REP held can go to a later one, exactly as if the chunk had
        been validated one REP at a time. A REP the worker did not judge (it is gone:
        ``None``) is built again inline too, with those after it.
        """
        chunk.checks = None
        pending = iter(verdicts)
        for i, item in enumerate(built):
            if isinstance(item, CobranzaError):
                continue
            errors = next(pending)
            if errors is not None and not errors:
                continue
            first: dict[tuple[int, str], int] = {}
            for later in built[i:]:
                if isinstance(later, CobranzaError):
                    continue
                rep, _signed, credits = later
                key = (rep["company_id"], rep["serie"])
                first[key] = min(first.get(key, rep["folio"]), rep["folio"])
                chunk.claimed.difference_update(c.id for c in credits)
            for key, folio in first.items():
                chunk.sequences[key].next_folio = folio
            rebuild_from = i
            if errors is not None:
                built[i] = _not_valid(errors)
                rebuild_from = i + 1
            for j in range(rebuild_from, len(built)):
                try:
                    built[j] = self._build(session, specs[j], credits_of[j], chunk)
                except CobranzaError as exc:
                    built[j] = exc
            return

    def _nothing_to_issue(self, session: Session, payments: Sequence[Payment]) -> str:
        ids = [p.id for p in payments]
        pue = session.scalar(select(func.count(Credit.id)).where(
            Credit.payment_id.in_(ids), Credit.reversed_at.is_(None), Credit.requires_rep.is_(False)))
        if pue:
            return ("El pago solo se aplicó a facturas PUE (pago en una sola exhibición): no requiere "
                    "complemento de pago.")
        applied = session.scalar(select(func.count(Credit.id)).where(Credit.payment_id.in_(ids),
                                                                     Credit.reversed_at.is_(None)))
        if not applied:
            return "El pago no está aplicado a ninguna factura: aplíquelo antes de emitir el REP."
        return "Las aplicaciones de este pago ya están amparadas por un REP vigente."

    def _header(self, company: Company, customer: Customer, fecha: datetime, serie: str, folio: str | None,
                replaces: Rep | None) -> rep_writer.RepHeader:
        missing = [label for label, value in (("régimen fiscal", customer.regimen_fiscal),
                                              ("código postal", customer.codigo_postal)) if not value]
        if missing:
            raise ValidationError(f"Al cliente {customer.rfc} le falta {' y '.join(missing)} para emitir el REP.",
                                  code="CLIENTE_INCOMPLETO")
        return rep_writer.RepHeader(
            emisor_rfc=company.rfc, emisor_nombre=company.nombre or "", emisor_regimen_fiscal=company.regimen_fiscal or "",
            receptor_rfc=customer.rfc, receptor_nombre=customer.nombre or "",
            receptor_domicilio_fiscal=customer.codigo_postal or "", receptor_regimen_fiscal=customer.regimen_fiscal or "",
            lugar_expedicion=company.codigo_postal or "", fecha=fecha, serie=serie, folio=folio,
            sustituye_uuids=(replaces.uuid,) if replaces is not None and replaces.uuid else (),
        )

    def _send(self, rep_id: int, request: StampRequest | None = None) -> IssueResult:
        """Steps 2 and 3: the PAC call outside any transaction, then the stamp in a second one.

        ``request`` is the one ``_prepare`` committed; ``retry`` reads it back from the row.
        """
        if request is None:
            with session_factory(self.engine)() as session:
                rep = session.get(Rep, rep_id)
                assert rep is not None and rep.signed_xml is not None
                request = StampRequest(rep.signed_xml, rep.idempotency_key)
        try:
            stamped = self.pac.stamp(request)
        except PacError as exc:
            return self._pac_failed(rep_id, exc)
        with session_factory(self.engine)() as session, session.begin():
            return self._store_stamps(session, {rep_id: stamped})[rep_id]

    def _store_stamps(self, session: Session, stamped: dict[int, StampResult]) -> dict[int, IssueResult]:
        """Step 3 inside ``session``'s transaction: each stamped XML saved as ``timbrado``."""
        rows = {r.id: r for r in session.execute(
            select(Rep.id, Rep.serie, Rep.folio, Rep.sandbox, Rep.pac)
            .where(Rep.id.in_(list(stamped))).with_for_update())}
        now = self.clock()
        changes: list[dict[str, Any]] = []
        audits: list[dict[str, Any]] = []
        out: dict[int, IssueResult] = {}
        for rep_id, result in stamped.items():
            row = rows[rep_id]
            uuid = result.uuid.upper()
            changes.append({"id": rep_id, "status": "timbrado", "uuid": uuid, "stamped_xml": result.xml,
                            "sha256": hashlib.sha256(result.xml).hexdigest(),
                            "fecha_timbrado": result.fecha_timbrado.replace(tzinfo=None), "stamped_at": now})
            audits.append(self._audit_row("timbrar_rep", rep_id, {"uuid": uuid, "pac": row.pac,
                                                                  "recuperado": result.already_stamped}))
            out[rep_id] = IssueResult(
                rep_id, "timbrado", uuid, row.serie, row.folio, row.sandbox, xml=result.xml,
                message="Timbrado" + (" (SIN VALIDEZ FISCAL: PAC sandbox)." if row.sandbox else "."))
        session.execute(update(Rep), changes)  # by primary key, one executemany
        session.execute(insert(AuditEntry), audits)
        return out

    def _pac_failed(self, rep_id: int, exc: PacError) -> IssueResult:
        finding = Finding(exc.code, "ERROR", exc.message, "PAC")
        with session_factory(self.engine)() as session, session.begin():
            rep = session.get(Rep, rep_id, with_for_update=True)
            assert rep is not None
            if exc.code in AMBIGUOUS_CODES:
                self._audit(session, "timbrado_sin_respuesta", rep.id, {"code": exc.code})
                return IssueResult(rep.id, "enviando", None, rep.serie, rep.folio, rep.sandbox, [finding],
                                   message="El PAC no respondió; el REP queda en envío y se recuperará con "
                                           "«cobranza rep retry» sin timbrar dos veces.")
            if exc.code in UNREACHABLE_CODES:
                # Nothing reached the PAC: leave no trace but the audit entry.
                self._drop(session, rep)
                self._audit(session, "timbrado_no_enviado", rep_id, {"code": exc.code})
                unreachable = True
            else:
                unreachable = False
                self._audit(session, "rep_rechazado_pac", rep.id, {"code": exc.code, "message": exc.message,
                                                                   "serie": rep.serie, "folio": rep.folio})
                if not self._drop(session, rep, only_if_last=True):
                    # A later folio was taken meanwhile: keep the row so the gap is explained.
                    rep.status = "rechazado"
                    rep.findings = json.dumps([finding.to_dict()], ensure_ascii=False)
        # Raised after the transaction committed: raising inside ``session.begin()`` rolls it back.
        if unreachable:
            raise RepRefused(f"No se pudo contactar al PAC; no se envió nada. {exc.message}", [finding],
                             code=exc.code)
        raise RepRefused(f"El PAC rechazó el REP: [{exc.code}] {exc.message}", [finding], code="PAC_RECHAZO")

    def _drop(self, session: Session, rep: Rep, *, only_if_last: bool = False) -> bool:
        """Delete a REP that never got a UUID and give its folio back when it is the last one."""
        seq = session.scalar(select(FolioSequence).where(FolioSequence.company_id == rep.company_id,
                                                         FolioSequence.serie == rep.serie).with_for_update())
        is_last = seq is not None and seq.next_folio == rep.folio + 1
        if only_if_last and not is_last:
            return False
        if is_last and seq is not None:
            seq.next_folio = rep.folio
        for line in list(rep.lines):
            session.delete(line)
        session.flush()
        session.delete(rep)
        return True

    def retry(self) -> list[IssueResult]:
        """Send again every REP left in ``enviando`` (same bytes, same key: never twice)."""
        with session_factory(self.engine)() as session:
            ids = list(session.scalars(select(Rep.id).where(Rep.status == "enviando").order_by(Rep.id)))
        out = []
        for rep_id in ids:
            try:
                out.append(self._send(rep_id))
            except CobranzaError as exc:
                out.append(IssueResult(rep_id, "rechazado", findings=getattr(exc, "findings", []), message=exc.message))
        return out

    # -- cancelling --------------------------------------------------------------------
    def cancel(self, uuid: str, motivo: str, *, replace: bool = False) -> dict[str, Any]:
        """Cancel a stamped REP; motive 01 first issues its replacement (TipoRelacion 04)."""
        if motivo not in ("01", "02", "03", "04"):
            raise ValidationError("El motivo de cancelación debe ser 01, 02, 03 o 04.", code="CANCELACION_MOTIVO_INVALIDO")
        if motivo == "01" and not replace:
            raise ValidationError("El motivo 01 exige sustituir el REP: use --replace.", code="CANCELACION_SIN_SUSTITUTO")
        if replace and motivo != "01":
            raise ValidationError("Solo el motivo 01 lleva un REP sustituto.", code="CANCELACION_FOLIO_SUSTITUCION")
        with session_factory(self.engine)() as session:
            rep = session.scalar(select(Rep).where(Rep.uuid == uuid.strip().upper()))
            if rep is None:
                raise NotFoundError(f"No hay ningún REP con folio fiscal {uuid}.", code="REP_NO_ENCONTRADO")
            if rep.status != "timbrado":
                raise ConflictError(f"El REP {rep.uuid} está {rep.status}; solo se cancela uno timbrado.",
                                    code="REP_NO_CANCELABLE")
            credit_ids = [line.credit_id for line in rep.lines]
            payment_ids = sorted({line.payment_id for line in rep.lines})
            company = session.get(Company, rep.company_id)
            customer = session.get(Customer, rep.customer_id)
            assert company is not None and customer is not None
            csd = self._csd(session, company)
            old = rep
        replacement: IssueResult | None = None
        if replace:
            # A replacement stamped by an earlier attempt whose cancellation failed is
            # reused: stamping another one would leave several live REPs for one payment.
            with session_factory(self.engine)() as session:
                earlier = session.scalar(select(Rep).where(Rep.replaces_id == old.id,
                                                           Rep.status.in_(LIVE_STATUSES)))
                if earlier is not None:
                    replacement = IssueResult(earlier.id, earlier.status, earlier.uuid, earlier.serie,
                                              earlier.folio, earlier.sandbox)
        if replace and replacement is None:
            # The replacement must exist before the cancellation can cite it (FolioSustitucion).
            with session_factory(self.engine)() as session, session.begin():
                rep = session.get(Rep, old.id, with_for_update=True)
                assert rep is not None
                rep.status = "sustituyendo"
            try:
                replacement = self.issue(payment_ids, replaces=old, credit_ids=credit_ids)
            finally:
                with session_factory(self.engine)() as session, session.begin():
                    rep = session.get(Rep, old.id, with_for_update=True)
                    assert rep is not None
                    rep.status = "timbrado"
            if replacement.status != "timbrado":
                raise RepRefused("El REP sustituto no quedó timbrado; no se canceló el original.",
                                 replacement.findings, code="SUSTITUTO_NO_TIMBRADO")
        request = CancelRequest(uuid=old.uuid or "", rfc_emisor=company.rfc, rfc_receptor=customer.rfc, total="0",
                                motivo=motivo, folio_sustitucion=replacement.uuid if replacement else None,
                                csd=csd.credentials)
        try:
            result = self.pac.cancel(request)
        except PacError as exc:
            note = (f" El sustituto {replacement.uuid} ya está timbrado; al reintentar la cancelación se "
                    "reutilizará." if replacement else "")
            raise RepRefused(f"El PAC/SAT rechazó la cancelación: [{exc.code}] {exc.message}.{note}",
                             [Finding(exc.code, "ERROR", exc.message, "PAC")], code="CANCELACION_RECHAZADA") from exc
        with session_factory(self.engine)() as session, session.begin():
            rep = session.get(Rep, old.id, with_for_update=True)
            assert rep is not None
            rep.cancel_motivo = motivo
            rep.cancel_folio_sustitucion = replacement.uuid if replacement else None
            rep.cancel_acuse = result.acuse
            rep.cancel_message = (result.message or "")[:500] or None
            if result.status == "cancelado":
                rep.status = "sustituido" if replacement else "cancelado"
                rep.cancelled_at = self.clock()
            elif result.status == "en_proceso":
                rep.status = "cancelacion_solicitada"
            self._audit(session, "cancelar_rep", rep.id, {"uuid": rep.uuid, "motivo": motivo, "resultado": result.status,
                                                          "sustituto": rep.cancel_folio_sustitucion})
            status = rep.status
        if result.status == "rechazado":
            raise RepRefused(f"El PAC/SAT rechazó la cancelación: [{result.code}] {result.message}",
                             [Finding(result.code or "PAC", "ERROR", result.message or "", "PAC")],
                             code="CANCELACION_RECHAZADA")
        return {"uuid": old.uuid, "status": status, "motivo": motivo,
                "sustituto": replacement.to_dict() if replacement else None}

    def _audit(self, session: Session, action: str, rep_id: int, detail: dict[str, Any]) -> None:
        session.add(AuditEntry(**self._audit_row(action, rep_id, detail)))

    def _audit_row(self, action: str, rep_id: int, detail: dict[str, Any]) -> dict[str, Any]:
        return {"at": self.clock(), "actor": self.actor, "action": action, "entity": "rep", "entity_id": str(rep_id),
                "detail": json.dumps(detail, ensure_ascii=False, default=str)}


# --------------------------------------------------------------------------- reading


def rep_dict(rep: Rep, customer: Customer | None = None) -> dict[str, Any]:
    return {
        "id": rep.id, "uuid": rep.uuid, "serie": rep.serie, "folio": rep.folio, "status": rep.status,
        "fecha": rep.fecha.isoformat(), "pac": rep.pac, "sandbox": rep.sandbox,
        "customer_rfc": customer.rfc if customer else None, "sha256": rep.sha256,
        "fecha_timbrado": rep.fecha_timbrado.isoformat() if rep.fecha_timbrado else None,
        "pagos": sorted({line.payment_id for line in rep.lines}),
        "cancel_motivo": rep.cancel_motivo, "sustituido_por": rep.cancel_folio_sustitucion,
        "findings": json.loads(rep.findings) if rep.findings else [],
    }


def list_reps(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(Rep, Customer).join(Customer, Customer.id == Rep.customer_id)
                           .order_by(Rep.id)).all()
    return [rep_dict(r, c) for r, c in rows]


def find_rep(session: Session, uuid: str) -> Rep:
    rep = session.scalar(select(Rep).where(Rep.uuid == uuid.strip().upper()))
    if rep is None:
        raise NotFoundError(f"No hay ningún REP con folio fiscal {uuid}.", code="REP_NO_ENCONTRADO")
    return rep
