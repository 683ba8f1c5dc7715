"""The printed representation of a stamped REP (CFDI 4.0 tipo P with Pagos 2.0).

``render_rep_pdf`` draws it with fpdf2 (core fonts, the QR as vector rectangles), in a
few milliseconds; ``render_rep_html`` writes the same content as one self-contained,
escaped HTML page (inline CSS, the QR as inline SVG, no external asset).

The XML comes from outside, so it is parsed by ``cfdi.parser.parse_xml`` (no DTD, no
entities, no network). Values are printed as the XML states them: this is evidence of a
signed document, not a recomputation; amounts are only formatted for reading.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import segno
from fpdf.enums import WrapMode, XPos, YPos
from lxml import etree

from cfdi_cobranza.cfdi.parser import NS_CFDI_40, parse_xml
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.pdf import formatting as f
from cfdi_cobranza.pdf.layout import (
    ACCENT,
    FONT,
    INK,
    MUTED,
    RULE,
    SANDBOX_BANNER,
    SANDBOX_WATERMARK,
    Column,
    PrintedDocument,
    pdf_text,
)

NS_PAGOS20 = "http://www.sat.gob.mx/Pagos20"
NS_TFD = "http://www.sat.gob.mx/TimbreFiscalDigital"
VERIFICA_URL = "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx"
LEYENDA = "Este documento es una representación impresa de un CFDI"

_C = f"{{{NS_CFDI_40}}}"
_P = f"{{{NS_PAGOS20}}}"

# Totales of Pagos 2.0 in the order the XSD declares them, with the label printed.
TOTALES_LABELS = (
    ("TotalRetencionesIVA", "Total retenciones IVA"),
    ("TotalRetencionesISR", "Total retenciones ISR"),
    ("TotalRetencionesIEPS", "Total retenciones IEPS"),
    ("TotalTrasladosBaseIVA16", "Total traslados base IVA 16%"),
    ("TotalTrasladosImpuestoIVA16", "Total traslados impuesto IVA 16%"),
    ("TotalTrasladosBaseIVA8", "Total traslados base IVA 8%"),
    ("TotalTrasladosImpuestoIVA8", "Total traslados impuesto IVA 8%"),
    ("TotalTrasladosBaseIVA0", "Total traslados base IVA 0%"),
    ("TotalTrasladosImpuestoIVA0", "Total traslados impuesto IVA 0%"),
    ("TotalTrasladosBaseIVAExento", "Total traslados base IVA exento"),
    ("MontoTotalPagos", "Monto total de pagos"),
)


# --- what is printed ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaxLine:
    tipo: str  # "Traslado" | "Retención"
    impuesto: str
    tipo_factor: str
    tasa_o_cuota: str
    base: str
    importe: str

    def describe(self) -> str:
        parts = [self.tipo, f.catalog("c_Impuesto", self.impuesto)]
        if self.tipo_factor:
            parts.append(self.tipo_factor)
        if self.tasa_o_cuota:
            parts.append(f.rate(self.tasa_o_cuota) if self.tipo_factor == "Tasa" else self.tasa_o_cuota)
        text = " ".join(p for p in parts if p)
        if self.base:
            text += f" · Base {f.number(self.base)}"
        if self.importe:
            text += f" · Importe {f.number(self.importe)}"
        return text


@dataclass(frozen=True, slots=True)
class RelatedDocument:
    id_documento: str
    serie: str
    folio: str
    moneda: str
    equivalencia: str
    parcialidad: str
    saldo_anterior: str
    importe_pagado: str
    saldo_insoluto: str
    objeto_imp: str
    impuestos: tuple[TaxLine, ...]

    @property
    def serie_folio(self) -> str:
        return "-".join(p for p in (self.serie, self.folio) if p)


@dataclass(frozen=True, slots=True)
class Payment:
    fecha_pago: str
    forma_pago: str
    moneda: str
    tipo_cambio: str
    monto: str
    num_operacion: str
    rfc_banco_ordenante: str
    banco_ordenante_ext: str
    cuenta_ordenante: str
    rfc_banco_beneficiario: str
    cuenta_beneficiaria: str
    tipo_cadena_pago: str
    documentos: tuple[RelatedDocument, ...]
    impuestos: tuple[TaxLine, ...]

    def bank_fields(self) -> list[tuple[str, str]]:
        fields = [
            ("RFC del banco ordenante", self.rfc_banco_ordenante),
            ("Banco ordenante (extranjero)", self.banco_ordenante_ext),
            ("Cuenta ordenante", self.cuenta_ordenante),
            ("RFC del banco beneficiario", self.rfc_banco_beneficiario),
            ("Cuenta beneficiaria", self.cuenta_beneficiaria),
            ("Tipo de cadena de pago", self.tipo_cadena_pago),
        ]
        return [(k, v) for k, v in fields if v]


@dataclass(frozen=True, slots=True)
class RepData:
    """Everything the printed REP shows, as text taken from the XML."""

    version: str
    serie: str
    folio: str
    fecha: str
    lugar_expedicion: str
    tipo_comprobante: str
    exportacion: str
    moneda: str
    total: str
    no_certificado: str
    sello: str
    emisor_rfc: str
    emisor_nombre: str
    emisor_regimen: str
    receptor_rfc: str
    receptor_nombre: str
    receptor_regimen: str
    receptor_cp: str
    receptor_uso: str
    relacionados: tuple[tuple[str, tuple[str, ...]], ...]  # (TipoRelacion, UUIDs)
    pagos: tuple[Payment, ...]
    totales: tuple[tuple[str, str], ...]  # (label, amount text) in XSD order
    uuid: str
    fecha_timbrado: str
    rfc_prov_certif: str
    leyenda_tfd: str
    sello_cfd: str
    no_certificado_sat: str
    sello_sat: str

    @property
    def serie_folio(self) -> str:
        return "-".join(p for p in (self.serie, self.folio) if p)

    @property
    def cadena_tfd(self) -> str:
        """Cadena original del complemento de certificación digital del SAT (TFD 1.1)."""
        parts = ["1.1", self.uuid, self.fecha_timbrado, self.rfc_prov_certif]
        if self.leyenda_tfd:
            parts.append(self.leyenda_tfd)
        parts += [self.sello_cfd, self.no_certificado_sat]
        # The SAT's XSLT collapses whitespace inside each value.
        return "||" + "|".join(" ".join(p.split()) for p in parts) + "||"

    @property
    def verification_url(self) -> str:
        return verification_url(
            self.uuid, self.emisor_rfc, self.receptor_rfc, self.total, self.sello
        )


def qr_total(total: str) -> str:
    """Total as Anexo 20 (3.3 and 4.0) asks for ``tt``: up to 18 integers and 6
    decimals, non-significant zeros omitted but at least one decimal (``0`` -> ``0.0``,
    ``1500.50`` -> ``1500.5``). A REP's Total is 0, so its ``tt`` is ``0.0``."""
    value = f.to_decimal(total) or Decimal(0)
    text = format(value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP), "f")
    text = text.rstrip("0")
    return text + "0" if text.endswith(".") else text


