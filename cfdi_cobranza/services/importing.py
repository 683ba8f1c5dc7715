"""Import stamped CFDI issued by other systems into the ledger.

One call takes a batch of candidates (files, folder contents, ZIP members) and
gives every one an outcome: ``imported``, ``duplicate``, ``refused`` (with a code
and a Spanish message) or ``ignored`` (nómina, traslado). Each file is stored in its
own savepoint: a refused file writes nothing and never spoils the rest.
"""

from __future__ import annotations

import uuid as uuidlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cfdi_cobranza.cfdi.loader import LoadedCfdi, load_cfdi
from cfdi_cobranza.cfdi.sources import Candidate
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
from cfdi_cobranza.db.session import session_factory
from cfdi_cobranza.domain.cfdi import CfdiRecord, Party
from cfdi_cobranza.domain.terms import due_date
from cfdi_cobranza.errors import CobranzaError, ImportRefused
from cfdi_cobranza.services import balances
from cfdi_cobranza.services.clock import Clock, system_clock

GENERIC_RFCS = {"XAXX010101000", "XEXX010101000"}
IGNORED_TIPOS = {
    "N": "Es un CFDI de nómina: no es una cuenta por cobrar; se omite.",
    "T": "Es un CFDI de traslado: no ampara un cobro; se omite.",
}


