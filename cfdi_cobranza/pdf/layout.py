"""The page every printed document shares: fonts, margins, header, footer, tables.

Text uses the PDF core font Helvetica in Windows-1252 (WinAnsiEncoding) while it can:
it covers every Spanish letter (á é í ó ú ü ñ ¿ ¡) plus the dash and quotes, needs no
font file and no embedding, which is what keeps a REP under a few milliseconds. The
first text outside Windows-1252 (a Cyrillic or Greek name, ő, ł, →, ✓, ☺...) switches
the rest of that document to the embedded Unicode font DejaVu Sans (shipped in
``pdf/fonts``, Bitstream Vera licence: any use, bundling allowed), subset to the glyphs
used; only such documents pay for it (tens of milliseconds, mostly the font parsing).
DejaVu Sans covers Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew/Arabic basics,
arrows, symbols and a few monochrome emoji (😀); a character it lacks (CJK, most
emoji) is printed as its compatibility decomposition when that exists, else "?". It has
no italic here: italic text in such a document prints upright.

Sandbox documents carry a red banner at the top and a translucent diagonal watermark
drawn in ``footer()``, i.e. *over* the page content, so no table fill can hide it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import TextEmphasis, XPos, YPos

FONT = "Helvetica"
MONO = "Courier"
ENCODING = "windows-1252"
UNICODE_FONT = "DejaVu"
FONT_DIR = Path(__file__).resolve().parent / "fonts"
UNICODE_FONT_FILES = {"": FONT_DIR / "DejaVuSans.ttf", "B": FONT_DIR / "DejaVuSans-Bold.ttf"}
MISSING_GLYPH = "?"

SANDBOX_BANNER = "SIN VALIDEZ FISCAL — timbrado de prueba (sandbox)"
SANDBOX_WATERMARK = "SIN VALIDEZ FISCAL"

# Colours (RGB): a sober dark blue for headings, light grey fills for table headers.
INK = (33, 37, 41)
MUTED = (108, 117, 125)
ACCENT = (22, 52, 96)
HEADER_FILL = (226, 232, 240)
ZEBRA_FILL = (246, 248, 250)
RULE = (190, 198, 208)
ALERT = (190, 20, 30)

ROW_H = 4.4


@lru_cache(maxsize=4096)
def _fallback(ch: str) -> str:
    decomposed = unicodedata.normalize("NFKD", ch).encode(ENCODING, "ignore").decode(ENCODING)
    return decomposed or "?"


def pdf_text(value: object) -> str:
    """``value`` as text for a cell. Characters are kept: the document picks the font
    that can show them (``PrintedDocument.normalize_text``, see the module docstring)."""
    return "" if value is None else str(value)


def core_text(text: str) -> str:
    """``text`` in what the core fonts can show: unaccented form or "?" outside Windows-1252."""
    try:
        text.encode(ENCODING)
    except UnicodeEncodeError:
        return "".join(ch if _encodable(ch) else _fallback(ch) for ch in text)
    return text


@lru_cache(maxsize=1)
def _unicode_cmap() -> frozenset[int]:
    from fontTools.ttLib import TTFont  # fpdf2's own dependency; loaded only when needed

    with TTFont(str(UNICODE_FONT_FILES[""]), lazy=True) as font:
        regular = set(font.getBestCmap())
    with TTFont(str(UNICODE_FONT_FILES["B"]), lazy=True) as font:
        return frozenset(regular & set(font.getBestCmap()))


@lru_cache(maxsize=4096)
def _unicode_char(ch: str) -> str:
    cmap = _unicode_cmap()
    if ord(ch) in cmap or ch in "\n\r\t":
        return ch
    decomposed = "".join(c for c in unicodedata.normalize("NFKD", ch) if ord(c) in cmap)
    return decomposed or MISSING_GLYPH


def unicode_text(text: str) -> str:
    """``text`` with the characters DejaVu Sans lacks replaced (see the module docstring)."""
    return "".join(_unicode_char(ch) for ch in text)


@lru_cache(maxsize=4096)
def _encodable(ch: str) -> bool:
    try:
        ch.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: float
    align: str = "L"


class PrintedDocument(FPDF):
    """A Letter-size page with a header hook, numbered footer and optional sandbox marks."""

    def __init__(
        self,
        *,
        footer_note: str = "",
        sandbox: bool = False,
        compress: bool = True,
        title: str = "",
    ) -> None:
        # Mexican business paper is carta (Letter), not A4.
        super().__init__(orientation="P", unit="mm", format="Letter")
        self.core_fonts_encoding = ENCODING
        self.compress = compress
        self.footer_note = footer_note
        self.sandbox = sandbox
        self.page_header: Callable[[PrintedDocument], None] | None = None
        # A batch of letters numbers pages per letter; a single document uses {nb}.
        self.page_label: Callable[[PrintedDocument], str] | None = None
        self.set_margins(12, 12, 12)
        self.set_auto_page_break(True, margin=16)
        self.set_creator("cfdi-cobranza")
        if title:
            self.set_title(pdf_text(title))
        self.set_text_color(*INK)
        self.unicode_font = False  # True once text outside Windows-1252 needed DejaVu Sans

    # -- fonts ----------------------------------------------------------------------

    def set_font(self, family: str | None = None, style: str | TextEmphasis = "",
                 size: float = 0) -> None:
        if isinstance(style, TextEmphasis):
            style = style.style
        if self.unicode_font and (family or self.font_family).lower() in ("helvetica", UNICODE_FONT.lower()):
            family, style = UNICODE_FONT, "B" if "B" in style.upper() else ""
            if f"{UNICODE_FONT.lower()}{style}" not in self.fonts:  # each style parsed only when used
                self.add_font(UNICODE_FONT, style, str(UNICODE_FONT_FILES[style]))
        super().set_font(family, style, size)

    def normalize_text(self, text: str) -> str:
        """Switch the rest of the document to the embedded Unicode font at the first text
        the core font cannot show; replace what no font here has (module docstring)."""
        if not self.unicode_font and not self.is_ttf_font and self.font_family == "helvetica":
            try:
                text.encode(ENCODING)
            except UnicodeEncodeError:
                self._use_unicode_font()
        if self.is_ttf_font:
            return unicode_text(text)
        return super().normalize_text(core_text(text))

    def _use_unicode_font(self) -> None:
        self.unicode_font = True
        self.set_font(UNICODE_FONT, self.font_style, self.font_size_pt)

    def output(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().output(*args, **kwargs)
        finally:
            # fpdf2 closes only the font files whose glyphs it embedded.
            for font in self.fonts.values():
                close = getattr(font, "close", None)
                if close is not None:
                    close()

    # -- page furniture ------------------------------------------------------------

    def header(self) -> None:
        if self.sandbox:
            self._sandbox_banner()
        if self.page_header is not None:
            self.page_header(self)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_draw_color(*RULE)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_font(FONT, "", 7)
        self.set_text_color(*MUTED)
        self.cell(0, 5, pdf_text(self.footer_note), align="L")
        self.set_x(self.l_margin)
        label = self.page_label(self) if self.page_label else f"Página {self.page_no()} de {{nb}}"
        self.cell(0, 5, pdf_text(label), align="R")
        self.set_text_color(*INK)
        if self.sandbox:
            self._sandbox_watermark()

    def _sandbox_banner(self) -> None:
        self.set_fill_color(*ALERT)
        self.set_text_color(255, 255, 255)
        self.set_font(FONT, "B", 11)
        self.set_xy(0, 0)
        self.cell(self.w, 8, pdf_text(SANDBOX_BANNER), align="C", fill=True)
        self.set_text_color(*INK)
        self.set_y(max(self.t_margin, 10))

    def _sandbox_watermark(self) -> None:
        cx, cy = self.w / 2, self.h / 2
        with self.local_context(fill_opacity=0.14, text_color=ALERT):
            self.set_font(FONT, "B", 58)
            width = self.get_string_width(SANDBOX_WATERMARK)
            with self.rotation(angle=52, x=cx, y=cy):
                self.text(cx - width / 2, cy + 8, SANDBOX_WATERMARK)
            self.set_font(FONT, "B", 16)
            small = pdf_text("timbrado de prueba (sandbox)")
            sw = self.get_string_width(small)
            with self.rotation(angle=52, x=cx, y=cy):
                self.text(cx - sw / 2, cy + 17, small)

    # -- building blocks -----------------------------------------------------------

    def section(self, title: str) -> None:
        """A section heading with a rule; starts a page if too little room is left."""
        if self.will_page_break(16):
            self.add_page()
        self.ln(2)
        self.set_font(FONT, "B", 9)
        self.set_text_color(*ACCENT)
        self.cell(0, 5, pdf_text(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*ACCENT)
        self.set_line_width(0.3)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_line_width(0.2)
        self.set_text_color(*INK)
        self.ln(1.2)

    def fit(self, text: str, width: float) -> str:
        """Truncate ``text`` with an ellipsis so a table cell never overflows."""
        text = pdf_text(text)
        room = width - 2 * self.c_margin
        if self.get_string_width(text) <= room:
            return text
        while text and self.get_string_width(text + "…") > room:
            text = text[:-1]
        return text + "…"

    def table_header(self, columns: Sequence[Column], size: float = 7) -> None:
        self.set_font(FONT, "B", size)
        self.set_fill_color(*HEADER_FILL)
        self.set_draw_color(*RULE)
        for col in columns:
            self.cell(col.width, 5, self.fit(col.title, col.width), border="B", align=col.align, fill=True)
        self.ln(5)
        self.set_font(FONT, "", size)

    def table_row(
        self,
        columns: Sequence[Column],
        values: Sequence[str],
        *,
        size: float = 7,
        zebra: bool = False,
        bold: bool = False,
        height: float = ROW_H,
        keep_with: float = 0.0,
    ) -> None:
        """One row; on a page break the column titles are repeated on the new page.

        ``keep_with`` reserves room for lines that must stay on the same page as this row
        (the taxes of a Documento relacionado).
        """
        if self.will_page_break(height + keep_with):
            self.add_page()
            self.table_header(columns, size)
        self.set_font(FONT, "B" if bold else "", size)
        if zebra:
            self.set_fill_color(*ZEBRA_FILL)
        for col, value in zip(columns, values, strict=True):
            self.cell(col.width, height, self.fit(value, col.width), align=col.align, fill=zebra)
        self.ln(height)

    def paragraph(self, text: str, *, size: float = 9, height: float = 4.6, style: str = "") -> None:
        self.set_font(FONT, style, size)
        self.multi_cell(0, height, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def wrapped_mono(self, label: str, text: str) -> None:
        """A label and a long unbreakable value (sello, cadena) wrapped by character."""
        self.set_font(FONT, "B", 7)
        if self.will_page_break(9):
            self.add_page()
        self.cell(0, 3.8, pdf_text(label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(MONO, "", 6.2)
        # Courier is monospaced, so the wrap is a slice by character count: several
        # times faster than multi_cell's glyph-by-glyph measuring of a 344-char seal.
        text = pdf_text(text)
        room = self.w - self.l_margin - self.r_margin - 2 * self.c_margin
        per_line = max(1, int(room / self.get_string_width("0")))
        for start in range(0, len(text), per_line):
            self.cell(0, 2.9, text[start : start + per_line], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(0.8)

    def qr(self, matrix: Sequence[Sequence[int]], x: float, y: float, side: float) -> None:
        """Draw a QR module matrix as filled rectangles (no image encoding round trip).

        Horizontal runs of dark modules become one rectangle, which cuts the drawing
        operators several-fold.
        """
        n = len(matrix)
        module = side / n
        self.set_fill_color(0, 0, 0)
        for r, row in enumerate(matrix):
            c = 0
            while c < n:
                if row[c]:
                    start = c
                    while c < n and row[c]:
                        c += 1
                    # A hair of overlap hides the seams some viewers draw between rows.
                    self.rect(
                        x + start * module, y + r * module, (c - start) * module, module * 1.04,
                        style="F",
                    )
                else:
                    c += 1