def verification_url(uuid: str, rfc_emisor: str, rfc_receptor: str, total: str, sello: str) -> str:
    """The URL the QR encodes (Anexo 20, representación impresa).

    An ``&`` inside an RFC is written ``&amp;`` so it cannot end the parameter; that is
    what the SAT's verification service expects.
    """
    def rfc(value: str) -> str:
        return value.replace("&", "&amp;")

    return (
        f"{VERIFICA_URL}?id={uuid}&re={rfc(rfc_emisor)}&rr={rfc(rfc_receptor)}"
        f"&tt={qr_total(total)}&fe={sello[-8:]}"
    )


# --- reading the XML ------------------------------------------------------------------


def _a(el: etree._Element | None, name: str) -> str:
    if el is None:
        return ""
    return el.get(name) or ""


def _taxes(container: etree._Element | None, suffix: str) -> tuple[TaxLine, ...]:
    """TrasladosDR/RetencionesDR (``suffix`` "DR") or TrasladosP/RetencionesP ("P")."""
    if container is None:
        return ()
    lines: list[TaxLine] = []
    for group, item, tipo in (
        ("Retenciones", "Retencion", "Retención"),
        ("Traslados", "Traslado", "Traslado"),
    ):
        box = container.find(f"{_P}{group}{suffix}")
        if box is None:
            continue
        for el in box.iterchildren(f"{_P}{item}{suffix}"):
            lines.append(
                TaxLine(
                    tipo=tipo,
                    impuesto=_a(el, f"Impuesto{suffix}"),
                    tipo_factor=_a(el, f"TipoFactor{suffix}"),
                    tasa_o_cuota=_a(el, f"TasaOCuota{suffix}"),
                    base=_a(el, f"Base{suffix}"),
                    importe=_a(el, f"Importe{suffix}"),
                )
            )
    return tuple(lines)


def _document(el: etree._Element) -> RelatedDocument:
    return RelatedDocument(
        id_documento=_a(el, "IdDocumento"),
        serie=_a(el, "Serie"),
        folio=_a(el, "Folio"),
        moneda=_a(el, "MonedaDR"),
        equivalencia=_a(el, "EquivalenciaDR"),
        parcialidad=_a(el, "NumParcialidad"),
        saldo_anterior=_a(el, "ImpSaldoAnt"),
        importe_pagado=_a(el, "ImpPagado"),
        saldo_insoluto=_a(el, "ImpSaldoInsoluto"),
        objeto_imp=_a(el, "ObjetoImpDR"),
        impuestos=_taxes(el.find(f"{_P}ImpuestosDR"), "DR"),
    )


