"""Writes the CFDI 4.0 tipo P (REP) XML from the computed Pagos 2.0 records.

The amounts are computed and rounded by ``cfdi_cobranza.domain.pagos20``; this module
only formats them (``money.fmt_amount``) and lays out the SAT structure: the fixed
values a payment CFDI must carry, the ``pago20:Pagos`` node, tidy namespaces and
attribute order as in the XSD. ``build_rep`` returns an UNSIGNED tree (no Sello,
NoCertificado or Certificado); ``sign_rep`` fills them in place with the CSD signer and the SAT
cadena original the caller plugs in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from lxml import etree

from cfdi_cobranza.domain import money
from cfdi_cobranza.domain.pagos20 import (
    CUENTAS_XML,
    Complemento,
    DoctoRelacionado,
    ImpuestoDR,
    Pago,
    Totales,
    normalize_decimal,
)
from cfdi_cobranza.errors import ValidationError

NS_CFDI = "http://www.sat.gob.mx/cfd/4"
NS_PAGOS20 = "http://www.sat.gob.mx/Pagos20"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = (
    "http://www.sat.gob.mx/cfd/4 http://www.sat.gob.mx/sitio_internet/cfd/4/cfdv40.xsd "
    "http://www.sat.gob.mx/Pagos20 http://www.sat.gob.mx/sitio_internet/cfd/Pagos/Pagos20.xsd"
)
NSMAP = {"cfdi": NS_CFDI, "pago20": NS_PAGOS20, "xsi": NS_XSI}

# Attribute order of cfdi:Comprobante in the XSD; the signer's three go where they belong.
_COMPROBANTE_ORDER = (
    f"{{{NS_XSI}}}schemaLocation", "Version", "Serie", "Folio", "Fecha", "Sello",
    "NoCertificado", "Certificado", "SubTotal", "Moneda", "Total", "TipoDeComprobante",
    "Exportacion", "LugarExpedicion", "Confirmacion",
)
SCALE_TASA = 6


@dataclass(frozen=True, slots=True)
class RepHeader:
    """What the REP says outside the complement: who, when, where, which folio."""

    emisor_rfc: str
    emisor_nombre: str
    emisor_regimen_fiscal: str
    receptor_rfc: str
    receptor_nombre: str
    receptor_domicilio_fiscal: str  # código postal
    receptor_regimen_fiscal: str
    lugar_expedicion: str
    fecha: datetime
    serie: str | None = None
    folio: str | None = None
    receptor_residencia_fiscal: str | None = None
    receptor_num_reg_id_trib: str | None = None
    sustituye_uuids: tuple[str, ...] = ()  # CfdiRelacionados TipoRelacion 04
    confirmacion: str | None = None


def _c(name: str) -> str:
    return f"{{{NS_CFDI}}}{name}"


def _p(name: str) -> str:
    return f"{{{NS_PAGOS20}}}{name}"


def _set(el: etree._Element, name: str, value: str | None) -> None:
    if value is not None and value != "":
        el.set(name, value)


def _amount(value: Decimal, currency: str) -> str:
    return money.fmt_amount(value, money.currency_decimals(currency))


def _rate(value: Decimal, scale: int) -> str:
    """TipoCambioP/EquivalenciaDR: at most ``scale`` decimals, no trailing zeros."""
    return format(normalize_decimal(money.quantize(value, scale)), "f")


def _fecha(value: datetime) -> str:
    return value.replace(microsecond=0, tzinfo=None).isoformat(timespec="seconds")


def build_rep(header: RepHeader, complemento: Complemento) -> etree._Element:
    """The unsigned ``cfdi:Comprobante`` tipo P for ``complemento``."""
    if not complemento.pagos:
        raise ValidationError("El complemento de pago no tiene pagos.", code="REP_VACIO")
    root = etree.Element(_c("Comprobante"), nsmap=NSMAP)
    root.set(f"{{{NS_XSI}}}schemaLocation", SCHEMA_LOCATION)
    root.set("Version", "4.0")
    _set(root, "Serie", header.serie)
    _set(root, "Folio", header.folio)
    root.set("Fecha", _fecha(header.fecha))
    root.set("SubTotal", "0")
    root.set("Moneda", "XXX")
    root.set("Total", "0")
    root.set("TipoDeComprobante", "P")
    root.set("Exportacion", "01")
    root.set("LugarExpedicion", header.lugar_expedicion)
    _set(root, "Confirmacion", header.confirmacion)

    if header.sustituye_uuids:
        rel = etree.SubElement(root, _c("CfdiRelacionados"), TipoRelacion="04")
        for uuid in header.sustituye_uuids:
            etree.SubElement(rel, _c("CfdiRelacionado"), UUID=uuid.upper())

    emisor = etree.SubElement(root, _c("Emisor"))
    emisor.set("Rfc", header.emisor_rfc)
    emisor.set("Nombre", header.emisor_nombre)
    emisor.set("RegimenFiscal", header.emisor_regimen_fiscal)

    receptor = etree.SubElement(root, _c("Receptor"))
    receptor.set("Rfc", header.receptor_rfc)
    receptor.set("Nombre", header.receptor_nombre)
    receptor.set("DomicilioFiscalReceptor", header.receptor_domicilio_fiscal)
    _set(receptor, "ResidenciaFiscal", header.receptor_residencia_fiscal)
    _set(receptor, "NumRegIdTrib", header.receptor_num_reg_id_trib)
    receptor.set("RegimenFiscalReceptor", header.receptor_regimen_fiscal)
    receptor.set("UsoCFDI", "CP01")

    conceptos = etree.SubElement(root, _c("Conceptos"))
    concepto = etree.SubElement(conceptos, _c("Concepto"))
    for name, value in (
        ("ClaveProdServ", "84111506"), ("Cantidad", "1"), ("ClaveUnidad", "ACT"),
        ("Descripcion", "Pago"), ("ValorUnitario", "0"), ("Importe", "0"), ("ObjetoImp", "01"),
    ):
        concepto.set(name, value)

    complemento_el = etree.SubElement(root, _c("Complemento"))
    _fill_pagos(etree.SubElement(complemento_el, _p("Pagos")), complemento)
    return root


def build_pagos(complemento: Complemento) -> etree._Element:
    """The ``pago20:Pagos`` element alone."""
    return _fill_pagos(etree.Element(_p("Pagos"), nsmap={"pago20": NS_PAGOS20}), complemento)


def _fill_pagos(pagos: etree._Element, complemento: Complemento) -> etree._Element:
    pagos.set("Version", "2.0")
    pagos.append(_totales(complemento.totales))
    for pago in complemento.pagos:
        pagos.append(_pago(pago))
    return pagos


def _totales(t: Totales) -> etree._Element:
    el = etree.Element(_p("Totales"))
    for name, value in (
        ("TotalRetencionesIVA", t.total_retenciones_iva),
        ("TotalRetencionesISR", t.total_retenciones_isr),
        ("TotalRetencionesIEPS", t.total_retenciones_ieps),
        ("TotalTrasladosBaseIVA16", t.total_traslados_base_iva16),
        ("TotalTrasladosImpuestoIVA16", t.total_traslados_impuesto_iva16),
        ("TotalTrasladosBaseIVA8", t.total_traslados_base_iva8),
        ("TotalTrasladosImpuestoIVA8", t.total_traslados_impuesto_iva8),
        ("TotalTrasladosBaseIVA0", t.total_traslados_base_iva0),
        ("TotalTrasladosImpuestoIVA0", t.total_traslados_impuesto_iva0),
        ("TotalTrasladosBaseIVAExento", t.total_traslados_base_iva_exento),
        ("MontoTotalPagos", t.monto_total_pagos),
    ):
        if value is not None:
            el.set(name, money.fmt_amount(value, money.SCALE_TOTALES))
    return el


def _pago(pago: Pago) -> etree._Element:
    el = etree.Element(_p("Pago"))
    el.set("FechaPago", _fecha(pago.fecha_pago))
    el.set("FormaDePagoP", pago.forma_de_pago_p)
    el.set("MonedaP", pago.moneda_p)
    el.set("TipoCambioP", "1" if pago.moneda_p == "MXN" else _rate(pago.tipo_cambio_p,
                                                                    money.SCALE_TIPO_CAMBIO_P))
    el.set("Monto", _amount(pago.monto, pago.moneda_p))
    for name, value in (
        ("NumOperacion", pago.num_operacion),
        *((attr, getattr(pago, name)) for attr, name in CUENTAS_XML),
        ("TipoCadPago", pago.tipo_cad_pago),
        ("CertPago", pago.cert_pago),
        ("CadPago", pago.cad_pago),
        ("SelloPago", pago.sello_pago),
    ):
        _set(el, name, value)
    for docto in pago.doctos:
        el.append(_docto(docto))
    if pago.traslados_p or pago.retenciones_p:
        imp = etree.SubElement(el, _p("ImpuestosP"))
        if pago.retenciones_p:
            rets = etree.SubElement(imp, _p("RetencionesP"))
            for ret in pago.retenciones_p:
                r = etree.SubElement(rets, _p("RetencionP"))
                r.set("ImpuestoP", ret.impuesto)
                r.set("ImporteP", _amount(ret.importe, pago.moneda_p))
        if pago.traslados_p:
            tras = etree.SubElement(imp, _p("TrasladosP"))
            for tra in pago.traslados_p:
                t = etree.SubElement(tras, _p("TrasladoP"))
                t.set("BaseP", _amount(tra.base, pago.moneda_p))
                t.set("ImpuestoP", tra.impuesto)
                t.set("TipoFactorP", tra.tipo_factor)
                if tra.tasa_o_cuota is not None and tra.tipo_factor != "Exento":
                    t.set("TasaOCuotaP", money.fmt_amount(tra.tasa_o_cuota, SCALE_TASA))
                if tra.importe is not None and tra.tipo_factor != "Exento":
                    t.set("ImporteP", _amount(tra.importe, pago.moneda_p))
    return el


def _docto(d: DoctoRelacionado) -> etree._Element:
    el = etree.Element(_p("DoctoRelacionado"))
    el.set("IdDocumento", d.id_documento)
    _set(el, "Serie", d.serie)
    _set(el, "Folio", d.folio)
    el.set("MonedaDR", d.moneda_dr)
    el.set("EquivalenciaDR", "1" if d.equivalencia_dr == 1 else _rate(
        d.equivalencia_dr, money.SCALE_EQUIVALENCIA_DR))
    el.set("NumParcialidad", str(d.num_parcialidad))
    el.set("ImpSaldoAnt", _amount(d.imp_saldo_ant, d.moneda_dr))
    el.set("ImpPagado", _amount(d.imp_pagado, d.moneda_dr))
    el.set("ImpSaldoInsoluto", _amount(d.imp_saldo_insoluto, d.moneda_dr))
    el.set("ObjetoImpDR", d.objeto_imp_dr)
    if d.impuestos:
        imp = etree.SubElement(el, _p("ImpuestosDR"))
        if d.retenciones:
            group = etree.SubElement(imp, _p("RetencionesDR"))
            for tax in d.retenciones:
                group.append(_tax_dr("RetencionDR", tax, d.moneda_dr))
        if d.traslados:
            group = etree.SubElement(imp, _p("TrasladosDR"))
            for tax in d.traslados:
                group.append(_tax_dr("TrasladoDR", tax, d.moneda_dr))
    return el


def _tax_dr(tag: str, tax: ImpuestoDR, moneda: str) -> etree._Element:
    el = etree.Element(_p(tag))
    el.set("BaseDR", _amount(tax.base, moneda))
    el.set("ImpuestoDR", tax.impuesto)
    el.set("TipoFactorDR", tax.tipo_factor)
    if tax.tipo_factor != "Exento":
        el.set("TasaOCuotaDR", money.fmt_amount(tax.tasa_o_cuota or money.ZERO, SCALE_TASA))
        el.set("ImporteDR", _amount(tax.importe or money.ZERO, moneda))
    return el


def _reorder(root: etree._Element, order: Sequence[str]) -> None:
    items: dict[str, str] = {str(k): str(v) for k, v in root.attrib.items()}
    root.attrib.clear()
    for name in order:
        if name in items:
            root.set(name, items.pop(name))
    for name, value in items.items():
        root.set(name, value)


def with_certificate(root: etree._Element, *, no_certificado: str, certificado_b64: str,
                     sello: str = "") -> etree._Element:
    """A copy of ``root`` with NoCertificado/Certificado (and Sello) in XSD order."""
    signed = etree.fromstring(etree.tostring(root))
    signed.set("Sello", sello)
    signed.set("NoCertificado", no_certificado)
    signed.set("Certificado", certificado_b64)
    _reorder(signed, _COMPROBANTE_ORDER)
    return signed


def sign_rep(
    root: etree._Element,
    *,
    no_certificado: str,
    certificado_b64: str,
    cadena: Callable[[etree._Element], str],
    sign: Callable[[str], str],
) -> etree._Element:
    """Sign an unsigned REP in place and return it: certificate, cadena original, Sello.

    ``cadena`` applies the SAT XSLT (cadenaoriginal_4_0) to the tree as it will be sent
    (with NoCertificado and Certificado, without Sello); ``sign`` returns the base64
    RSA-SHA256 signature of that string with the CSD key. The tree is the one
    ``build_rep`` wrote, so signing it where it is gives the same cadena as a re-parsed
    copy (the golden files check it byte for byte) without serialising it twice.
    """
    if "Sello" in root.attrib:
        del root.attrib["Sello"]
    root.set("NoCertificado", no_certificado)
    root.set("Certificado", certificado_b64)
    original = cadena(root)
    root.set("Sello", sign(original))
    _reorder(root, _COMPROBANTE_ORDER)
    return root


def to_bytes(root: etree._Element) -> bytes:
    """UTF-8 bytes with XML declaration, as the PAC receives them."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
