"""Collection and verification letters per customer, as PDF.

Four kinds: confirmación de saldos, primer y segundo recordatorio, aviso prejurídico.
Their wording lives in ``templates/<kind>.txt`` so the company can edit it; a template
may also come with the letter (``LetterData.template``), e.g. edited by a user.

A template is text with ``{campo}`` placeholders. Substitution is a plain lookup in a
closed dict of strings: no ``str.format`` (which would evaluate ``{x.__class__}`` or
``{x[0]}``), no attribute or index access, nothing executed. An unknown placeholder is
refused with the list of the ones allowed, so a typo never reaches a customer.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib import resources

from fpdf.enums import XPos, YPos

from cfdi_cobranza.domain.statement import Company
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.pdf import formatting as f
from cfdi_cobranza.pdf.layout import (
    ACCENT,
    ALERT,
    FONT,
    INK,
    MUTED,
    RULE,
    Column,
    PrintedDocument,
    pdf_text,
)


class LetterKind(StrEnum):
    CONFIRMACION_SALDOS = "confirmacion_saldos"
    RECORDATORIO_1 = "recordatorio_1"
    RECORDATORIO_2 = "recordatorio_2"
    PREJURIDICA = "prejuridica"


KIND_TITLES = {
    LetterKind.CONFIRMACION_SALDOS: "Confirmación de saldos",
    LetterKind.RECORDATORIO_1: "Recordatorio de pago",
    LetterKind.RECORDATORIO_2: "Segundo recordatorio de pago",
    LetterKind.PREJURIDICA: "Aviso prejurídico",
}

PLACEHOLDERS = (
    "cliente",
    "rfc_cliente",
    "empresa",
    "rfc_empresa",
    "fecha",
    "fecha_corte",
    "saldo_total",
    "total_vencido",
    "num_documentos",
    "num_vencidos",
    "dias_maximo_vencido",
)

TABLE_MARK = "---"


@dataclass(frozen=True, slots=True)
class Customer:
    nombre: str
    rfc: str
    domicilio: str | None = None
    atencion: str | None = None  # "At'n" line: the customer's accounts payable contact


@dataclass(frozen=True, slots=True)
class LetterDocument:
    """An open document listed in the letter."""

    serie_folio: str
    uuid: str
    fecha: date
    vencimiento: date
    dias_vencidos: int  # <= 0 while not yet due
    moneda: str
    total: Decimal
    saldo: Decimal


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    moneda: str
    total: Decimal
    saldo: Decimal
    vencido: Decimal


@dataclass(frozen=True, slots=True)
class LetterData:
    company: Company
    customer: Customer
    fecha: date
    kind: LetterKind | str
    documents: Sequence[LetterDocument] = ()
    fecha_corte: date | None = None  # the as-of date of the balances; ``fecha`` if None
    template: str | None = None  # None: ``templates/<kind>.txt``
    firmante: str | None = None
    puesto: str | None = "Departamento de Crédito y Cobranza"
    extra: Mapping[str, str] = field(default_factory=dict)  # never overrides a standard field

    @property
    def corte(self) -> date:
        return self.fecha_corte or self.fecha

    def totals(self) -> list[CurrencyTotals]:
        """Saldo and vencido per currency (a USD balance is never added to MXN)."""
        acc: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
        for d in self.documents:
            row = acc[d.moneda]
            row[0] += d.total
            row[1] += d.saldo
            if d.dias_vencidos > 0:
                row[2] += d.saldo
        # MXN first, then the others alphabetically: the order a Mexican reader expects.
        order = sorted(acc, key=lambda m: (m != "MXN", m))
        return [CurrencyTotals(m, *acc[m]) for m in order]


# --- templates ------------------------------------------------------------------------


@cache
def default_template(kind: LetterKind | str) -> str:
    """The editable default text of ``kind`` from ``templates/<kind>.txt``."""
    kind = _kind(kind)
    return resources.files(__package__).joinpath("templates", f"{kind.value}.txt").read_text("utf-8")


def _kind(kind: LetterKind | str) -> LetterKind:
    try:
        return LetterKind(kind)
    except ValueError as exc:
        raise ValidationError(
            f"Tipo de carta desconocido: {kind!s}. Use uno de: "
            + ", ".join(k.value for k in LetterKind),
            code="CARTA_TIPO_INVALIDO",
        ) from exc


# ``{{`` and ``}}`` are literal braces; ``{anything}`` is a placeholder to look up.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}")


def unknown_placeholders(text: str, allowed: Iterable[str] = PLACEHOLDERS) -> list[str]:
    """Placeholders of ``text`` that are not fields (``{x.__class__}``, typos ...)."""
    names = set(allowed)
    return [m.group(1) for m in _TOKEN.finditer(text) if m.group(1) is not None and m.group(1) not in names]


def fill_template(text: str, values: Mapping[str, str]) -> str:
    """Replace ``{campo}`` by ``values[campo]``; refuse any other placeholder."""
    bad = unknown_placeholders(text, values.keys())
    if bad:
        shown = ", ".join("{" + b + "}" for b in dict.fromkeys(bad))
        raise ValidationError(
            f"La plantilla contiene campos no permitidos: {shown}. "
            "Campos disponibles: " + ", ".join("{" + k + "}" for k in PLACEHOLDERS) + ".",
            code="PLANTILLA_INVALIDA",
        )

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return values[match.group(1)]

    return _TOKEN.sub(replace, text)


def _join_amounts(amounts: Sequence[tuple[str, Decimal]]) -> str:
    shown = [f.money(v, m) for m, v in amounts]
    if not shown:
        return f.money(Decimal(0), "MXN")
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " y " + shown[-1]


def letter_values(letter: LetterData) -> dict[str, str]:
    totals = letter.totals()
    overdue = [d for d in letter.documents if d.dias_vencidos > 0 and d.saldo > 0]
    values = {k: v for k, v in letter.extra.items() if k not in PLACEHOLDERS}
    values.update(
        cliente=letter.customer.nombre,
        rfc_cliente=letter.customer.rfc,
        empresa=letter.company.nombre,
        rfc_empresa=letter.company.rfc,
        fecha=f.fecha_larga(letter.fecha),
        fecha_corte=f.fecha(letter.corte),
        saldo_total=_join_amounts([(t.moneda, t.saldo) for t in totals]),
        total_vencido=_join_amounts([(t.moneda, t.vencido) for t in totals if t.vencido]),
        num_documentos=str(len(letter.documents)),
        num_vencidos=str(len(overdue)),
        dias_maximo_vencido=str(max((d.dias_vencidos for d in overdue), default=0)),
    )
    return values


@dataclass(frozen=True, slots=True)
class LetterText:
    asunto: str
    cuerpo: str
    cierre: str


def compose(letter: LetterData) -> LetterText:
    """The letter's subject, body and closing with every placeholder substituted."""
    template = letter.template if letter.template is not None else default_template(letter.kind)
    lines = [ln for ln in template.splitlines() if not ln.lstrip().startswith("#")]
    asunto = KIND_TITLES[_kind(letter.kind)]
    for i, ln in enumerate(lines):
        if ln.strip():
            if ln.strip().lower().startswith("asunto:"):
                asunto = ln.split(":", 1)[1].strip()
                lines = lines[i + 1 :]
            break
    text = "\n".join(lines)
    before, _, after = text.partition(f"\n{TABLE_MARK}\n")
    values = letter_values(letter)
    return LetterText(
        asunto=fill_template(asunto, values),
        cuerpo=fill_template(before.strip("\n"), values),
        cierre=fill_template(after.strip("\n"), values),
    )