def _payment(el: etree._Element) -> Payment:
    return Payment(
        fecha_pago=_a(el, "FechaPago"),
        forma_pago=_a(el, "FormaDePagoP"),
        moneda=_a(el, "MonedaP"),
        tipo_cambio=_a(el, "TipoCambioP"),
        monto=_a(el, "Monto"),
        num_operacion=_a(el, "NumOperacion"),
        rfc_banco_ordenante=_a(el, "RfcEmisorCtaOrd"),
        banco_ordenante_ext=_a(el, "NomBancoOrdExt"),
        cuenta_ordenante=_a(el, "CtaOrdenante"),
        rfc_banco_beneficiario=_a(el, "RfcEmisorCtaBen"),
        cuenta_beneficiaria=_a(el, "CtaBeneficiario"),
        tipo_cadena_pago=_a(el, "TipoCadPago"),
        documentos=tuple(_document(d) for d in el.iterchildren(f"{_P}DoctoRelacionado")),
        impuestos=_taxes(el.find(f"{_P}ImpuestosP"), "P"),
    )


def parse_rep(xml: bytes) -> RepData:
    """Read a stamped CFDI 4.0 tipo P with Pagos 2.0; refuse anything else in Spanish."""
    root = parse_xml(xml)
    if root.tag != f"{_C}Comprobante":
        raise ValidationError(
            "Solo se imprimen complementos de pago CFDI 4.0 (Pagos 2.0).", code="NO_ES_REP_40"
        )
    comp = root.find(f"{_C}Complemento")
    pagos = comp.find(f"{_P}Pagos") if comp is not None else None
    if pagos is None:
        raise ValidationError(
            "El CFDI no contiene el Complemento de Pagos 2.0; no es un REP.", code="NO_ES_REP"
        )
    tfd = comp.find(f"{{{NS_TFD}}}TimbreFiscalDigital") if comp is not None else None
    if tfd is None:
        raise ValidationError(
            "El CFDI no está timbrado: no tiene TimbreFiscalDigital.", code="SIN_TIMBRE"
        )
    emisor = root.find(f"{_C}Emisor")
    receptor = root.find(f"{_C}Receptor")
    totales_el = pagos.find(f"{_P}Totales")
    totales = tuple(
        (label, _a(totales_el, attr)) for attr, label in TOTALES_LABELS if _a(totales_el, attr)
    )
    relacionados = tuple(
        (
            _a(grp, "TipoRelacion"),
            tuple(_a(r, "UUID") for r in grp.iterchildren(f"{_C}CfdiRelacionado")),
        )
        for grp in root.iterchildren(f"{_C}CfdiRelacionados")
    )
    return RepData(
        version=_a(root, "Version"),
        serie=_a(root, "Serie"),
        folio=_a(root, "Folio"),
        fecha=_a(root, "Fecha"),
        lugar_expedicion=_a(root, "LugarExpedicion"),
        tipo_comprobante=_a(root, "TipoDeComprobante"),
        exportacion=_a(root, "Exportacion"),
        moneda=_a(root, "Moneda"),
        total=_a(root, "Total"),
        no_certificado=_a(root, "NoCertificado"),
        sello=_a(root, "Sello"),
        emisor_rfc=_a(emisor, "Rfc"),
        emisor_nombre=_a(emisor, "Nombre"),
        emisor_regimen=_a(emisor, "RegimenFiscal"),
        receptor_rfc=_a(receptor, "Rfc"),
        receptor_nombre=_a(receptor, "Nombre"),
        receptor_regimen=_a(receptor, "RegimenFiscalReceptor"),
        receptor_cp=_a(receptor, "DomicilioFiscalReceptor"),
        receptor_uso=_a(receptor, "UsoCFDI"),
        relacionados=relacionados,
        pagos=tuple(_payment(p) for p in pagos.iterchildren(f"{_P}Pago")),
        totales=totales,
        uuid=_a(tfd, "UUID").upper(),
        fecha_timbrado=_a(tfd, "FechaTimbrado"),
        rfc_prov_certif=_a(tfd, "RfcProvCertif"),
        leyenda_tfd=_a(tfd, "Leyenda"),
        sello_cfd=_a(tfd, "SelloCFD"),
        no_certificado_sat=_a(tfd, "NoCertificadoSAT"),
        sello_sat=_a(tfd, "SelloSAT"),
    )


