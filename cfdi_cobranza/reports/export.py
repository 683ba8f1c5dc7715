"""Report export adapter: one tabular shape, written as text table, CSV, Excel or JSON.

Every collections report is turned (``reports.tables``) into a ``Report``: a title,
a few header facts (fecha de corte, agrupación ...) and one or more ``Table``\\ s of raw
values (Decimal, date, int, str). This module only writes them:

* **table**: aligned text for the terminal, money as ``$1,234.56``;
* **csv**: UTF-8 with BOM (Excel opens accents right), comma separated, amounts as
  plain decimals with a dot (machine readable), dates ``aaaa-mm-dd``;
* **xlsx**: one sheet per table, bold header row, frozen, money with the currency's
  number format, percentages as numbers with two decimals, dates ``dd/mm/aaaa``;
  a table with a currency column and several currencies gets a sheet per currency;
* **json**: the report's structured payload (``Report.payload``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from cfdi_cobranza.domain.money import currency_decimals, fmt_money, quantize
from cfdi_cobranza.errors import ValidationError


class Kind(StrEnum):
    TEXT = "text"
    MONEY = "money"  # needs the row's currency: ``Table.currency_column``
    INT = "int"
    PCT = "pct"
    DATE = "date"
    RATE = "rate"


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind = Kind.TEXT
    width: int | None = None


@dataclass
class Table:
    name: str  # sheet name (<= 31 characters in Excel)
    columns: list[Column]
    rows: list[list[Any]]
    currency_column: int | None = None  # index of the column holding each row's currency
    default_currency: str = "MXN"
    split_by_currency: bool = False

    def currency_of(self, row: Sequence[Any]) -> str:
        if self.currency_column is None:
            return self.default_currency
        return str(row[self.currency_column] or self.default_currency)


@dataclass
class Report:
    title: str
    meta: list[tuple[str, str]]
    tables: list[Table]
    payload: dict[str, Any] = field(default_factory=dict)


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"

    @classmethod
    def parse(cls, text: str) -> Format:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValidationError(
                f"Formato desconocido: {text!r}. Use table, csv, xlsx o json.", code="FORMATO_INVALIDO"
            ) from None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, date | datetime):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_json(report: Report) -> bytes:
    return (json.dumps(report.payload, ensure_ascii=False, indent=2, default=_json_default) + "\n").encode()


def _text_cell(value: Any, kind: Kind, currency: str) -> str:
    if value is None:
        return ""
    if kind is Kind.MONEY:
        return fmt_money(Decimal(value), currency).rsplit(" ", 1)[0]
    if kind is Kind.PCT:
        return f"{quantize(Decimal(value), 2)} %"
    if kind is Kind.DATE and isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if kind is Kind.RATE:
        return format(Decimal(value), "f")
    return str(value)


def _align(rows: list[list[str]], headers: list[str], right: set[int]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i])
                         for i, c in enumerate(cells)).rstrip()

    return "\n".join([fmt(headers), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)])


def to_text(report: Report) -> str:
    out = [report.title]
    out.extend(f"{label}: {value}" for label, value in report.meta)
    for t in report.tables:
        out.append("")
        if len(report.tables) > 1:
            out.append(f"== {t.name} ==")
        if not t.rows:
            out.append("Sin datos.")
            continue
        right = {i for i, c in enumerate(t.columns) if c.kind in (Kind.MONEY, Kind.INT, Kind.PCT, Kind.RATE)}
        body = [[_text_cell(v, c.kind, t.currency_of(r)) for v, c in zip(r, t.columns, strict=True)]
                for r in t.rows]
        out.append(_align(body, [c.title for c in t.columns], right))
    return "\n".join(out) + "\n"


# A text cell starting with one of these is a formula to Excel (and to LibreOffice when
# it opens a CSV). Customer names come from imported XML: quote them as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def safe_text(value: Any) -> Any:
    """A text cell for a CSV: quoted with ``'`` when a spreadsheet would take it as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_cell(value: Any, kind: Kind, currency: str) -> str:
    if value is None:
        return ""
    if kind is Kind.MONEY:
        return format(quantize(Decimal(value), currency_decimals(currency)), "f")
    if kind is Kind.PCT:
        return format(quantize(Decimal(value), 2), "f")
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a number, even negative, is not a formula: no quote (Excel reads -14 as -14)
    if kind in (Kind.INT, Kind.RATE) and _NUMBER.fullmatch(str(value)):
        return str(value)
    return str(safe_text(str(value)))


