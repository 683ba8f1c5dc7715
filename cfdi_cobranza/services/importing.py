"""Import stamped CFDI issued by other systems into the ledger.

One call takes a batch of candidates (files, folder contents, ZIP members) and
gives every one an outcome: ``imported``, ``duplicate``, ``refused`` (with a code
and a Spanish message) or ``ignored`` (nómina, traslado). Each file is stored in its
own savepoint: a refused file writes nothing and never spoils the rest.

A duplicate is the same UUID with the same bytes. The same UUID with different bytes
is a conflict (``UUID_EN_CONFLICTO``): refused, kept in ``import_conflict`` with its
verification status beside the stored document's, and resolved only by an explicit,
audited replacement (``services.conflicts``). The issuer certificate's authority is
checked against the PAC's environment (``cfdi.authority``): the SAT's test
certificates import only in a test environment, marked without fiscal validity.
"""

from __future__ import annotations

import os
import uuid as uuidlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import Engine, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cfdi_cobranza.cfdi.loader import LoadedCfdi, load_cfdi
from cfdi_cobranza.cfdi.parser import parse_xml
from cfdi_cobranza.cfdi.reader import read_invoice_parts
from cfdi_cobranza.cfdi.sources import Candidate, iter_paths, iter_upload
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import (
    Company,
    Credit,
    Customer,
    Document,
    DocumentConcept,
    DocumentRelation,
    DocumentTax,
    ExternalPayment,
    ImportLog,
)
from cfdi_cobranza.db.models.conflicts import ImportConflict
from cfdi_cobranza.db.scope import limit_to_companies
from cfdi_cobranza.db.session import session_factory
from cfdi_cobranza.domain import pagos20
from cfdi_cobranza.domain.cfdi import CfdiRecord, Party, TaxLine
from cfdi_cobranza.domain.invoice_facts import facts_json
from cfdi_cobranza.domain.states import DocumentStatus
from cfdi_cobranza.domain.terms import due_date
from cfdi_cobranza.errors import CobranzaError, ConflictError, ImportRefused
from cfdi_cobranza.services import balances
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.payments import renumber_instalments
from cfdi_cobranza.services.settings import pac_environment

# A chunk holds about this much XML at most (besides ``chunk_size`` documents). Storing
# costs time in proportion to the rows a document brings, which its size tracks: 512 KB is
# ~85 ordinary invoices or four invoices of 300 concepts (~0.1 s of write lock on a quiet
# machine), and twenty 4 MB documents are stored one by one, not held in memory together.
CHUNK_BYTES = 512 * 1024
Progress = Callable[[int, int | None], None]

GENERIC_RFCS = {"XAXX010101000", "XEXX010101000"}
IGNORED_TIPOS = {
    "N": "Es un CFDI de nómina: no es una cuenta por cobrar; se omite.",
    "T": "Es un CFDI de traslado: no ampara un cobro; se omite.",
}


@dataclass(slots=True)  # a SAT package gives 200,000 of these: no per-instance dict
class FileResult:
    file: str
    status: str  # imported | duplicate | refused | ignored
    uuid: str | None = None
    tipo: str | None = None
    code: str | None = None
    message: str | None = None
    sello_sat: str | None = None
    autoridad: str | None = None
    sin_validez_fiscal: bool = False
    # UUID_EN_CONFLICTO: both documents' verification status and the conflict's id.
    conflict: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchResult:
    results: list[FileResult] = field(default_factory=list)
    companies_registered: list[str] = field(default_factory=list)
    # Tags the batch's ``import_log`` rows and its audit entry.
    batch_id: str = field(default_factory=lambda: str(uuidlib.uuid4()))

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(r.status for r in self.results)
        return {k: counts.get(k, 0) for k in ("imported", "duplicate", "refused", "ignored")} | {
            "total": len(self.results)
        }

    @property
    def ok(self) -> bool:
        return not any(r.status == "refused" for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [r.to_dict() for r in self.results],
            "summary": self.summary,
            "companies_registered": self.companies_registered,
        }


_PENDING = FileResult("", "refused", code="PENDIENTE", message="")


def _duplicate(name: str, rec: CfdiRecord) -> FileResult:
    return FileResult(name, "duplicate", uuid=rec.uuid, tipo=rec.tipo, code="DUPLICADO",
                      message="Este CFDI ya estaba importado; no se cambió nada.")