# --- the PDF --------------------------------------------------------------------------

# Letters have 20 mm margins: 175.9 mm of Letter width, measured for 6.5 pt text.
_DOC_SIZE = 6.5
_DOC_COLUMNS = (
    Column("Serie/Folio", 17),
    Column("Folio fiscal (UUID)", 50),
    Column("Fecha", 15.5, "C"),
    Column("Vencimiento", 16.5, "C"),
    Column("Días venc.", 14, "R"),
    Column("Moneda", 11, "C"),
    Column("Total", 26, "R"),
    Column("Saldo", 25.9, "R"),
)
_TOTAL_W, _SALDO_W = 26.0, 25.9


def _letterhead(pdf: PrintedDocument, company: Company) -> None:
    pdf.set_font(FONT, "B", 14)
    pdf.set_text_color(*ACCENT)
    pdf.multi_cell(0, 6, pdf_text(company.nombre), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 7.5)
    pdf.set_text_color(*MUTED)
    details = [f"RFC: {company.rfc}"]
    if company.domicilio:
        details.append(company.domicilio)
    contact = " · ".join(x for x in (company.telefono, company.correo) if x)
    if contact:
        details.append(contact)
    for line in details:
        pdf.multi_cell(0, 3.6, pdf_text(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
    pdf.ln(1)
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.5)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.set_line_width(0.2)
    pdf.ln(5)


def _draw_letter(pdf: PrintedDocument, letter: LetterData, text: LetterText) -> None:
    _letterhead(pdf, letter.company)
    pdf.set_font(FONT, "", 9.5)
    place = f"{letter.company.ciudad}, a " if letter.company.ciudad else ""
    pdf.cell(0, 5, pdf_text(place + f.fecha_larga(letter.fecha)), align="R",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(120, 5, pdf_text(letter.customer.nombre), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    pdf.cell(0, 4.6, pdf_text(f"RFC: {letter.customer.rfc}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if letter.customer.domicilio:
        pdf.multi_cell(120, 4.6, pdf_text(letter.customer.domicilio), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if letter.customer.atencion:
        pdf.cell(0, 4.6, pdf_text(f"At'n: {letter.customer.atencion}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "B", 9)
    pdf.cell(0, 4.6, "Presente.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)

    kind = _kind(letter.kind)
    if kind is LetterKind.PREJURIDICA:
        pdf.set_text_color(*ALERT)
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(0, 5, pdf_text(f"Asunto: {text.asunto}"), align="R",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
    pdf.ln(3)
    _paragraphs(pdf, text.cuerpo)

    pdf.ln(1)
    if letter.documents:
        pdf.table_header(_DOC_COLUMNS, _DOC_SIZE)
        for i, d in enumerate(letter.documents):
            pdf.table_row(
                _DOC_COLUMNS,
                (
                    d.serie_folio or "—",
                    d.uuid.upper(),
                    f.fecha(d.fecha),
                    f.fecha(d.vencimiento),
                    str(d.dias_vencidos) if d.dias_vencidos > 0 else "Por vencer",
                    d.moneda,
                    f.money(d.total, d.moneda),
                    f.money(d.saldo, d.moneda),
                ),
                size=_DOC_SIZE,
                zebra=i % 2 == 1,
            )
        _totals(pdf, letter)
    pdf.ln(3)
    _paragraphs(pdf, text.cierre)

    _signature(pdf, letter)
    # Last, so the customer can cut it off and send it back.
    if kind is LetterKind.CONFIRMACION_SALDOS:
        _confirmation_slip(pdf, letter)


def _paragraphs(pdf: PrintedDocument, text: str) -> None:
    for block in re.split(r"\n\s*\n", text):
        if block.strip():
            pdf.paragraph(" ".join(block.split("\n")).strip(), size=9, height=4.6)
            pdf.ln(2)


def _totals(pdf: PrintedDocument, letter: LetterData) -> None:
    pdf.set_draw_color(*RULE)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    for t in letter.totals():
        if pdf.will_page_break(5):
            pdf.add_page()
        label_w = pdf.w - pdf.l_margin - pdf.r_margin - _TOTAL_W - _SALDO_W
        pdf.set_font(FONT, "B", 7)
        label = f"Totales {t.moneda}  ·  saldo vencido {f.money(t.vencido, t.moneda)}"
        pdf.cell(label_w, 5, pdf_text(label), align="R")
        pdf.cell(_TOTAL_W, 5, pdf_text(f.money(t.total, t.moneda)), align="R")
        pdf.cell(_SALDO_W, 5, pdf_text(f.money(t.saldo, t.moneda)), align="R",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _confirmation_slip(pdf: PrintedDocument, letter: LetterData) -> None:
    """The part the customer signs and sends back."""
    if pdf.will_page_break(36):
        pdf.add_page()
    pdf.ln(5)
    top = pdf.get_y()
    pdf.set_draw_color(*RULE)
    pdf.set_dash_pattern(dash=1.2, gap=1)
    pdf.rect(pdf.l_margin, top, pdf.w - pdf.l_margin - pdf.r_margin, 30)
    pdf.set_dash_pattern()
    pdf.set_xy(pdf.l_margin + 3, top + 2)
    pdf.set_font(FONT, "B", 8.5)
    pdf.cell(0, 4.5, pdf_text(f"Confirmación del cliente (favor de devolver firmada a {letter.company.nombre})"),
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 8.5)
    pdf.set_x(pdf.l_margin + 3)
    corte = f.fecha(letter.corte)
    pdf.cell(0, 5.5, pdf_text(f"[   ]  Conforme con el saldo al {corte}."), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(pdf.l_margin + 3)
    pdf.cell(0, 5.5, pdf_text("[   ]  No conforme; se anexa el detalle de las diferencias."),
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    y = top + 25
    width = (pdf.w - pdf.l_margin - pdf.r_margin - 12) / 3
    for i, label in enumerate(("Nombre", "Firma", "Fecha")):
        x = pdf.l_margin + 3 + i * (width + 3)
        pdf.line(x, y, x + width - 3, y)
        pdf.set_xy(x, y + 0.5)
        pdf.set_font(FONT, "", 7)
        pdf.set_text_color(*MUTED)
        pdf.cell(width - 3, 3.5, label, align="C")
    pdf.set_text_color(*INK)
    pdf.set_xy(pdf.l_margin, top + 32)


def _signature(pdf: PrintedDocument, letter: LetterData) -> None:
    # The whole block (greeting, space to sign, three lines) stays on one page.
    if pdf.will_page_break(40):
        pdf.add_page()
    pdf.ln(4)
    pdf.set_font(FONT, "", 9.5)
    pdf.cell(0, 5, "Atentamente,", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(12)
    pdf.set_draw_color(*INK)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + 70, pdf.get_y())
    pdf.ln(1)
    for text, style in (
        (letter.firmante, "B"),
        (letter.puesto, ""),
        (letter.company.nombre, ""),
    ):
        if text:
            pdf.set_font(FONT, style, 9)
            pdf.cell(0, 4.5, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _new_document(title: str, compress: bool) -> PrintedDocument:
    pdf = PrintedDocument(footer_note="", compress=compress, title=title)
    pdf.set_margins(20, 16, 20)  # letters get wider margins than reports
    return pdf


def _add_letter(pdf: PrintedDocument, letter: LetterData, text: LetterText) -> None:
    # add_page() first closes the previous page (its footer), so the footer data of
    # this letter is set only once its first page exists.
    pdf.add_page()
    first = pdf.page_no()
    company, customer = letter.company.nombre, letter.customer.nombre
    pdf.footer_note = f"{company} · {KIND_TITLES[_kind(letter.kind)]} · {customer}"
    pdf.page_label = lambda p: f"Hoja {p.page_no() - first + 1}"
    _draw_letter(pdf, letter, text)


def render_letter_pdf(letter: LetterData, *, compress: bool = True) -> bytes:
    """One letter as PDF; an invalid template raises ``ValidationError``."""
    text = compose(letter)
    pdf = _new_document(f"{KIND_TITLES[_kind(letter.kind)]} — {letter.customer.nombre}", compress)
    _add_letter(pdf, letter, text)
    return bytes(pdf.output())


def render_letters_batch(letters: Iterable[LetterData], *, compress: bool = True) -> bytes:
    """All letters in one PDF, each starting on a new page and numbered on its own.

    A letter that cannot be composed (bad template, unknown kind) does not stop the
    batch: its place holds a page saying why, so whoever mails the batch sees it.
    """
    pdf = _new_document("Cartas de cobranza", compress)
    for letter in letters:
        try:
            text = compose(letter)
        except ValidationError as exc:
            _failed_page(pdf, letter, exc.message)
            continue
        _add_letter(pdf, letter, text)
    if pdf.page_no() == 0:
        pdf.add_page()
        pdf.paragraph("No hay cartas que generar.")
    return bytes(pdf.output())


def _failed_page(pdf: PrintedDocument, letter: LetterData, reason: str) -> None:
    pdf.add_page()
    pdf.footer_note = f"Carta no generada · {letter.customer.nombre}"
    pdf.page_label = None
    pdf.set_font(FONT, "B", 14)
    pdf.set_text_color(*ALERT)
    pdf.cell(0, 8, "CARTA NO GENERADA — no enviar", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
    pdf.paragraph(f"Cliente: {letter.customer.nombre} (RFC {letter.customer.rfc})")
    pdf.paragraph(f"Tipo de carta: {letter.kind!s}")
    pdf.paragraph(f"Motivo: {reason}")