@dataclass
class FileResult:
    file: str
    status: str  # imported | duplicate | refused | ignored
    uuid: str | None = None
    tipo: str | None = None
    code: str | None = None
    message: str | None = None
    sello_sat: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchResult:
    results: list[FileResult] = field(default_factory=list)
    companies_registered: list[str] = field(default_factory=list)

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
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.extra_cert_dirs = tuple(extra_cert_dirs)
        self.verify = verify
        self._sessions = session_factory(engine)

    def import_candidates(self, candidates: Iterable[Candidate], *, commit_every: int = 500) -> BatchResult:
        batch = BatchResult()
        batch_id = str(uuidlib.uuid4())
        with self._sessions() as session:
            companies = {c.rfc: c for c in session.scalars(select(Company))}
            register_issuers = not companies
            pending = 0
            for cand in candidates:
                result = self._one(session, cand, companies, register_issuers, batch, batch_id)
                batch.results.append(result)
                pending += 1
                if pending >= commit_every:
                    session.commit()
                    pending = 0
            session.commit()
        return batch

    # -- one file ---------------------------------------------------------------
    def _one(
        self,
        session: Session,
        cand: Candidate,
        companies: dict[str, Company],
        register_issuers: bool,
        batch: BatchResult,
        batch_id: str,
    ) -> FileResult:
        if cand.ignored:
            return FileResult(cand.name, "ignored", code=cand.code, message=cand.message)
        if cand.data is None:
            return FileResult(cand.name, "refused", code=cand.code, message=cand.message)
        try:
            loaded = load_cfdi(cand.data, verify=self.verify, extra_cert_dirs=self.extra_cert_dirs)
        except ImportRefused as exc:
            return FileResult(cand.name, "refused", code=exc.code, message=exc.message)
        rec = loaded.record
        if rec.tipo in IGNORED_TIPOS:
            return FileResult(cand.name, "ignored", uuid=rec.uuid, tipo=rec.tipo, code="TIPO_NO_APLICA", message=IGNORED_TIPOS[rec.tipo])
        if session.scalar(select(Document.id).where(Document.uuid == rec.uuid)) is not None:
            return FileResult(cand.name, "duplicate", uuid=rec.uuid, tipo=rec.tipo, code="DUPLICADO", message="Este CFDI ya estaba importado; no se cambió nada.")
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
                    company = Company(
                        rfc=issuer, nombre=rec.emisor.nombre, regimen_fiscal=rec.emisor.regimen_fiscal,
                        codigo_postal=rec.lugar_expedicion, created_at=self.clock(),
                    )
                    session.add(company)
                    session.flush()
                    companies[issuer] = company
                    batch.companies_registered.append(issuer)
                self._store(session, loaded, company, cand.name, batch_id)
        except IntegrityError:
            return FileResult(cand.name, "duplicate", uuid=rec.uuid, tipo=rec.tipo, code="DUPLICADO", message="Este CFDI ya estaba importado; no se cambió nada.")
        except CobranzaError as exc:
            return FileResult(cand.name, "refused", uuid=rec.uuid, tipo=rec.tipo, code=exc.code, message=exc.message)
        message = "Importado." if loaded.sello_sat == "verificado" else "Importado; sello del SAT no verificado (certificado del SAT no disponible localmente)."
        return FileResult(cand.name, "imported", uuid=rec.uuid, tipo=rec.tipo, message=message, sello_sat=loaded.sello_sat)

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
            # The newest document tells the current fiscal data of the customer.
            for attr in ("nombre", "regimen_fiscal", "codigo_postal", "uso_cfdi"):
                value = getattr(party, attr)
                if value and getattr(customer, attr) != value:
                    setattr(customer, attr, value)
                    customer.updated_at = now
        return customer

    def _store(self, session: Session, loaded: LoadedCfdi, company: Company, name: str, batch_id: str) -> None:
        rec: CfdiRecord = loaded.record
        customer = self._customer(session, rec.receptor)
        vencimiento = None
        if rec.tipo == "I":
            vencimiento = due_date(rec.fecha.date(), rec.condiciones_de_pago, customer.credit_days, self.settings.default_credit_days)
        now = self.clock()
        doc = Document(
            uuid=rec.uuid, company_id=company.id, customer_id=customer.id, version=rec.version, tipo=rec.tipo,
            serie=rec.serie, folio=rec.folio, fecha=rec.fecha, fecha_timbrado=rec.stamp.fecha_timbrado,
            moneda=rec.moneda, tipo_cambio=rec.tipo_cambio, subtotal=rec.subtotal, descuento=rec.descuento,
            total=rec.total, total_traslados=rec.total_traslados, total_retenciones=rec.total_retenciones,
            metodo_pago=rec.metodo_pago, forma_pago=rec.forma_pago, condiciones_de_pago=rec.condiciones_de_pago,
            uso_cfdi=rec.receptor.uso_cfdi, exportacion=rec.exportacion, lugar_expedicion=rec.lugar_expedicion,
            pagos_version=rec.pagos_version, vencimiento=vencimiento,
            saldo=rec.total if rec.tipo == "I" else Decimal(0),
            status="vigente", sello_sat=loaded.sello_sat, sha256=loaded.sha256, xml=loaded.raw,
            source_name=name[-500:], imported_at=now,
        )
        for idx, c in enumerate(rec.concepts):
            doc.concepts.append(DocumentConcept(
                idx=idx, clave_prod_serv=c.clave_prod_serv, cantidad=c.cantidad, clave_unidad=c.clave_unidad,
                descripcion=c.descripcion, valor_unitario=c.valor_unitario, importe=c.importe,
                descuento=c.descuento, objeto_imp=c.objeto_imp,
            ))
            for t in c.taxes:
                doc.taxes.append(DocumentTax(concept_idx=idx, kind=t.kind, impuesto=t.impuesto, tipo_factor=t.tipo_factor,
                                             tasa_o_cuota=t.tasa_o_cuota, base=t.base, importe=t.importe))
        for t in rec.taxes:
            doc.taxes.append(DocumentTax(concept_idx=None, kind=t.kind, impuesto=t.impuesto, tipo_factor=t.tipo_factor,
                                         tasa_o_cuota=t.tasa_o_cuota, base=t.base, importe=t.importe))
        for group in rec.related:
            for related in group.uuids:
                doc.relations.append(DocumentRelation(tipo_relacion=group.tipo_relacion, related_uuid=related.upper()))
        session.add(doc)
        session.flush()

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
        session.add(ImportLog(batch=batch_id, file=name[-500:], status="imported", uuid=rec.uuid, tipo=rec.tipo,
                              sha256=loaded.sha256, created_at=now))

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
                target = session.scalar(select(Document).where(Document.uuid == dr.id_documento))
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


def import_paths(engine: Engine, settings: Settings, paths: Iterable[str], **kwargs: Any) -> BatchResult:
    from cfdi_cobranza.cfdi.sources import iter_paths

    return Importer(engine, settings, **kwargs).import_candidates(iter_paths(paths))

