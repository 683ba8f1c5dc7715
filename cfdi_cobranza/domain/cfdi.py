"""What the ledger needs to know of one stamped CFDI, as plain immutable records.

The reader (``cfdi_cobranza.cfdi.reader``) builds these from the XML; the importer
stores them; the Pagos 2.0 calculator reads their tax lines. Amounts are Decimal
exactly as written in the XML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class TaxLine:
    """A traslado or retención, of a concept or of the whole document."""

    kind: str  # "traslado" | "retencion"
    impuesto: str  # 001 ISR, 002 IVA, 003 IEPS
    tipo_factor: str | None  # Tasa | Cuota | Exento (None for document-level retenciones)
    tasa_o_cuota: Decimal | None
    base: Decimal | None
    importe: Decimal | None


@dataclass(frozen=True, slots=True)
class Concept:
    clave_prod_serv: str
    cantidad: Decimal
    clave_unidad: str | None
    descripcion: str
    valor_unitario: Decimal
    importe: Decimal
    descuento: Decimal | None
    objeto_imp: str | None
    taxes: tuple[TaxLine, ...] = ()


@dataclass(frozen=True, slots=True)
class Party:
    rfc: str
    nombre: str | None
    regimen_fiscal: str | None
    codigo_postal: str | None = None
    uso_cfdi: str | None = None


@dataclass(frozen=True, slots=True)
class RelatedGroup:
    tipo_relacion: str
    uuids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PaidDocument:
    """A DoctoRelacionado of a payment complement (Pagos 1.0 or 2.0)."""

    id_documento: str  # related invoice UUID, upper case
    serie: str | None
    folio: str | None
    moneda_dr: str
    equivalencia_dr: Decimal | None
    num_parcialidad: int | None
    imp_saldo_ant: Decimal | None
    imp_pagado: Decimal | None
    imp_saldo_insoluto: Decimal | None
    objeto_imp_dr: str | None = None
    taxes: tuple[TaxLine, ...] = ()  # ImpuestosDR (Pagos 2.0); base/importe in MonedaDR


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """A Pago node of a payment complement."""

    fecha_pago: datetime
    forma_de_pago: str
    moneda: str
    tipo_cambio: Decimal | None
    monto: Decimal
    num_operacion: str | None
    documents: tuple[PaidDocument, ...] = ()
    taxes: tuple[TaxLine, ...] = ()  # ImpuestosP (Pagos 2.0); base/importe in MonedaP


@dataclass(frozen=True, slots=True)
class Stamp:
    """The TimbreFiscalDigital."""

    uuid: str
    fecha_timbrado: datetime
    rfc_prov_certif: str | None
    no_certificado_sat: str
    sello_cfd: str
    sello_sat: str
    version: str


@dataclass(frozen=True, slots=True)
class CfdiRecord:
    version: str  # "4.0" | "3.3"
    tipo: str  # I E T N P
    uuid: str
    serie: str | None
    folio: str | None
    fecha: datetime
    emisor: Party
    receptor: Party
    moneda: str
    tipo_cambio: Decimal | None
    subtotal: Decimal
    descuento: Decimal | None
    total: Decimal
    metodo_pago: str | None
    forma_pago: str | None
    condiciones_de_pago: str | None
    lugar_expedicion: str | None
    exportacion: str | None
    no_certificado: str | None
    stamp: Stamp
    concepts: tuple[Concept, ...] = ()
    taxes: tuple[TaxLine, ...] = ()  # document-level (Impuestos node)
    total_traslados: Decimal | None = None
    total_retenciones: Decimal | None = None
    related: tuple[RelatedGroup, ...] = ()
    payments: tuple[PaymentRecord, ...] = ()
    pagos_version: str | None = None  # "1.0" | "2.0" for tipo P
    complements: tuple[str, ...] = field(default=())  # namespace URIs seen in Complemento