def _imported(name: str, loaded: LoadedCfdi) -> FileResult:
    notes = []
    if loaded.sin_validez_fiscal:
        notes.append("SIN VALIDEZ FISCAL (sellado con un certificado de pruebas del SAT)")
    elif loaded.autoridad == "no verificada":
        notes.append("autoridad no verificada (la autoridad del SAT que expidió el certificado del emisor "
                     "no está en el almacén local)")
    if loaded.sello_sat != "verificado":
        notes.append("sello del SAT no verificado (certificado del SAT no disponible localmente)")
    message = "Importado; " + "; ".join(notes) + "." if notes else "Importado."
    rec = loaded.record
    return FileResult(name, "imported", uuid=rec.uuid, tipo=rec.tipo, message=message, sello_sat=loaded.sello_sat,
                      autoridad=loaded.autoridad, sin_validez_fiscal=loaded.sin_validez_fiscal)


def is_verified(sello_sat: str, autoridad: str) -> bool:
    """Both the SAT's seal and the issuer certificate's authority verified locally."""
    return sello_sat == "verificado" and autoridad == "verificada"


def verification_label(sello_sat: str, autoridad: str) -> str:
    parts = [f"sello del SAT {sello_sat}"]
    parts.append("certificado de pruebas (sin validez fiscal)" if autoridad == "pruebas" else f"autoridad {autoridad}")
    return ", ".join(parts)


def _concept_rows(doc_id: int, rec: CfdiRecord) -> list[dict[str, Any]]:
    return [
        {"document_id": doc_id, "idx": idx, "clave_prod_serv": c.clave_prod_serv, "cantidad": c.cantidad,
         "clave_unidad": c.clave_unidad, "descripcion": c.descripcion, "valor_unitario": c.valor_unitario,
         "importe": c.importe, "descuento": c.descuento, "objeto_imp": c.objeto_imp}
        for idx, c in enumerate(rec.concepts)
    ]


def _tax_row(doc_id: int, concept_idx: int | None, t: TaxLine) -> dict[str, Any]:
    return {"document_id": doc_id, "concept_idx": concept_idx, "kind": t.kind, "impuesto": t.impuesto,
            "tipo_factor": t.tipo_factor, "tasa_o_cuota": t.tasa_o_cuota, "base": t.base, "importe": t.importe}


def _tax_rows(doc_id: int, rec: CfdiRecord) -> list[dict[str, Any]]:
    rows = [_tax_row(doc_id, idx, t) for idx, c in enumerate(rec.concepts) for t in c.taxes]
    rows.extend(_tax_row(doc_id, None, t) for t in rec.taxes)
    return rows


def _relation_rows(doc_id: int, rec: CfdiRecord) -> list[dict[str, Any]]:
    return [
        {"document_id": doc_id, "tipo_relacion": g.tipo_relacion, "related_uuid": u.upper()}
        for g in rec.related
        for u in g.uuids
    ]


def customer_key(party: Party) -> str:
    rfc = party.rfc.upper()
    if rfc in GENERIC_RFCS:
        return f"{rfc}|{(party.nombre or '').strip().upper()}"
    return rfc


