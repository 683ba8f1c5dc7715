"""PDFs print text outside Windows-1252 (Cyrillic, Greek, ő, ✓, emoji) with an embedded Unicode font.

Text is read back with pypdf (a test dependency), so these tests run without poppler.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from cfdi_cobranza.domain.period import DateRange
from cfdi_cobranza.domain.receivables import Receivable
from cfdi_cobranza.domain.statement import Company, statement
from cfdi_cobranza.pdf import layout
from cfdi_cobranza.pdf.letters import (
    Customer,
    LetterData,
    LetterDocument,
    LetterKind,
    render_letter_pdf,
)
from cfdi_cobranza.pdf.rep import render_rep_pdf
from cfdi_cobranza.pdf.statement import render_statement_pdf

DATA = Path(__file__).resolve().parents[1] / "data" / "pdf"
CYRILLIC = "ООО «Ромашка» Иван Жуков"
MIXED = "Łódź Őrség Άλφα José Núñez ✓ →"
EMOJI_AND_CJK = "Pago 😀 中文"


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def fonts_of(pdf: bytes) -> set[str]:
    names: set[str] = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names


def test_rep_prints_a_cyrillic_customer_name() -> None:
    xml = (DATA / "rep-usd.xml").read_bytes().replace("COMERCIALIZADORA PEÑA Y ASOCIADOS".encode(),
                                                      CYRILLIC.encode())
    pdf = render_rep_pdf(xml)
    text = text_of(pdf)
    assert CYRILLIC in text
    assert "ESCUELA KEMPER URGATE SA DE CV" in text and "$8,120.00 MXN" in text
    assert any("DejaVuSans" in name for name in fonts_of(pdf))


def test_letter_prints_cyrillic_greek_and_accents() -> None:
    company = Company("DISTRIBUIDORA DEL NORTE SA DE CV", "DNO010101AB1", "Av. Constitución 1500", "Monterrey")
    docs = (LetterDocument("A-1000", "c9d3a4b1-1111-4a2b-9c3d-000000000001", date(2024, 10, 1),
                           date(2024, 10, 31), 76, "MXN", Decimal("11600.00"), Decimal("5800.00")),)
    data = LetterData(company, Customer(CYRILLIC, "XEXX010101000"), date(2025, 1, 15), LetterKind.RECORDATORIO_1,
                      docs, firmante=MIXED)
    text = text_of(render_letter_pdf(data))
    assert CYRILLIC in text and MIXED in text
    assert "?" not in text.replace("¿", "")


def test_statement_prints_a_cyrillic_name_and_replaces_only_missing_glyphs() -> None:
    rfc = "XEXX010101000"
    docs = [Receivable("d1", rfc, CYRILLIC, "MXN", Decimal("1160.00"), date(2024, 12, 2), date(2024, 12, 28),
                       referencia=EMOJI_AND_CJK)]
    sts = statement(rfc, docs, [], DateRange(date(2024, 12, 1), date(2024, 12, 31)))
    text = text_of(render_statement_pdf(sts, empresa=Company("Ωmega SA DE CV", "OME010101AB1")))
    assert CYRILLIC in text and "Ωmega SA DE CV" in text
    # DejaVu Sans has 😀 but no CJK: those print as "?" (see pdf/layout.py).
    assert "Pago 😀 ??" in text


def test_latin1_documents_keep_the_core_font() -> None:
    # Documents whose text fits Windows-1252 do not pay for embedding a font.
    pdf = render_rep_pdf((DATA / "rep-usd.xml").read_bytes())
    assert fonts_of(pdf) <= {"/Helvetica", "/Helvetica-Bold", "/Helvetica-Oblique", "/Courier"}
    assert "COMERCIALIZADORA PEÑA Y ASOCIADOS" in text_of(pdf)


@pytest.mark.parametrize("ch", ["Ж", "ő", "→", "✓", "😀", "Ω"])
def test_font_file_is_shipped_and_covers(ch: str) -> None:
    assert all(path.is_file() for path in layout.UNICODE_FONT_FILES.values())
    assert layout.unicode_text(ch) == ch
    assert layout.unicode_text("中") == layout.MISSING_GLYPH
