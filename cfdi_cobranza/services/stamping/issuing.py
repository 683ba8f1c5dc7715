"""Issuing a REP: build it, validate it, and only then take its folio and save it.

In the caller's transaction, alike for one REP and a run's chunk: ``read_inputs`` locks
the payments and reads all the chunk's REPs are built from, one statement of each kind;
``prepare`` computes every Pagos 2.0 amount (``domain.pagos20``), writes and signs the
XML and validates it (XSD + CRP rules): any ERROR refuses the REP before its folio is
taken (the sequence is row-locked since it was read, to put the folio in the XML);
``save`` writes the REPs as ``enviando`` with their signed bytes, idempotency keys,
lines and audit entries.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from cfdi_cobranza.cfdi import rep_writer
from cfdi_cobranza.cfdi.cadena import cadena_original
from cfdi_cobranza.cfdi.parser import parse_xml
from cfdi_cobranza.cfdi.reader import read_invoice_for_pagos
from cfdi_cobranza.cfdi.validator import errors_only, validate_rep
from cfdi_cobranza.db.models import (
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
from cfdi_cobranza.domain import advances, pagos20
from cfdi_cobranza.domain.findings import Finding
from cfdi_cobranza.domain.invoice_facts import invoice_from_facts
from cfdi_cobranza.domain.states import RepStatus
from cfdi_cobranza.errors import ConflictError, NotFoundError, ValidationError
from cfdi_cobranza.pac.base import CsdCredentials, StampRequest
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.stamping.queries import uncovered_credits
from cfdi_cobranza.services.stamping.results import RepRefused
from cfdi_cobranza.signing.csd import Certificate, Signer, load_csd

if TYPE_CHECKING:
    from cfdi_cobranza.services.stamping import Stamper

InvoiceCache = dict[tuple[int, str], pagos20.Invoice]
_INVOICE_CACHE_MAX = 4096
# Core statements, built once: a REP's rows are written as they are, nothing to track.
_INSERT_REP = insert(cast(Table, Rep.__table__)).returning(cast(Table, Rep.__table__).c.id,
                                                            sort_by_parameter_order=True)
_INSERT_LINE = insert(cast(Table, RepLine.__table__))


@dataclass(frozen=True)
class Prepared:
    """A REP saved signed as ``enviando``: what the PAC will be sent, always the same."""

    rep_id: int
    request: StampRequest
    company_id: int | None = None  # whose PAC sends it (``Stamper.pac_of``)


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


def active_csds(session: Session, company_ids: Iterable[int]) -> dict[int, CompanyCsd]:
    """The active CSD of each of ``company_ids`` that has one."""
    return {c.company_id: c for c in session.scalars(
        select(CompanyCsd).where(CompanyCsd.company_id.in_(set(company_ids)), CompanyCsd.active))}


def open_csd(csd: CompanyCsd, company: Company, box: SecretBox, *, today: date) -> LoadedCsd:
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


# --------------------------------------------------------------------------- the domain input


def _invoice(doc: Document, cache: InvoiceCache) -> pagos20.Invoice:
    # What the importer stored beside the XML, when it is for these very bytes
    # (domain.invoice_facts); otherwise the stored bytes, the evidence, are read again.
    # ``cache`` (a Stamper's) keeps the result per document id + SHA-256 of those bytes:
    # an invoice paid in parts is read once, and changed bytes are read again.
    key = (doc.id, doc.sha256)
    found = cache.pop(key, None)  # put back below: the newest, evicted last
    if found is None:
        found = invoice_from_facts(doc.pagos_facts, doc.sha256) or read_invoice_for_pagos(parse_xml(doc.xml))
        if len(cache) >= _INVOICE_CACHE_MAX:
            cache.pop(next(iter(cache)))
    cache[key] = found
    return found


def _paid_before(session: Session, credits: Sequence[Credit]) -> dict[int, Decimal]:
    """For each credit, what earlier parcialidades of its invoice paid (one query for all)."""
    rows = session.execute(
        select(Credit.id, Credit.document_id, Credit.num_parcialidad, Credit.amount)
        .where(Credit.document_id.in_({c.document_id for c in credits}), Credit.reversed_at.is_(None),
               Credit.kind.in_(("pago", "complemento")))
    ).all()
    by_doc: dict[int | None, list[tuple[int, int, Decimal]]] = defaultdict(list)
    for cid, did, num, amount in rows:
        by_doc[did].append((cid, num or 0, amount))
    return {credit.id: sum((amount for cid, num, amount in by_doc.get(credit.document_id, ())
                            if cid != credit.id and num < (credit.num_parcialidad or 0)), Decimal(0))
            for credit in credits}


def _group(payment: Payment, credits: Sequence[Credit], docs: Mapping[int, Document],
           paid_before: Mapping[int, Decimal], invoices: InvoiceCache) -> pagos20.PaymentGroup:
    """The domain input of one payment."""
    apps = []
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


def _credits(session: Session, payment_ids: Sequence[int],
             credit_ids: Sequence[int] | None) -> dict[int, list[Credit]]:
    """Per payment, the applications this REP covers: those no live REP covers yet, or the
    ones ``credit_ids`` chooses (a replacement covers exactly what the REP it replaces did)."""
    if credit_ids is None:
        return uncovered_credits(session, payment_ids)
    by_payment: dict[int, list[Credit]] = defaultdict(list)
    for c in session.scalars(select(Credit).where(Credit.id.in_(credit_ids)).order_by(Credit.id)):
        if c.payment_id is not None:
            by_payment[c.payment_id].append(c)
    return by_payment


def _nothing_to_issue(session: Session, payments: Sequence[Payment]) -> tuple[str, str]:
    """Why no REP can be issued for ``payments``, and the code of that reason."""
    ids = [p.id for p in payments]
    pue = session.scalar(select(func.count(Credit.id)).where(
        Credit.payment_id.in_(ids), Credit.reversed_at.is_(None), Credit.requires_rep.is_(False)))
    if pue:
        return ("El pago solo se aplicó a facturas PUE (pago en una sola exhibición): no requiere "
                "complemento de pago.", "REP_SIN_APLICACIONES")
    applied = session.scalar(select(func.count(Credit.id)).where(Credit.payment_id.in_(ids),
                                                                 Credit.reversed_at.is_(None)))
    if not applied:
        cancelled = session.scalars(select(Document.uuid).join(Credit, Credit.document_id == Document.id).where(
            Credit.payment_id.in_(ids), Credit.kind == "pago", Document.status == "cancelado")
            .distinct().order_by(Document.uuid)).all()
        if cancelled:
            return (f"La factura {', '.join(cancelled)} fue cancelada en el SAT: no se le puede emitir complemento. "
                    "El pago quedó como saldo a favor del cliente, marcado para revisión; aplíquelo a otra "
                    "factura antes de emitir el REP.", "DOCUMENTO_CANCELADO")
        return "El pago no está aplicado a ninguna factura: aplíquelo antes de emitir el REP.", "REP_SIN_APLICACIONES"
    return "Las aplicaciones de este pago ya están amparadas por un REP vigente.", "REP_SIN_APLICACIONES"


def _waiting_message(waiting: Sequence[Credit], docs: Mapping[int, Document]) -> str:
    """Why a REP over applications paid before their invoice waits, and how to release it."""
    found = [(docs.get(c.document_id) if c.document_id is not None else None, c.target_uuid) for c in waiting]
    names = ", ".join(sorted({(doc.serie_folio if doc is not None else "") or uuid for doc, uuid in found}))
    payments = ", ".join(str(p) for p in sorted({c.payment_id for c in waiting if c.payment_id is not None}))
    return (f"El pago {payments} se recibió antes de la factura {names}: el REP no se emite hasta que un usuario "
            "confirme que la operación ya estaba pactada al recibirlo (si no, es un anticipo y no lleva REP). "
            f"Confírmelo con «cobranza payment confirm-advance {payments.split(', ')[0]}», con el botón "
            "«Confirmar pago anterior a la factura» en la página del pago o con "
            f"POST /api/v1/payments/{payments.split(', ')[0]}/confirm-advance.")


def _header(company: Company, customer: Customer, fecha: datetime, serie: str, folio: str | None,
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


# --------------------------------------------------------------------------- issuing


@dataclass(frozen=True)
class RepInputs:
    """What one REP is built from, read by ``read_inputs`` before ``prepare`` builds it."""

    payment_ids: tuple[int, ...]
    rows: tuple[tuple[Payment, Company, Customer], ...]  # its payments, found ones only
    credits: Mapping[int, Sequence[Credit]]  # per payment id, the applications it covers
    documents: Mapping[int, Document]  # their invoices (XML deferred)
    paid_before: Mapping[int, Decimal]  # per credit id, what earlier instalments paid
    csd: CompanyCsd | None  # the company's active CSD
    folios: FolioSequence | None  # its REP folio sequence, row-locked

    def without(self, credit_ids: Set[int]) -> RepInputs:
        """These inputs less the applications a REP prepared earlier in the run covers."""
        return replace(self, credits={pid: [c for c in cs if c.id not in credit_ids]
                                      for pid, cs in self.credits.items()})


def read_inputs(session: Session, groups: Sequence[Sequence[int]], *,
                credit_ids: Sequence[int] | None = None) -> list[RepInputs]:
    """The inputs of one REP per group of payment ids, read with one statement of each
    kind for all groups together: a run reads each chunk once, ``issue`` a chunk of one.

    The payments are row-locked in id order, then the folio sequences in company order,
    until commit: two runs over the same payments wait for each other and never
    deadlock, and the second one sees what the first one issued."""
    rows = {row[0].id: row for row in session.execute(
        select(Payment, Company, Customer).join(Company, Company.id == Payment.company_id)
        .join(Customer, Customer.id == Payment.customer_id).where(Payment.id.in_({p for g in groups for p in g}))
        .order_by(Payment.id).with_for_update(of=Payment)).all()}
    by_payment = _credits(session, list(rows), credit_ids)
    credits = [c for cs in by_payment.values() for c in cs]
    # The XML of an invoice is loaded only where its stored facts cannot serve.
    docs = {d.id: d for d in session.scalars(select(Document).options(defer(Document.xml))
                                             .where(Document.id.in_({c.document_id for c in credits})))}
    paid_before = _paid_before(session, credits)
    companies = {company.id: company for _p, company, _c in rows.values()}
    csds = active_csds(session, companies)
    folios = {cid: folio_sequence(session, cid, companies[cid].rep_serie or "P") for cid in sorted(csds)}
    out = []
    for group in groups:
        found = tuple(rows[pid] for pid in sorted(set(group)) if pid in rows)
        company_id = found[0][1].id if found else 0
        out.append(RepInputs(tuple(group), found, {pid: by_payment.get(pid, []) for pid in group}, docs, paid_before,
                             csds.get(company_id), folios.get(company_id)))
    return out


@dataclass(frozen=True)
class Signed:
    """A REP that passed validation, its folio taken, to be saved by ``save``."""

    row: Mapping[str, object]  # the ``rep`` row, id aside
    credits: tuple[Credit, ...]
    payment_ids: tuple[int, ...]
    request: StampRequest  # its signed bytes and idempotency key, as in ``row``


def prepare(session: Session, stamper: Stamper, inputs: RepInputs, *, replaces: Rep | None = None) -> Signed:
    """Build, sign and validate one REP (one customer, one company) from ``inputs``, and
    only then take its folio; ``RepRefused``/``CobranzaError`` with no folio taken when
    it cannot be issued."""
    missing = set(inputs.payment_ids) - {p.id for p, _company, _customer in inputs.rows}
    if missing:
        raise NotFoundError(f"No existe el pago {sorted(missing)[0]}.", code="PAGO_NO_ENCONTRADO")
    if len({(p.customer_id, p.company_id) for p, _company, _customer in inputs.rows}) > 1:
        raise ValidationError("Un REP cubre pagos de un solo cliente y una sola empresa.", code="REP_VARIOS_CLIENTES")
    _payment, company, customer = inputs.rows[0]
    payments = sorted((p for p, _company, _customer in inputs.rows), key=lambda p: (p.fecha_pago, p.id))
    credits = [c for p in payments for c in inputs.credits.get(p.id, ())]
    if not credits:
        message, code = _nothing_to_issue(session, payments)
        raise RepRefused(message, code=code)
    waiting = [c for c in credits if c.advance_pending and c.advance_confirmed_at is None]
    if waiting:
        message = _waiting_message(waiting, inputs.documents)
        # The code also as a finding: a batch run reports refusals by their findings.
        raise RepRefused(message, [Finding(advances.CODE_NOT_CONFIRMED, message, "FechaPago")],
                         code=advances.CODE_NOT_CONFIRMED)
    complemento = pagos20.build_complement(
        [_group(p, inputs.credits[p.id], inputs.documents, inputs.paid_before, stamper.invoices)
         for p in payments if inputs.credits.get(p.id)])
    csd = stamper.csd(company, inputs.csd)
    seq = inputs.folios
    assert seq is not None  # read with the CSD
    serie = seq.serie
    now = stamper.local()
    fecha = now - timedelta(seconds=1)
    # Read under the sequence's row lock, to be written in the XML; taken (advanced) only
    # once the REP passed validation, so a refusal leaves no gap and nothing to rebuild.
    folio = seq.next_folio
    signed = rep_writer.sign_rep(rep_writer.build_rep(_header(company, customer, fecha, serie, str(folio), replaces),
                                                      complemento),
                                 no_certificado=csd.certificate.no_certificado,
                                 certificado_b64=csd.certificate.certificado_b64, cadena=cadena_original,
                                 sign=csd.signer.sign)
    errors = errors_only(validate_rep(signed, now=now))
    if errors:
        raise RepRefused("El REP no pasó la validación (XSD y reglas CRP del SAT); no se envió nada.",
                         list(errors))
    signed_bytes = rep_writer.to_bytes(signed)
    seq.next_folio = folio + 1
    key = f"rep-{company.rfc}-{serie}-{folio}-{hashlib.sha256(signed_bytes).hexdigest()[:16]}"
    return Signed({
        "company_id": company.id, "customer_id": customer.id, "serie": serie, "folio": folio,
        "status": RepStatus.ENVIANDO, "idempotency_key": key, "fecha": fecha, "pac": getattr(stamper.pac_of(company.id), "name", "pac"),
        "sandbox": bool(getattr(stamper.pac_of(company.id), "is_sandbox", False)), "signed_xml": signed_bytes,
        "replaces_id": replaces.id if replaces else None, "created_at": stamper.clock(),
        "created_by": stamper.actor}, tuple(credits), inputs.payment_ids, StampRequest(signed_bytes, key))


def save(session: Session, stamper: Stamper, signed: Sequence[Signed]) -> list[Prepared]:
    """Inside the transaction that took their folios: the REPs saved as ``enviando`` with
    their lines and audit entries, one statement of each kind for all of them."""
    if not signed:
        return []
    ids = list(session.scalars(_INSERT_REP, [dict(s.row) for s in signed]))
    session.execute(_INSERT_LINE, [{"rep_id": rep_id, "credit_id": c.id, "payment_id": c.payment_id}
                                   for rep_id, s in zip(ids, signed, strict=True) for c in s.credits])
    stamper.audit(session, "firmar_rep", {rep_id: {"serie": s.row["serie"], "folio": s.row["folio"],
                                                   "pagos": list(s.payment_ids)}
                                          for rep_id, s in zip(ids, signed, strict=True)})
    # The request is exactly what this transaction commits: no need to read it back.
    return [Prepared(rep_id, s.request, cast(int, s.row["company_id"])) for rep_id, s in zip(ids, signed, strict=True)]
