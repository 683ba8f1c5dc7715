"""Turn a parsed CFDI 4.0/3.3 tree into the ledger's ``CfdiRecord``.

The reader trusts the structure only as far as the schema guarantees it and checks
every value it converts: amounts become ``Decimal`` from the attribute text (never
float), dates must be ``YYYY-MM-DDTHH:MM:SS``; anything else is refused with
``VALOR_INVALIDO`` naming the attribute. It is on the import hot path, so it walks
children with ``iterchildren(tag)`` and pre-built qualified names instead of XPath.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

from lxml import etree

from cfdi_cobranza.cfdi.parser import NS_CFDI_33, NS_CFDI_40, check_root
from cfdi_cobranza.domain import pagos20
from cfdi_cobranza.domain.cfdi import (
    CfdiRecord,
    Concept,
    PaidDocument,
    Party,
    PaymentRecord,
    RelatedGroup,
    Stamp,
    TaxLine,
)
from cfdi_cobranza.domain.money import MoneyError, parse_amount
from cfdi_cobranza.errors import ImportRefused

NS_TFD = "http://www.sat.gob.mx/TimbreFiscalDigital"
NS_PAGOS10 = "http://www.sat.gob.mx/Pagos"
NS_PAGOS20 = "http://www.sat.gob.mx/Pagos20"

TAG_TFD = f"{{{NS_TFD}}}TimbreFiscalDigital"
TAG_PAGOS10 = f"{{{NS_PAGOS10}}}Pagos"
TAG_PAGOS20 = f"{{{NS_PAGOS20}}}Pagos"


class _Tags:
    """Qualified names of one CFDI namespace, built once per version."""

    def __init__(self, ns: str) -> None:
        q = f"{{{ns}}}"
        self.emisor = q + "Emisor"
        self.receptor = q + "Receptor"
        self.conceptos = q + "Conceptos"
        self.concepto = q + "Concepto"
        self.impuestos = q + "Impuestos"
        self.traslados = q + "Traslados"
        self.traslado = q + "Traslado"
        self.retenciones = q + "Retenciones"
        self.retencion = q + "Retencion"
        self.relacionados = q + "CfdiRelacionados"
        self.relacionado = q + "CfdiRelacionado"
        self.complemento = q + "Complemento"


_TAGS = {"4.0": _Tags(NS_CFDI_40), "3.3": _Tags(NS_CFDI_33)}


class _PagoTags:
    def __init__(self, ns: str) -> None:
        q = f"{{{ns}}}"
        self.pago = q + "Pago"
        self.docto = q + "DoctoRelacionado"
        self.impuestos_dr = q + "ImpuestosDR"
        self.traslados_dr = q + "TrasladosDR"
        self.traslado_dr = q + "TrasladoDR"
        self.retenciones_dr = q + "RetencionesDR"
        self.retencion_dr = q + "RetencionDR"
        self.impuestos_p = q + "ImpuestosP"
        self.traslados_p = q + "TrasladosP"
        self.traslado_p = q + "TrasladoP"
        self.retenciones_p = q + "RetencionesP"
        self.retencion_p = q + "RetencionP"


_PAGO_TAGS = {"1.0": _PagoTags(NS_PAGOS10), "2.0": _PagoTags(NS_PAGOS20)}


def _invalid(el: etree._Element, attr: str, value: str | None, what: str) -> ImportRefused:
    name = etree.QName(el).localname
    return ImportRefused(
        f"Valor inválido en {name}@{attr}: {value!r} no es {what}",
        code="VALOR_INVALIDO",
        element=name,
        attribute=attr,
        value=value,
    )


def _missing(el: etree._Element, attr: str) -> ImportRefused:
    name = etree.QName(el).localname
    return ImportRefused(
        f"Falta el atributo obligatorio {name}@{attr}",
        code="VALOR_INVALIDO",
        element=name,
        attribute=attr,
    )


def _req(el: etree._Element, attr: str) -> str:
    value = el.get(attr)
    if value is None:
        raise _missing(el, attr)
    return value


# What the ledger stores exactly on both databases (db.types): Money keeps 6 decimals in a
# 64-bit integer on SQLite (|x| < 9.2e12), Rate 10 decimals (|x| < 9.2e8). No real CFDI
# comes near; beyond these a value is refused here, not a crash at INSERT (found by fuzzing).
MAX_AMOUNT = Decimal("1e12")
MAX_RATE = Decimal("1e8")
RATE_ATTRS = frozenset({"TipoCambio", "TipoCambioP", "EquivalenciaDR", "TipoCambioDR"})


def _bounded(el: etree._Element, attr: str, text: str) -> Decimal:
    try:
        value = parse_amount(text)
    except MoneyError as exc:
        raise _invalid(el, attr, text, "un importe válido") from exc
    limit = MAX_RATE if attr in RATE_ATTRS else MAX_AMOUNT
    if abs(value) >= limit:
        raise _invalid(el, attr, text, f"un valor que el sistema pueda guardar (menor que {limit:,.0f})")
    return value


def _amount(el: etree._Element, attr: str) -> Decimal:
    text = el.get(attr)
    if text is None:
        raise _missing(el, attr)
    return _bounded(el, attr, text)


def _opt_amount(el: etree._Element, attr: str) -> Decimal | None:
    text = el.get(attr)
    if text is None:
        return None
    return _bounded(el, attr, text)


def _datetime(el: etree._Element, attr: str) -> datetime:
    text = el.get(attr)
    if text is None:
        raise _missing(el, attr)
    # t_FechaH: exactly YYYY-MM-DDTHH:MM:SS, no zone; fromisoformat alone accepts more.
    if len(text) != 19 or text[10] != "T" or not text[:4].isdigit():
        raise _invalid(el, attr, text, "una fecha AAAA-MM-DDThh:mm:ss")
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise _invalid(el, attr, text, "una fecha AAAA-MM-DDThh:mm:ss") from exc


def _int(el: etree._Element, attr: str) -> int | None:
    text = el.get(attr)
    if text is None:
        return None
    if not text.isdigit() or not text.isascii():
        raise _invalid(el, attr, text, "un número entero")
    return int(text)


def _child(el: etree._Element, tag: str) -> etree._Element | None:
    for child in el.iterchildren(tag):
        return child
    return None


def _children(el: etree._Element | None, *tags: str) -> Iterator[etree._Element]:
    """Children reached by following ``tags`` (e.g. Impuestos, Traslados, Traslado)."""
    if el is None:
        return
    if len(tags) == 1:
        yield from el.iterchildren(tags[0])
        return
    for child in el.iterchildren(tags[0]):
        yield from _children(child, *tags[1:])


def find_stamp_element(root: etree._Element) -> etree._Element | None:
    """The TimbreFiscalDigital element of a 4.0/3.3 tree, or None."""
    tags = _TAGS.get(root.get("Version") or "")
    if tags is None:
        return None
    for comp in root.iterchildren(tags.complemento):
        for tfd in comp.iterchildren(TAG_TFD):
            return tfd
    return None


def no_stamp() -> ImportRefused:
    return ImportRefused(
        "El CFDI no está timbrado: falta el TimbreFiscalDigital", code="SIN_TIMBRE"
    )


def read_stamp(tfd: etree._Element) -> Stamp:
    uuid = _req(tfd, "UUID")
    if len(uuid) != 36:
        raise _invalid(tfd, "UUID", uuid, "un UUID")
    return Stamp(
        uuid=uuid.upper(),
        fecha_timbrado=_datetime(tfd, "FechaTimbrado"),
        rfc_prov_certif=tfd.get("RfcProvCertif"),
        no_certificado_sat=_req(tfd, "NoCertificadoSAT"),
        sello_cfd=_req(tfd, "SelloCFD"),
        sello_sat=_req(tfd, "SelloSAT"),
        version=_req(tfd, "Version"),
    )


def _tax(el: etree._Element, kind: str, suffix: str = "") -> TaxLine:
    return TaxLine(
        kind=kind,
        impuesto=_req(el, "Impuesto" + suffix),
        tipo_factor=el.get("TipoFactor" + suffix),
        tasa_o_cuota=_opt_amount(el, "TasaOCuota" + suffix),
        base=_opt_amount(el, "Base" + suffix),
        importe=_opt_amount(el, "Importe" + suffix),
    )


def _taxes(imp: etree._Element | None, t: _Tags) -> tuple[TaxLine, ...]:
    if imp is None:
        return ()
    lines = [_tax(e, "traslado") for e in _children(imp, t.traslados, t.traslado)]
    lines.extend(_tax(e, "retencion") for e in _children(imp, t.retenciones, t.retencion))
    return tuple(lines)


def _concept(el: etree._Element, t: _Tags) -> Concept:
    return Concept(
        clave_prod_serv=_req(el, "ClaveProdServ"),
        cantidad=_amount(el, "Cantidad"),
        clave_unidad=el.get("ClaveUnidad"),
        descripcion=_req(el, "Descripcion"),
        valor_unitario=_amount(el, "ValorUnitario"),
        importe=_amount(el, "Importe"),
        descuento=_opt_amount(el, "Descuento"),
        objeto_imp=el.get("ObjetoImp"),
        taxes=_taxes(_child(el, t.impuestos), t),
    )


def _rfc(el: etree._Element) -> str:
    # t_RFC collapses whitespace in the schema, so " AAA010101AAA" is a valid RFC.
    return _req(el, "Rfc").strip()


def _party_emisor(el: etree._Element | None, root: etree._Element) -> Party:
    if el is None:
        raise _missing(root, "Emisor")
    return Party(rfc=_rfc(el), nombre=el.get("Nombre"), regimen_fiscal=el.get("RegimenFiscal"))


def _party_receptor(el: etree._Element | None, root: etree._Element) -> Party:
    if el is None:
        raise _missing(root, "Receptor")
    return Party(
        rfc=_rfc(el),
        nombre=el.get("Nombre"),
        regimen_fiscal=el.get("RegimenFiscalReceptor"),
        codigo_postal=el.get("DomicilioFiscalReceptor"),
        uso_cfdi=el.get("UsoCFDI"),
    )


def _related(root: etree._Element, t: _Tags) -> tuple[RelatedGroup, ...]:
    groups = []
    for grp in root.iterchildren(t.relacionados):
        uuids = tuple(_req(r, "UUID").upper() for r in grp.iterchildren(t.relacionado))
        groups.append(RelatedGroup(tipo_relacion=_req(grp, "TipoRelacion"), uuids=uuids))
    return tuple(groups)


def _pago_taxes(parent: etree._Element, p: _PagoTags, *, dr: bool) -> tuple[TaxLine, ...]:
    if dr:
        imp = _child(parent, p.impuestos_dr)
        tags = (p.traslados_dr, p.traslado_dr, p.retenciones_dr, p.retencion_dr, "DR")
    else:
        imp = _child(parent, p.impuestos_p)
        tags = (p.traslados_p, p.traslado_p, p.retenciones_p, p.retencion_p, "P")
    if imp is None:
        return ()
    suffix = tags[4]
    lines = [_tax(e, "traslado", suffix) for e in _children(imp, tags[0], tags[1])]
    lines.extend(_tax(e, "retencion", suffix) for e in _children(imp, tags[2], tags[3]))
    return tuple(lines)


def _paid_document(el: etree._Element, p: _PagoTags, version: str) -> PaidDocument:
    equivalencia = "EquivalenciaDR" if version == "2.0" else "TipoCambioDR"
    return PaidDocument(
        id_documento=_req(el, "IdDocumento").upper(),
        serie=el.get("Serie"),
        folio=el.get("Folio"),
        moneda_dr=_req(el, "MonedaDR"),
        equivalencia_dr=_opt_amount(el, equivalencia),
        num_parcialidad=_int(el, "NumParcialidad"),
        imp_saldo_ant=_opt_amount(el, "ImpSaldoAnt"),
        imp_pagado=_opt_amount(el, "ImpPagado"),
        imp_saldo_insoluto=_opt_amount(el, "ImpSaldoInsoluto"),
        objeto_imp_dr=el.get("ObjetoImpDR"),
        taxes=_pago_taxes(el, p, dr=True) if version == "2.0" else (),
    )


def _payments(pagos: etree._Element, version: str) -> tuple[PaymentRecord, ...]:
    p = _PAGO_TAGS[version]
    records = []
    for pago in pagos.iterchildren(p.pago):
        records.append(
            PaymentRecord(
                fecha_pago=_datetime(pago, "FechaPago"),
                forma_de_pago=_req(pago, "FormaDePagoP"),
                moneda=_req(pago, "MonedaP"),
                tipo_cambio=_opt_amount(pago, "TipoCambioP"),
                monto=_amount(pago, "Monto"),
                num_operacion=pago.get("NumOperacion"),
                documents=tuple(_paid_document(d, p, version) for d in pago.iterchildren(p.docto)),
                taxes=_pago_taxes(pago, p, dr=False) if version == "2.0" else (),
            )
        )
    return tuple(records)


def read_invoice_for_pagos(root: etree._Element) -> pagos20.Invoice:
    """``pagos20.invoice_from_record(read_cfdi(root))``, reading only what it needs.

    Issuing a REP reads each paid invoice; the identity, the taxes and the concepts'
    ObjetoImp are a small part of a full ``read_cfdi`` (parties, concept texts and
    amounts, relations, complements), which took about three times as long. Same values
    and the same refusals for what it reads (a test compares both on the corpus).
    """
    return read_invoice_parts(root).invoice()


def read_invoice_parts(root: etree._Element) -> pagos20.InvoiceParts:
    """What ``read_invoice_for_pagos`` reads, before anything is derived from it."""
    version = check_root(root)
    t = _TAGS[version]
    stamp_el = find_stamp_element(root)
    if stamp_el is None:
        raise no_stamp()
    uuid = _req(stamp_el, "UUID")
    if len(uuid) != 36:
        raise _invalid(stamp_el, "UUID", uuid, "un UUID")
    conceptos = _child(root, t.conceptos)
    concepts = () if conceptos is None else tuple(
        (c.get("ObjetoImp"), tuple(_taxes(_child(c, t.impuestos), t))) for c in conceptos.iterchildren(t.concepto))
    return pagos20.InvoiceParts(
        uuid=uuid.upper(), serie=root.get("Serie"), folio=root.get("Folio"), moneda=_req(root, "Moneda"),
        total=_amount(root, "Total"), document_taxes=tuple(_taxes(_child(root, t.impuestos), t)), concepts=concepts,
    )


def read_cfdi(root: etree._Element) -> CfdiRecord:
    """Read a stamped CFDI 4.0/3.3 tree; refuse it when a value cannot be converted."""
    version = check_root(root)
    t = _TAGS[version]

    stamp_el: etree._Element | None = None
    complements: list[str] = []
    payments: tuple[PaymentRecord, ...] = ()
    pagos_version: str | None = None
    for comp in root.iterchildren(t.complemento):
        for child in comp:
            tag = child.tag
            if not isinstance(tag, str):  # comments, processing instructions
                continue
            ns = tag[1 : tag.index("}")] if tag[0] == "{" else ""
            if ns not in complements:
                complements.append(ns)
            if tag == TAG_TFD and stamp_el is None:
                stamp_el = child
            elif tag == TAG_PAGOS20:
                pagos_version = "2.0"
                payments += _payments(child, "2.0")
            elif tag == TAG_PAGOS10:
                pagos_version = "1.0"
                payments += _payments(child, "1.0")
    if stamp_el is None:
        raise no_stamp()

    imp = _child(root, t.impuestos)
    if imp is not None:
        total_traslados = _opt_amount(imp, "TotalImpuestosTrasladados")
        total_retenciones = _opt_amount(imp, "TotalImpuestosRetenidos")
    else:
        total_traslados = total_retenciones = None

    concepts: tuple[Concept, ...] = ()
    conceptos = _child(root, t.conceptos)
    if conceptos is not None:
        concepts = tuple(_concept(c, t) for c in conceptos.iterchildren(t.concepto))

    stamp = read_stamp(stamp_el)
    return CfdiRecord(
        version=version,
        tipo=_req(root, "TipoDeComprobante"),
        uuid=stamp.uuid,
        serie=root.get("Serie"),
        folio=root.get("Folio"),
        fecha=_datetime(root, "Fecha"),
        emisor=_party_emisor(_child(root, t.emisor), root),
        receptor=_party_receptor(_child(root, t.receptor), root),
        moneda=_req(root, "Moneda"),
        tipo_cambio=_opt_amount(root, "TipoCambio"),
        subtotal=_amount(root, "SubTotal"),
        descuento=_opt_amount(root, "Descuento"),
        total=_amount(root, "Total"),
        metodo_pago=root.get("MetodoPago"),
        forma_pago=root.get("FormaPago"),
        condiciones_de_pago=root.get("CondicionesDePago"),
        lugar_expedicion=root.get("LugarExpedicion"),
        exportacion=root.get("Exportacion"),
        no_certificado=root.get("NoCertificado"),
        stamp=stamp,
        concepts=concepts,
        taxes=_taxes(imp, t),
        total_traslados=total_traslados,
        total_retenciones=total_retenciones,
        related=_related(root, t),
        payments=payments,
        pagos_version=pagos_version,
        complements=tuple(complements),
    )