def to_csv(report: Report) -> bytes:
    """All tables in one CSV; with several, each starts with its name on a line of its own."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for n, t in enumerate(report.tables):
        if len(report.tables) > 1:
            if n:
                writer.writerow([])
            writer.writerow([t.name])
        writer.writerow([c.title for c in t.columns])
        for r in t.rows:
            writer.writerow([_csv_cell(v, c.kind, t.currency_of(r)) for v, c in zip(r, t.columns, strict=True)])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _money_format(currency: str) -> str:
    decimals = currency_decimals(currency)
    zeros = "0" * decimals
    base = f"#,##0.{zeros}" if decimals else "#,##0"
    return f'"$"{base};-"$"{base}'


_BAD_SHEET = str.maketrans({c: " " for c in "[]:*?/\\"})


def _sheet_name(name: str, used: set[str]) -> str:
    base = name.translate(_BAD_SHEET).strip()[:31] or "Hoja"
    candidate, n = base, 2
    while candidate in used:
        suffix = f" ({n})"
        candidate = base[: 31 - len(suffix)] + suffix
        n += 1
    used.add(candidate)
    return candidate


def _text_typed(cell: Any) -> None:
    """A string cell typed as text: never a formula, and no apostrophe shows. The quote
    prefix keeps Excel from reading it as a formula when the user edits the cell."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
        if cell.value.startswith(_FORMULA_START):
            cell.quotePrefix = True


def to_xlsx(report: Report) -> bytes:
    # openpyxl takes a quarter of a second to import; only Excel output pays for it.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    sheets: list[tuple[str, Table]] = []
    for t in report.tables:
        currencies = sorted({t.currency_of(r) for r in t.rows}) if t.currency_column is not None else []
        if t.split_by_currency and len(currencies) > 1:
            for cur in currencies:
                rows = [r for r in t.rows if t.currency_of(r) == cur]
                sheets.append((f"{t.name} {cur}", Table(t.name, t.columns, rows, t.currency_column, cur)))
        else:
            sheets.append((t.name, t))
    if not sheets:
        sheets.append((report.title, Table(report.title, [Column("Sin datos")], [])))
    bold = Font(bold=True)
    for name, t in sheets:
        ws = wb.create_sheet(_sheet_name(name, used))
        ws.append([report.title])
        ws["A1"].font = Font(bold=True, size=13)
        for label, value in report.meta:
            ws.append([label, value])
            for cell in ws[ws.max_row]:
                _text_typed(cell)  # filter values are typed by users
        ws.append([])
        ws.append([c.title for c in t.columns])
        header_row = ws.max_row  # after the append: an empty row adds no cells to max_row
        for cell in ws[header_row]:
            cell.font = bold
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
        for r in t.rows:
            currency = t.currency_of(r)
            values: list[Any] = []
            for v, c in zip(r, t.columns, strict=True):
                if c.kind is Kind.MONEY and v is not None:
                    v = quantize(Decimal(v), currency_decimals(currency))
                elif c.kind is Kind.PCT and v is not None:
                    v = quantize(Decimal(v), 2)
                values.append(v)
            ws.append(values)
            row_idx = ws.max_row
            for i, c in enumerate(t.columns, start=1):
                cell = ws.cell(row=row_idx, column=i)
                _text_typed(cell)
                if c.kind is Kind.MONEY:
                    cell.number_format = _money_format(currency)
                elif c.kind is Kind.PCT:
                    cell.number_format = '0.00" %"'
                elif c.kind is Kind.DATE:
                    cell.number_format = "dd/mm/yyyy"
                elif c.kind is Kind.INT:
                    cell.number_format = "0"
                elif c.kind is Kind.RATE:
                    cell.number_format = "0.0000"
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
        for i, c in enumerate(t.columns, start=1):
            longest = max([len(c.title)] + [len(_text_cell(r[i - 1], c.kind, t.currency_of(r))) for r in t.rows[:500]])
            ws.column_dimensions[get_column_letter(i)].width = c.width or min(max(10, longest + 2), 60)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render(report: Report, fmt: Format | str) -> bytes:
    kind = fmt if isinstance(fmt, Format) else Format.parse(fmt)
    if kind is Format.JSON:
        return to_json(report)
    if kind is Format.CSV:
        return to_csv(report)
    if kind is Format.XLSX:
        return to_xlsx(report)
    return to_text(report).encode("utf-8")


__all__ = ["Column", "Format", "Kind", "Report", "Table", "render", "to_csv", "to_json", "to_text", "to_xlsx"]