def qr_matrix(url: str) -> Sequence[Sequence[int]]:
    """Module matrix of the verification QR, with a 4-module quiet zone."""
    # Error correction M, as the SAT's printed-representation rules ask; boost_error
    # off so the level is exactly that and the symbol stays as small as possible.
    code = segno.make_qr(url, error="m", boost_error=False)
    border = 4
    n = len(code.matrix)
    blank = [0] * (n + 2 * border)
    rows: list[Sequence[int]] = [blank] * border
    rows += [[0] * border + [1 if v else 0 for v in row] + [0] * border for row in code.matrix]
    rows += [blank] * border
    return rows


# --- the PDF --------------------------------------------------------------------------

# Widths measured for 6.5 pt: a full UUID, "$11,600,000.00 MXN", a 10-decimal
# EquivalenciaDR; they add up to the 191.9 mm between Letter margins.
_DOC_SIZE = 6.5
_DOC_COLUMNS = (
    Column("Folio fiscal (UUID)", 51),
    Column("Serie/Folio", 17),
    Column("Moneda", 11, "C"),
    Column("Equivalencia", 18, "R"),
    Column("Parc.", 8, "C"),
    Column("Saldo anterior", 25, "R"),
    Column("Importe pagado", 25, "R"),
    Column("Saldo insoluto", 25, "R"),
    Column("Obj. imp.", 11.9, "C"),
)

_TAX_COLUMNS = (
    Column("Tipo", 22),
    Column("Impuesto", 30),
    Column("Tipo factor", 22),
    Column("Tasa o cuota", 28, "R"),
    Column("Base", 45, "R"),
    Column("Importe", 45, "R"),
)