class Importer:
    """Imports batches into one database; reusable across batches (caches companies)."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        extra_cert_dirs: Iterable[Path] = (),
        verify: bool = True,
        company_ids: tuple[int, ...] | None = None,
        environment: str | None = None,
    ) -> None:
        self.engine = engine
        # A user limited to some companies imports only their invoices: the others' are
        # refused as not issued by one of the user's companies.
        self.company_ids = company_ids
        self.settings = settings
        self.clock = clock
        self.extra_cert_dirs = tuple(extra_cert_dirs)
        self.verify = verify
        # "test" or "production"; None: the configured PAC's (services.settings.pac_environment).
        self.environment = environment
        self._batch_environment = environment or "test"
        self._sessions = session_factory(engine)

    def import_candidates(self, candidates: Iterable[Candidate], *, chunk_size: int = 500,
                          chunk_bytes: int = CHUNK_BYTES, progress: Progress | None = None,
                          total: Callable[[], int] | None = None) -> BatchResult:
        """Import every candidate; commits per chunk, never loses a file's outcome.

        Candidates are read from the iterable as they come (a ZIP member at a time), parsed
        and verified with no transaction open; only storing a chunk takes the write lock
        (``BEGIN IMMEDIATE`` on SQLite), so other users wait for one chunk's inserts at
        most, never for the parsing. A chunk is at most ``chunk_size`` documents and about
        ``chunk_bytes`` of XML, which bounds memory whatever the batch size.
        ``progress(done, total)`` is called after each stored chunk; ``total()`` says how
        many files the batch holds as far as known (a ZIP's directory), else ``None``.
        """
        batch = BatchResult()
        batch_id = batch.batch_id
        with self._session() as session, session.begin():
            # Per batch: the PAC setting may change while an Importer lives (the web, the API).
            self._batch_environment = self.environment or pac_environment(session)
            companies = {c.rfc: c for c in session.scalars(select(Company))}
        register_issuers = not companies
        chunk: list[tuple[int, Candidate, LoadedCfdi]] = []
        held = 0
        reported: int | None = None  # files reported to ``progress`` so far

        def store() -> None:
            nonlocal chunk, held, reported
            if chunk:
                with self._session() as session, session.begin():
                    self._store_chunk(session, chunk, companies, register_issuers, batch, batch_id)
            chunk, held = [], 0
            if progress is not None and reported != len(batch.results):
                known = total() if total is not None else 0
                progress(len(batch.results), max(known, len(batch.results)) if total is not None else None)
            reported = len(batch.results)

        for cand in candidates:
            loaded_or_result = self._load(cand)
            batch.results.append(loaded_or_result if isinstance(loaded_or_result, FileResult) else _PENDING)
            if not isinstance(loaded_or_result, FileResult):
                chunk.append((len(batch.results) - 1, cand, loaded_or_result))
                held += len(loaded_or_result.raw)
            if len(chunk) >= chunk_size or held >= chunk_bytes or (
                    progress is not None and len(batch.results) - (reported or 0) >= chunk_size):
                store()
        store()
        return batch

    def import_stream(self, fh: IO[bytes], label: str, *, progress: Progress | None = None,
                      chunk_size: int = 500, chunk_bytes: int = CHUNK_BYTES) -> BatchResult:
        """A ZIP (or one XML) read from ``fh`` member by member: see :func:`import_package`."""
        members = 0

        def count(n: int) -> None:
            nonlocal members
            members += n

        return self.import_candidates(iter_upload(label, fh, on_count=count), chunk_size=chunk_size,
                                      chunk_bytes=chunk_bytes, progress=progress, total=lambda: members)

    def _session(self) -> Session:
        """A session limited to the caller's companies (``db.scope``), if any."""
        session = self._sessions()
        limit_to_companies(session, self.company_ids)
        return session

    def _load(self, cand: Candidate) -> FileResult | LoadedCfdi:
        """Parse and verify, outside any transaction: most refusals happen here."""
        if cand.ignored:
            return FileResult(cand.name, "ignored", code=cand.code, message=cand.message)
        if cand.data is None:
            return FileResult(cand.name, "refused", code=cand.code, message=cand.message)
        try:
            loaded = load_cfdi(cand.data, verify=self.verify, extra_cert_dirs=self.extra_cert_dirs,
                               environment="production" if self._batch_environment == "production" else "test")
        except ImportRefused as exc:
            return FileResult(cand.name, "refused", code=exc.code, message=exc.message)
        rec = loaded.record
        if rec.tipo in IGNORED_TIPOS:
            return FileResult(cand.name, "ignored", uuid=rec.uuid, tipo=rec.tipo, code="TIPO_NO_APLICA",
                              message=IGNORED_TIPOS[rec.tipo])
        return loaded

    def _store_chunk(
        self,
        session: Session,
        chunk: list[tuple[int, Candidate, LoadedCfdi]],
        companies: dict[str, Company],
        register_issuers: bool,
        batch: BatchResult,
        batch_id: str,
    ) -> None:
        uuids = [loaded.record.uuid for _, _, loaded in chunk]
        existing: dict[str, str] = {
            row.uuid: row.sha256
            for row in session.execute(select(Document.uuid, Document.sha256).where(Document.uuid.in_(uuids)))
        }
        # Invoices nobody refers to yet go through the bulk path; anything that touches
        # other documents (credit notes, complements, invoices with waiting credits or
        # notes) takes the per-document path, which keeps every balance rule in one place.
        waiting = set(session.scalars(select(Credit.target_uuid).where(Credit.target_uuid.in_(uuids))))
        waiting |= set(session.scalars(select(DocumentRelation.related_uuid).where(DocumentRelation.related_uuid.in_(uuids))))
        seen: dict[str, str] = {}
        bulk: list[tuple[int, Candidate, LoadedCfdi, Company]] = []
        single: list[tuple[int, Candidate, LoadedCfdi]] = []
        later: list[tuple[int, Candidate, LoadedCfdi]] = []  # same UUID as another: after the rest is stored
        for pos, cand, loaded in chunk:
            rec = loaded.record
            if existing.get(rec.uuid, seen.get(rec.uuid)) == loaded.sha256:
                batch.results[pos] = _duplicate(cand.name, rec)
                continue
            if rec.uuid in existing or rec.uuid in seen:
                later.append((pos, cand, loaded))
                continue
            seen[rec.uuid] = loaded.sha256
            company = companies.get(rec.emisor.rfc.upper())
            if company is None and register_issuers:
                company = self._register_company(session, rec, companies, batch)
            if rec.tipo == "I" and company is not None and rec.uuid not in waiting:
                bulk.append((pos, cand, loaded, company))
            else:
                single.append((pos, cand, loaded))
        if bulk:
            try:
                with session.begin_nested():
                    self._bulk_invoices(session, bulk, batch_id)
                for pos, cand, loaded, _ in bulk:
                    batch.results[pos] = _imported(cand.name, loaded)
            except (IntegrityError, CobranzaError):
                # Something in the chunk clashed (a concurrent import, say): redo it
                # file by file so each gets its own outcome.
                single.extend((pos, cand, loaded) for pos, cand, loaded, _ in bulk)
                single.sort(key=lambda item: item[0])
        for pos, cand, loaded in [*single, *later]:
            batch.results[pos] = self._one(session, cand, loaded, companies, register_issuers, batch, batch_id)

    def _bulk_invoices(self, session: Session, items: list[tuple[int, Candidate, LoadedCfdi, Company]],
                       batch_id: str) -> None:
        now = self.clock()
        customers = self._customers_bulk(session, [loaded.record.receptor for _, _, loaded, _ in items])
        rows = []
        for _, cand, loaded, company in items:
            rec = loaded.record
            customer = customers[customer_key(rec.receptor)]
            rows.append(self._document_row(rec, loaded, company.id, customer.id, customer.credit_days, cand.name, now))
        ids = session.execute(
            insert(Document).returning(Document.id, sort_by_parameter_order=True), rows
        ).scalars().all()
        concepts: list[dict[str, Any]] = []
        taxes: list[dict[str, Any]] = []
        relations: list[dict[str, Any]] = []
        logs: list[dict[str, Any]] = []
        for doc_id, (_, cand, loaded, _) in zip(ids, items, strict=True):
            rec = loaded.record
            concepts.extend(_concept_rows(doc_id, rec))
            taxes.extend(_tax_rows(doc_id, rec))
            relations.extend(_relation_rows(doc_id, rec))
            logs.append({"batch": batch_id, "file": cand.name[-500:], "status": "imported", "uuid": rec.uuid,
                         "tipo": rec.tipo, "sha256": loaded.sha256, "created_at": now})
        for model, data in ((DocumentConcept, concepts), (DocumentTax, taxes), (DocumentRelation, relations),
                            (ImportLog, logs)):
            if data:
                # Core executemany on the table: the ORM bulk path adds ~30 % to the time
                # the write lock is held, for rows that need nothing from the ORM.
                session.execute(insert(cast(Table, model.__table__)), data)

    def _customers_bulk(self, session: Session, parties: list[Party]) -> dict[str, Customer]:
        by_key: dict[str, Party] = {}
        for party in parties:  # the last document of the chunk tells the current data
            by_key[customer_key(party)] = party
        found = {c.key: c for c in session.scalars(select(Customer).where(Customer.key.in_(list(by_key))))}
        for key, party in by_key.items():
            if key in found:
                self._refresh_customer(found[key], party)
            else:
                found[key] = self._customer(session, party)
        session.flush()
        return found

    def _document_row(self, rec: CfdiRecord, loaded: LoadedCfdi, company_id: int, customer_id: int,
                      credit_days: int | None, name: str, now: Any) -> dict[str, Any]:
        vencimiento = None
        if rec.tipo == "I":
            vencimiento = due_date(rec.fecha.date(), rec.condiciones_de_pago, credit_days,
                                   self.settings.default_credit_days)
        return {
            "uuid": rec.uuid, "company_id": company_id, "customer_id": customer_id, "version": rec.version,
            "tipo": rec.tipo, "serie": rec.serie, "folio": rec.folio, "fecha": rec.fecha,
            "fecha_timbrado": rec.stamp.fecha_timbrado, "moneda": rec.moneda, "tipo_cambio": rec.tipo_cambio,
            "subtotal": rec.subtotal, "descuento": rec.descuento, "total": rec.total,
            "total_traslados": rec.total_traslados, "total_retenciones": rec.total_retenciones,
            "metodo_pago": rec.metodo_pago, "forma_pago": rec.forma_pago,
            "condiciones_de_pago": rec.condiciones_de_pago, "uso_cfdi": rec.receptor.uso_cfdi,
            "exportacion": rec.exportacion, "lugar_expedicion": rec.lugar_expedicion,
            "pagos_version": rec.pagos_version, "vencimiento": vencimiento,
            "saldo": rec.total if rec.tipo == "I" else Decimal(0), "status": DocumentStatus.VIGENTE,
            "sello_sat": loaded.sello_sat, "autoridad": loaded.autoridad, "sha256": loaded.sha256, "xml": loaded.raw,
            "pagos_facts": _pagos_facts(rec, loaded.sha256) if rec.tipo == "I" else None,
            "source_name": name[-500:], "imported_at": now,
        }

    def _register_company(self, session: Session, rec: CfdiRecord, companies: dict[str, Company],
                          batch: BatchResult) -> Company:
        """First import with no company configured: the issuers seen become the user's companies."""
        issuer = rec.emisor.rfc.upper()
        company = Company(rfc=issuer, nombre=rec.emisor.nombre, regimen_fiscal=rec.emisor.regimen_fiscal,
                          codigo_postal=rec.lugar_expedicion, created_at=self.clock())
        session.add(company)
        session.flush()
        companies[issuer] = company
        batch.companies_registered.append(issuer)
        return company

    # -- one file ---------------------------------------------------------------
    def _one(
        self,
        session: Session,
        cand: Candidate,
        loaded: LoadedCfdi,
        companies: dict[str, Company],
        register_issuers: bool,
        batch: BatchResult,
        batch_id: str,
    ) -> FileResult:
        rec = loaded.record
        if session.scalar(select(Document.id).where(Document.uuid == rec.uuid)) is not None:
            return self._clash(session, cand.name, loaded)
        issuer = rec.emisor.rfc.upper()
        company = companies.get(issuer)
        if company is None and not register_issuers:
            receptor_is_ours = rec.receptor.rfc.upper() in companies
            detail = " (su empresa es el receptor)" if receptor_is_ours else ""
            return FileResult(
                cand.name, "refused", uuid=rec.uuid, tipo=rec.tipo, code="CFDI_RECIBIDO",
                message=f"Es un CFDI recibido, no una cuenta por cobrar: lo emitió {issuer}{detail}, que no es una de sus empresas.",
            )
        try:
            with session.begin_nested():
                if company is None:
                    company = self._register_company(session, rec, companies, batch)
                self._store(session, loaded, company, cand.name, batch_id)
        except IntegrityError:
            return self._clash(session, cand.name, loaded)
        except CobranzaError as exc:
            return FileResult(cand.name, "refused", uuid=rec.uuid, tipo=rec.tipo, code=exc.code, message=exc.message)
        return _imported(cand.name, loaded)

    def _clash(self, session: Session, name: str, loaded: LoadedCfdi) -> FileResult:
        """The UUID is already stored: a duplicate (same bytes) or a conflict, recorded."""
        rec = loaded.record
        stored = session.execute(
            select(Document.sha256, Document.sello_sat, Document.autoridad, Document.source_name)
            .where(Document.uuid == rec.uuid)
        ).first()
        if stored is None or stored.sha256 == loaded.sha256:
            return _duplicate(name, rec)
        conflict_id = self._record_conflict(session, name, loaded, stored.sha256)
        incoming_ok = is_verified(loaded.sello_sat, loaded.autoridad)
        stored_ok = is_verified(stored.sello_sat, stored.autoridad)
        replaceable = incoming_ok and not stored_ok
        message = (
            f"Ya hay otro documento con el folio fiscal {rec.uuid} y contenido distinto: no se importó. "
            f"Guardado: {verification_label(stored.sello_sat, stored.autoridad)}. "
            f"Este archivo: {verification_label(loaded.sello_sat, loaded.autoridad)}."
        )
        if replaceable:
            message += (f" Este archivo está verificado y el guardado no: puede reemplazarlo (conflicto "
                        f"{conflict_id}: «Reemplazar» en Importar, o «cobranza conflicts replace {conflict_id}»).")
        return FileResult(
            name, "refused", uuid=rec.uuid, tipo=rec.tipo, code="UUID_EN_CONFLICTO", message=message,
            sello_sat=loaded.sello_sat, autoridad=loaded.autoridad, sin_validez_fiscal=loaded.sin_validez_fiscal,
            conflict={
                "id": conflict_id,
                "replaceable": replaceable,
                "stored": {"sha256": stored.sha256, "sello_sat": stored.sello_sat, "autoridad": stored.autoridad,
                           "verified": stored_ok, "file": stored.source_name},
                "incoming": {"sha256": loaded.sha256, "sello_sat": loaded.sello_sat, "autoridad": loaded.autoridad,
                             "verified": incoming_ok, "file": name[-500:]},
            },
        )

    def _record_conflict(self, session: Session, name: str, loaded: LoadedCfdi, stored_sha256: str) -> int:
        rec = loaded.record
        found = session.scalar(select(ImportConflict.id).where(
            ImportConflict.uuid == rec.uuid, ImportConflict.sha256 == loaded.sha256))
        if found is not None:
            return found
        conflict = ImportConflict(uuid=rec.uuid, sha256=loaded.sha256, xml=loaded.raw, file=name[-500:],
                                  sello_sat=loaded.sello_sat, autoridad=loaded.autoridad,
                                  existing_sha256=stored_sha256, status="pendiente", created_at=self.clock())
        try:
            with session.begin_nested():
                session.add(conflict)
                session.flush()
        except IntegrityError:  # recorded meanwhile by a concurrent import
            found = session.scalar(select(ImportConflict.id).where(
                ImportConflict.uuid == rec.uuid, ImportConflict.sha256 == loaded.sha256))
            assert found is not None
            return found
        return conflict.id

    def _customer(self, session: Session, party: Party) -> Customer:
        key = customer_key(party)
        customer = session.scalar(select(Customer).where(Customer.key == key))
        now = self.clock()
        if customer is None:
            customer = Customer(
                key=key, rfc=party.rfc.upper(), nombre=party.nombre, regimen_fiscal=party.regimen_fiscal,
                codigo_postal=party.codigo_postal, uso_cfdi=party.uso_cfdi, created_at=now, updated_at=now,
            )
            session.add(customer)
            session.flush()
        else:
            self._refresh_customer(customer, party)
        return customer

    def _refresh_customer(self, customer: Customer, party: Party) -> None:
        # The newest document tells the current fiscal data of the customer.
        for attr in ("nombre", "regimen_fiscal", "codigo_postal", "uso_cfdi"):
            value = getattr(party, attr)
            if value and getattr(customer, attr) != value:
                setattr(customer, attr, value)
                customer.updated_at = self.clock()

    def _store(self, session: Session, loaded: LoadedCfdi, company: Company, name: str, batch_id: str) -> None:
        rec: CfdiRecord = loaded.record
        customer = self._customer(session, rec.receptor)
        now = self.clock()
        doc = Document(**self._document_row(rec, loaded, company.id, customer.id, customer.credit_days, name, now))
        session.add(doc)
        session.flush()
        self._store_parts_and_effects(session, rec, doc)
        session.add(ImportLog(batch=batch_id, file=name[-500:], status="imported", uuid=rec.uuid, tipo=rec.tipo,
                              sha256=loaded.sha256, created_at=now))

    def replace_document(self, session: Session, doc: Document, loaded: LoadedCfdi, name: str) -> None:
        """Put ``loaded`` in place of ``doc`` (same UUID), keeping the row and what refers to it.

        Only ``services.conflicts`` calls this, after the user chose to. What the old
        document did to others (a complement's or a note's credits) is undone and redone
        from the new one; payments applied here to an invoice stay, and must still fit.
        """
        rec = loaded.record
        company = session.scalar(select(Company).where(Company.rfc == rec.emisor.rfc.upper()))
        if company is None:
            raise ConflictError(
                f"El emisor {rec.emisor.rfc} del nuevo documento no es una de sus empresas: no se reemplaza.",
                code="CONFLICTO_NO_REEMPLAZABLE")
        touched = {
            t for t in session.scalars(select(Credit.document_id).where(Credit.source_document_id == doc.id))
            if t is not None and t != doc.id
        }
        session.execute(delete(Credit).where(Credit.source_document_id == doc.id))
        session.execute(delete(ExternalPayment).where(ExternalPayment.complement_id == doc.id))
        for model in (DocumentConcept, DocumentTax, DocumentRelation):
            session.execute(delete(model).where(model.document_id == doc.id))
        customer = self._customer(session, rec.receptor)
        now = self.clock()
        row = self._document_row(rec, loaded, company.id, customer.id, customer.credit_days, name, now)
        for key, value in row.items():
            setattr(doc, key, value)
        session.flush()
        self._store_parts_and_effects(session, rec, doc)
        if rec.tipo == "I" and doc.saldo < 0:
            raise ConflictError(
                f"Lo ya abonado a la factura excede el total del nuevo documento ({doc.total} {doc.moneda}): "
                "desaplique los pagos y vuelva a intentarlo.", code="CONFLICTO_CON_PAGOS")
        for target_id in touched:
            target = session.get(Document, target_id)
            if target is not None:
                balances.refresh_saldo(session, target)
                renumber_instalments(session, target)
        session.add(ImportLog(batch=str(uuidlib.uuid4()), file=name[-500:], status="replaced", uuid=rec.uuid,
                              tipo=rec.tipo, sha256=loaded.sha256, created_at=now))
        session.flush()

    def _store_parts_and_effects(self, session: Session, rec: CfdiRecord, doc: Document) -> None:
        """A stored document's concepts, taxes and relations, and what it does to others:
        a complement's payments, a credit note's credits, an invoice's waiting credits and
        balance. The same for a new document and for one that replaces a stored one."""
        for model, rows in ((DocumentConcept, _concept_rows(doc.id, rec)), (DocumentTax, _tax_rows(doc.id, rec)),
                            (DocumentRelation, _relation_rows(doc.id, rec))):
            if rows:
                session.execute(insert(model), rows)
        if rec.tipo == "P":
            self._store_complement(session, rec, doc)
        elif rec.tipo == "E":
            balances.allocate_credit_note(session, doc)
        elif rec.tipo == "I":
            balances.attach_waiting_credits(session, doc)
            for note in balances.notes_relating(session, doc.uuid):
                balances.allocate_credit_note(session, note)
            session.flush()
            balances.refresh_saldo(session, doc)

    def _store_complement(self, session: Session, rec: CfdiRecord, doc: Document) -> None:
        line = 0
        touched: set[int] = set()
        for pago_idx, pago in enumerate(rec.payments):
            for dr in pago.documents:
                pagado = dr.imp_pagado
                if pagado is None and len(pago.documents) == 1 and dr.moneda_dr == pago.moneda:
                    pagado = pago.monto  # Pagos 1.0 lets a single same-currency document omit it
                if pagado is None:
                    raise ImportRefused(
                        f"El complemento no indica ImpPagado del documento {dr.id_documento}; no se puede aplicar.",
                        code="COMPLEMENTO_INCOMPLETO",
                    )
                session.add(ExternalPayment(
                    complement_id=doc.id, pago_idx=pago_idx, fecha_pago=pago.fecha_pago, forma_de_pago=pago.forma_de_pago,
                    moneda_p=pago.moneda, tipo_cambio_p=pago.tipo_cambio, monto=pago.monto, related_uuid=dr.id_documento,
                    moneda_dr=dr.moneda_dr, equivalencia_dr=dr.equivalencia_dr, num_parcialidad=dr.num_parcialidad,
                    imp_saldo_ant=dr.imp_saldo_ant, imp_pagado=pagado, imp_saldo_insoluto=dr.imp_saldo_insoluto,
                ))
                target = session.scalar(select(Document).where(Document.uuid == dr.id_documento).with_for_update()
                                        .execution_options(populate_existing=True))
                session.add(Credit(
                    kind="complemento", target_uuid=dr.id_documento, document_id=target.id if target else None,
                    source_document_id=doc.id, source_line=line, amount=pagado, fecha=pago.fecha_pago,
                    num_parcialidad=dr.num_parcialidad,
                ))
                line += 1
                if target is not None:
                    touched.add(target.id)
        session.flush()

        for target_id in touched:
            target_doc = session.get(Document, target_id)
            assert target_doc is not None
            balances.refresh_saldo(session, target_doc)
            if target_doc.saldo < 0:
                # Our own applications already cover what this complement says it paid:
                # importing it would double count the payment.
                raise ImportRefused(
                    f"El complemento paga {target_doc.saldo.copy_abs().normalize():f} {target_doc.moneda} de más a la "
                    f"factura {target_doc.serie_folio or target_doc.uuid}, que ya está cubierta por pagos aplicados "
                    "aquí; revierta la aplicación duplicada y vuelva a importar.", code="COMPLEMENTO_EXCEDE_SALDO")
            renumber_instalments(session, target_doc)


def import_paths(engine: Engine, settings: Settings, paths: Iterable[str], **kwargs: Any) -> BatchResult:
    return Importer(engine, settings, **kwargs).import_candidates(iter_paths(paths))


def import_package(
    engine: Engine,
    settings: Settings,
    source: str | os.PathLike[str] | IO[bytes],
    *,
    name: str | None = None,
    progress: Progress | None = None,
    chunk_size: int = 500,
    chunk_bytes: int = CHUNK_BYTES,
    **kwargs: Any,
) -> BatchResult:
    """Import a ZIP package (a SAT bulk download: up to 200,000 CFDI) or one XML, streamed.

    ``source`` is a path or a seekable binary file. Members are decompressed one at a
    time, parsed and verified outside any transaction and stored in chunks of at most
    ``chunk_size`` documents (and ``chunk_bytes`` of XML), a transaction each, so memory
    stays bounded by a chunk plus one outcome per member. ``progress(done, total)`` is
    called after every chunk: files given an outcome so far, and the members the ZIP's
    directory lists (never less than ``done``). Same checks and outcomes as any import;
    ``kwargs`` go to :class:`Importer` (``clock``, ``extra_cert_dirs``, ``verify``).
    """
    importer = Importer(engine, settings, **kwargs)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        with path.open("rb") as fh:
            return importer.import_stream(fh, name or path.name, progress=progress, chunk_size=chunk_size,
                                          chunk_bytes=chunk_bytes)
    return importer.import_stream(source, name or Path(str(getattr(source, "name", "") or "paquete.zip")).name,
                                  progress=progress, chunk_size=chunk_size, chunk_bytes=chunk_bytes)


def _pagos_facts(rec: CfdiRecord, sha256: str) -> str:
    """What issuing a REP will read of this invoice (``domain.invoice_facts``)."""
    return facts_json(pagos20.InvoiceParts.of_record(rec), sha256)


def backfill_pagos_facts(engine: Engine, *, batch: int = 500) -> int:
    """Store ``pagos_facts`` for the invoices imported before revision 0010; returns how
    many were written.

    Read from each stored XML (``read_invoice_parts``, what issuing a REP would read
    otherwise), a batch per transaction. Only that column is written, so a payment
    applied meanwhile loses nothing; facts are tagged with the SHA-256 of the bytes they
    were read from. An invoice the reader refuses keeps none (its REP reports why).
    Idempotent: ``cobranza init`` runs it after migrating (not ``serve``: on a ledger
    already done, finding nothing left still reads the document table once).
    """
    written = 0
    after = 0
    while True:
        with session_factory(engine)() as session, session.begin():
            rows = session.execute(
                select(Document.id, Document.xml, Document.sha256)
                .where(Document.tipo == "I", Document.pagos_facts.is_(None), Document.id > after)
                .order_by(Document.id).limit(batch)
            ).all()
            if not rows:
                return written
            changes = []
            for doc_id, xml, sha256 in rows:
                try:
                    facts = facts_json(read_invoice_parts(parse_xml(xml)), sha256)
                except CobranzaError:
                    continue
                changes.append({"id": doc_id, "pagos_facts": facts})
            if changes:
                session.execute(update(Document), changes)  # by primary key, one executemany
            written += len(changes)
            after = rows[-1].id