def _page_header(rep: RepData) -> Callable[[PrintedDocument], None]:
    def draw(pdf: PrintedDocument) -> None:
        top = pdf.get_y()
        if pdf.page_no() > 1:
            pdf.set_font(FONT, "B", 8)
            pdf.set_text_color(*ACCENT)
            pdf.cell(0, 5, pdf_text(f"Complemento de pago {rep.serie_folio}  ·  {rep.emisor_nombre}"))
            pdf.set_x(pdf.l_margin)
            pdf.set_font(FONT, "", 7)
            pdf.set_text_color(*MUTED)
            pdf.cell(0, 5, pdf_text(f"Folio fiscal: {rep.uuid}  (continuación)"), align="R")
            pdf.set_text_color(*INK)
            pdf.ln(6)
            pdf.set_draw_color(*RULE)
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
            pdf.ln(2)
            return
        box_w = 74
        left_w = pdf.w - pdf.l_margin - pdf.r_margin - box_w - 4
        pdf.set_font(FONT, "B", 12)
        pdf.set_text_color(*ACCENT)
        pdf.multi_cell(left_w, 5.4, pdf_text(rep.emisor_nombre), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(*INK)
        pdf.set_font(FONT, "", 7.5)
        for line in (
            f"RFC: {rep.emisor_rfc}",
            f"Régimen fiscal: {f.catalog('c_RegimenFiscal', rep.emisor_regimen)}",
            f"Lugar de expedición (CP): {rep.lugar_expedicion}",
            f"No. de certificado del emisor: {rep.no_certificado}",
        ):
            pdf.cell(left_w, 3.8, pdf.fit(line, left_w), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        left_bottom = pdf.get_y()

        x = pdf.w - pdf.r_margin - box_w
        pdf.set_xy(x, top)
        pdf.set_fill_color(*ACCENT)
        pdf.set_text_color(255, 255, 255)
        pdf.set_font(FONT, "B", 9)
        pdf.cell(box_w, 6, pdf_text("COMPLEMENTO DE PAGO (REP)"), align="C", fill=True)
        pdf.set_text_color(*INK)
        rows = (
            ("Serie/Folio", rep.serie_folio or "—"),
            ("Folio fiscal (UUID)", rep.uuid),
            ("Fecha de emisión", f.fecha_hora(rep.fecha)),
            ("Comprobante", f"CFDI {rep.version} · {f.catalog('c_TipoDeComprobante', rep.tipo_comprobante)}"),
        )
        y = top + 6
        pdf.set_draw_color(*RULE)
        pdf.rect(x, top, box_w, 6 + 4 * 6.6)
        for label, value in rows:
            pdf.set_xy(x + 1.5, y + 0.6)
            pdf.set_font(FONT, "", 6)
            pdf.set_text_color(*MUTED)
            pdf.cell(box_w - 3, 2.6, pdf_text(label))
            pdf.set_xy(x + 1.5, y + 3.1)
            pdf.set_font(FONT, "B", 7.6)
            pdf.set_text_color(*INK)
            pdf.cell(box_w - 3, 3.2, pdf.fit(value, box_w - 3))
            y += 6.6
        pdf.set_y(max(left_bottom, y) + 2)

    return draw


def _fields(
    pdf: PrintedDocument, pairs: Sequence[tuple[str, str]], columns: int = 3
) -> None:
    """Label-over-value grid; a value that does not fit its cell is shortened (the full
    value is always elsewhere: a name gets its own full-width row)."""
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / columns
    for start in range(0, len(pairs), columns):
        if pdf.will_page_break(8):
            pdf.add_page()
        y = pdf.get_y()
        for i, (label, value) in enumerate(pairs[start : start + columns]):
            x = pdf.l_margin + i * width
            pdf.set_xy(x, y)
            pdf.set_font(FONT, "", 6.2)
            pdf.set_text_color(*MUTED)
            pdf.cell(width, 3, pdf_text(label))
            pdf.set_xy(x, y + 3)
            pdf.set_font(FONT, "", 8)
            pdf.set_text_color(*INK)
            pdf.cell(width, 4, pdf.fit(value, width))
        pdf.set_xy(pdf.l_margin, y + 7.6)


def _full_width(pdf: PrintedDocument, label: str, value: str) -> None:
    pdf.set_font(FONT, "", 6.2)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 3, pdf_text(label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "B", 8.5)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, 4, pdf_text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(0.6)


def _tax_rows(pdf: PrintedDocument, taxes: Sequence[TaxLine], currency: str) -> None:
    pdf.table_header(_TAX_COLUMNS)
    for i, t in enumerate(taxes):
        pdf.table_row(
            _TAX_COLUMNS,
            (
                t.tipo,
                f.catalog("c_Impuesto", t.impuesto),
                t.tipo_factor,
                f.rate(t.tasa_o_cuota) if t.tipo_factor == "Tasa" else t.tasa_o_cuota,
                f.number(t.base),
                f.number(t.importe) + (f" {currency}" if t.importe else ""),
            ),
            zebra=i % 2 == 1,
        )


def _draw_payment(pdf: PrintedDocument, pago: Payment, index: int, count: int) -> None:
    pdf.section(f"Pago {index} de {count}" if count > 1 else "Pago")
    _fields(
        pdf,
        [
            ("Fecha de pago", f.fecha_hora(pago.fecha_pago)),
            ("Forma de pago", f.catalog("c_FormaPago", pago.forma_pago)),
            ("Moneda", f.catalog("c_Moneda", pago.moneda)),
            ("Tipo de cambio", f.number(pago.tipo_cambio) if pago.tipo_cambio else "—"),
            ("Monto", f.money(pago.monto, pago.moneda)),
            ("Número de operación", pago.num_operacion or "—"),
        ],
    )
    bank = pago.bank_fields()
    if bank:
        _fields(pdf, bank)

    pdf.set_font(FONT, "B", 7.5)
    pdf.cell(0, 5, pdf_text(f"Documentos relacionados ({len(pago.documentos)})"),
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.table_header(_DOC_COLUMNS, _DOC_SIZE)
    for i, d in enumerate(pago.documentos):
        tax_lines = [t.describe() for t in d.impuestos]
        pdf.table_row(
            _DOC_COLUMNS,
            (
                d.id_documento.upper(),
                d.serie_folio or "—",
                d.moneda,
                f.number(d.equivalencia),
                d.parcialidad,
                f.money(d.saldo_anterior, d.moneda),
                f.money(d.importe_pagado, d.moneda),
                f.money(d.saldo_insoluto, d.moneda),
                d.objeto_imp,
            ),
            size=_DOC_SIZE,
            zebra=i % 2 == 1,
            keep_with=3.4 * len(tax_lines),
        )
        if tax_lines:
            pdf.set_font(FONT, "I", 6.3)
            pdf.set_text_color(*MUTED)
            for line in tax_lines:
                pdf.set_x(pdf.l_margin + 6)
                pdf.cell(0, 3.4, pdf_text(f"Impuestos DR: {line}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_text_color(*INK)

    if pago.impuestos:
        if pdf.will_page_break(16):
            pdf.add_page()
        pdf.ln(1.5)
        pdf.set_font(FONT, "B", 7.5)
        pdf.cell(0, 5, pdf_text("Impuestos del pago (ImpuestosP)"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        _tax_rows(pdf, pago.impuestos, pago.moneda)


def _draw_timbre(pdf: PrintedDocument, rep: RepData) -> None:
    side = 32.0
    # QR, certificate data and the first sello must stay together on one page.
    if pdf.will_page_break(side + 12):
        pdf.add_page()
    pdf.section("Timbre fiscal digital")
    y = pdf.get_y()
    pdf.qr(qr_matrix(rep.verification_url), pdf.l_margin - 1.5, y, side)
    x = pdf.l_margin + side + 2
    width = pdf.w - pdf.r_margin - x
    rows = (
        ("Folio fiscal (UUID)", rep.uuid),
        ("No. de certificado del emisor", rep.no_certificado),
        ("No. de certificado del SAT", rep.no_certificado_sat),
        ("Fecha y hora de certificación", f.fecha_hora(rep.fecha_timbrado)),
        ("RFC del proveedor de certificación", rep.rfc_prov_certif),
    )
    pdf.set_xy(x, y + 1)
    for label, value in rows:
        pdf.set_x(x)
        pdf.set_font(FONT, "", 7)
        pdf.set_text_color(*MUTED)
        pdf.cell(52, 4.4, pdf_text(label))
        pdf.set_font(FONT, "B", 7.6)
        pdf.set_text_color(*INK)
        pdf.cell(width - 52, 4.4, pdf.fit(value, width - 52), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(x)
    pdf.set_font(FONT, "B", 8)
    pdf.set_text_color(*ACCENT)
    pdf.cell(width, 5, pdf_text(LEYENDA), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(x)
    pdf.set_font(FONT, "", 5.8)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(width, 2.6, pdf_text(rep.verification_url), wrapmode=WrapMode.CHAR,
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
    pdf.set_y(max(pdf.get_y(), y + side) + 1)
    pdf.wrapped_mono("Sello digital del CFDI", rep.sello_cfd or rep.sello)
    pdf.wrapped_mono("Sello digital del SAT", rep.sello_sat)
    pdf.wrapped_mono(
        "Cadena original del complemento de certificación digital del SAT", rep.cadena_tfd
    )


def _draw(rep: RepData, *, sandbox: bool, compress: bool) -> bytes:
    pdf = PrintedDocument(
        footer_note=f"{LEYENDA}  ·  Folio fiscal {rep.uuid}",
        sandbox=sandbox,
        compress=compress,
        title=f"Complemento de pago {rep.serie_folio} {rep.uuid}",
    )
    pdf.page_header = _page_header(rep)
    pdf.add_page()

    pdf.section("Receptor")
    _full_width(pdf, "Nombre o razón social", rep.receptor_nombre)
    _fields(
        pdf,
        [
            ("RFC", rep.receptor_rfc),
            ("Domicilio fiscal (CP)", rep.receptor_cp),
            ("Uso CFDI", f.catalog("c_UsoCFDI", rep.receptor_uso)),
        ],
    )
    _fields(
        pdf,
        [
            ("Régimen fiscal", f.catalog("c_RegimenFiscal", rep.receptor_regimen)),
            ("Exportación", f.catalog("c_Exportacion", rep.exportacion)),
        ],
        columns=2,
    )
    for tipo, uuids in rep.relacionados:
        _full_width(
            pdf,
            f"CFDI relacionados · {f.catalog('c_TipoRelacion', tipo)}",
            ", ".join(u.upper() for u in uuids),
        )

    for i, pago in enumerate(rep.pagos, start=1):
        _draw_payment(pdf, pago, i, len(rep.pagos))

    if rep.totales:
        pdf.section("Totales")
        _fields(pdf, [(label, f.money(value, "MXN")) for label, value in rep.totales])

    _draw_timbre(pdf, rep)
    return bytes(pdf.output())


def render_rep_pdf(xml: bytes, *, sandbox: bool = False, compress: bool = True) -> bytes:
    """The printed REP as PDF bytes.

    ``sandbox`` marks every page "SIN VALIDEZ FISCAL"; ``compress=False`` leaves the
    page streams readable (tests look for text without a PDF parser).
    """
    return _draw(parse_rep(xml), sandbox=sandbox, compress=compress)


# --- the HTML -------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
body{font-family:Helvetica,Arial,sans-serif;color:#212529;margin:0;background:#f1f3f5;font-size:13px}
.page{max-width:960px;margin:16px auto;background:#fff;padding:24px 28px;position:relative;overflow:hidden}
.sandbox-banner{background:#be141e;color:#fff;font-weight:bold;text-align:center;padding:10px;font-size:18px;position:sticky;top:0;z-index:10}
.watermark{position:fixed;top:40%;left:50%;transform:translate(-50%,-50%) rotate(-40deg);font-size:84px;font-weight:bold;color:rgba(190,20,30,.14);white-space:nowrap;pointer-events:none;z-index:5}
header{display:flex;justify-content:space-between;gap:16px;border-bottom:2px solid #163460;padding-bottom:10px}
h1{font-size:20px;color:#163460;margin:0 0 4px}
h2{font-size:14px;color:#163460;border-bottom:1px solid #163460;margin:18px 0 8px;padding-bottom:2px}
.box{border:1px solid #bec6d0;min-width:300px}
.box .title{background:#163460;color:#fff;font-weight:bold;text-align:center;padding:4px}
.box dl{margin:0;padding:6px 8px}
dl.grid{display:grid;grid-template-columns:repeat(3,1fr);gap:6px 16px;margin:0}
dt{font-size:11px;color:#6c757d}
dd{margin:0 0 4px;font-weight:bold}
table{border-collapse:collapse;width:100%;font-size:12px;margin-top:4px}
th{background:#e2e8f0;text-align:left;padding:4px;border-bottom:1px solid #bec6d0}
td{padding:3px 4px;border-bottom:1px solid #eef1f4;vertical-align:top}
td.num,th.num{text-align:right;white-space:nowrap}
tr.taxes td{color:#6c757d;font-style:italic;font-size:11px;padding-left:24px}
.timbre{display:flex;gap:16px;align-items:flex-start}
.timbre svg{width:140px;height:140px;flex:none}
.mono{font-family:"Courier New",monospace;font-size:11px;word-break:break-all}
.leyenda{font-weight:bold;color:#163460}
.url{font-size:11px;word-break:break-all;color:#6c757d}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _dl(pairs: Sequence[tuple[str, str]], cls: str = "grid") -> str:
    items = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in pairs)
    return f'<dl class="{cls}">{items}</dl>'


def _html_taxes(taxes: Sequence[TaxLine], currency: str) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{_e(t.tipo)}</td><td>{_e(f.catalog('c_Impuesto', t.impuesto))}</td>"
        f"<td>{_e(t.tipo_factor)}</td>"
        f'<td class="num">{_e(f.rate(t.tasa_o_cuota) if t.tipo_factor == "Tasa" else t.tasa_o_cuota)}</td>'
        f'<td class="num">{_e(f.number(t.base))}</td>'
        f'<td class="num">{_e(f.number(t.importe))} {_e(currency)}</td>'
        "</tr>"
        for t in taxes
    )
    return (
        "<table><thead><tr><th>Tipo</th><th>Impuesto</th><th>Tipo factor</th>"
        '<th class="num">Tasa o cuota</th><th class="num">Base</th><th class="num">Importe</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _html_payment(pago: Payment, index: int, count: int) -> str:
    parts = [f"<h2>{_e(f'Pago {index} de {count}' if count > 1 else 'Pago')}</h2>"]
    parts.append(
        _dl(
            [
                ("Fecha de pago", f.fecha_hora(pago.fecha_pago)),
                ("Forma de pago", f.catalog("c_FormaPago", pago.forma_pago)),
                ("Moneda", f.catalog("c_Moneda", pago.moneda)),
                ("Tipo de cambio", f.number(pago.tipo_cambio) if pago.tipo_cambio else "—"),
                ("Monto", f.money(pago.monto, pago.moneda)),
                ("Número de operación", pago.num_operacion or "—"),
                *pago.bank_fields(),
            ]
        )
    )
    rows = []
    for d in pago.documentos:
        rows.append(
            "<tr>"
            f'<td class="mono">{_e(d.id_documento.upper())}</td><td>{_e(d.serie_folio or "—")}</td>'
            f"<td>{_e(d.moneda)}</td><td class=\"num\">{_e(f.number(d.equivalencia))}</td>"
            f"<td>{_e(d.parcialidad)}</td>"
            f'<td class="num">{_e(f.money(d.saldo_anterior, d.moneda))}</td>'
            f'<td class="num">{_e(f.money(d.importe_pagado, d.moneda))}</td>'
            f'<td class="num">{_e(f.money(d.saldo_insoluto, d.moneda))}</td>'
            f"<td>{_e(f.catalog('c_ObjetoImp', d.objeto_imp))}</td>"
            "</tr>"
        )
        for t in d.impuestos:
            rows.append(f'<tr class="taxes"><td colspan="9">Impuestos DR: {_e(t.describe())}</td></tr>')
    parts.append(
        f"<h3>Documentos relacionados ({len(pago.documentos)})</h3>"
        "<table><thead><tr><th>Folio fiscal (UUID)</th><th>Serie/Folio</th><th>Moneda</th>"
        '<th class="num">Equivalencia</th><th>Parcialidad</th><th class="num">Saldo anterior</th>'
        '<th class="num">Importe pagado</th><th class="num">Saldo insoluto</th>'
        f"<th>Objeto de impuesto</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    if pago.impuestos:
        parts.append("<h3>Impuestos del pago (ImpuestosP)</h3>")
        parts.append(_html_taxes(pago.impuestos, pago.moneda))
    return "".join(parts)


def _svg_qr(url: str) -> str:
    matrix = qr_matrix(url)
    n = len(matrix)
    path = []
    for r, row in enumerate(matrix):
        c = 0
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                path.append(f"M{start} {r}h{c - start}v1h-{c - start}z")
            else:
                c += 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" role="img" '
        f'aria-label="Código QR de verificación del SAT" shape-rendering="crispEdges">'
        f'<rect width="{n}" height="{n}" fill="#fff"/><path d="{"".join(path)}" fill="#000"/></svg>'
    )


def render_rep_html(xml: bytes, *, sandbox: bool = False) -> str:
    """The printed REP as one self-contained HTML page; every XML value is escaped."""
    rep = parse_rep(xml)
    url = rep.verification_url
    body: list[str] = []
    if sandbox:
        body.append(f'<div class="sandbox-banner" role="alert">{_e(SANDBOX_BANNER)}</div>')
        body.append(f'<div class="watermark" aria-hidden="true">{_e(SANDBOX_WATERMARK)}</div>')
    body.append('<main class="page">')
    body.append(
        "<header><div>"
        f"<h1>{_e(rep.emisor_nombre)}</h1>"
        f"<div>RFC: <b>{_e(rep.emisor_rfc)}</b></div>"
        f"<div>Régimen fiscal: {_e(f.catalog('c_RegimenFiscal', rep.emisor_regimen))}</div>"
        f"<div>Lugar de expedición (CP): {_e(rep.lugar_expedicion)}</div>"
        '</div><div class="box"><div class="title">COMPLEMENTO DE PAGO (REP)</div>'
        + _dl(
            [
                ("Serie/Folio", rep.serie_folio or "—"),
                ("Folio fiscal (UUID)", rep.uuid),
                ("Fecha de emisión", f.fecha_hora(rep.fecha)),
                ("Comprobante", f"CFDI {rep.version} · {f.catalog('c_TipoDeComprobante', rep.tipo_comprobante)}"),
            ],
            cls="",
        )
        + "</div></header>"
    )
    body.append("<h2>Receptor</h2>")
    body.append(
        _dl(
            [
                ("Nombre o razón social", rep.receptor_nombre),
                ("RFC", rep.receptor_rfc),
                ("Domicilio fiscal (CP)", rep.receptor_cp),
                ("Régimen fiscal", f.catalog("c_RegimenFiscal", rep.receptor_regimen)),
                ("Uso CFDI", f.catalog("c_UsoCFDI", rep.receptor_uso)),
                ("Exportación", f.catalog("c_Exportacion", rep.exportacion)),
                *(
                    (f"CFDI relacionados · {f.catalog('c_TipoRelacion', tipo)}", ", ".join(uuids))
                    for tipo, uuids in rep.relacionados
                ),
            ]
        )
    )
    for i, pago in enumerate(rep.pagos, start=1):
        body.append(_html_payment(pago, i, len(rep.pagos)))
    if rep.totales:
        body.append("<h2>Totales</h2>")
        body.append(_dl([(label, f.money(value, "MXN")) for label, value in rep.totales]))
    body.append("<h2>Timbre fiscal digital</h2>")
    body.append(
        f'<div class="timbre">{_svg_qr(url)}<div>'
        + _dl(
            [
                ("Folio fiscal (UUID)", rep.uuid),
                ("No. de certificado del emisor", rep.no_certificado),
                ("No. de certificado del SAT", rep.no_certificado_sat),
                ("Fecha y hora de certificación", f.fecha_hora(rep.fecha_timbrado)),
                ("RFC del proveedor de certificación", rep.rfc_prov_certif),
            ],
            cls="",
        )
        + f'<p class="leyenda">{_e(LEYENDA)}</p>'
        f'<p class="url"><a href="{_e(url)}">{_e(url)}</a></p></div></div>'
    )
    for label, value in (
        ("Sello digital del CFDI", rep.sello_cfd or rep.sello),
        ("Sello digital del SAT", rep.sello_sat),
        ("Cadena original del complemento de certificación digital del SAT", rep.cadena_tfd),
    ):
        body.append(f"<h3>{_e(label)}</h3><p class=\"mono\">{_e(value)}</p>")
    body.append(f'<footer><p class="leyenda">{_e(LEYENDA)}</p></footer></main>')
    title = f"Complemento de pago {rep.serie_folio} {rep.uuid}"
    if sandbox:
        title = f"{SANDBOX_WATERMARK} — {title}"
    return (
        '<!DOCTYPE html><html lang="es"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No script, style or image may come from elsewhere: the page is self-contained.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        + "".join(body)
        + "</body></html>"
    )
