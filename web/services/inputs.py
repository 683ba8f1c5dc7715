"""Parsing of what users type in filters: dates as dd/mm/aaaa (or ISO), RFC, page numbers."""

from __future__ import annotations

import re
from datetime import date, datetime

from cfdi_cobranza.domain.period import date_in_window
from cfdi_cobranza.errors import ValidationError

_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_date(text: str | None, label: str) -> date | None:
    """``dd/mm/aaaa`` as users write it, or ``aaaa-mm-dd`` as date inputs send it."""
    value = (text or "").strip()
    if not value:
        return None
    try:
        match = _DMY.match(value)
        if match:
            day, month, year = (int(p) for p in match.groups())
            result = date(year, month, day)
        else:
            result = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise ValidationError(
            f"{label}: «{value[:20]}» no es una fecha válida; use dd/mm/aaaa.", code="FECHA_INVALIDA"
        ) from None
    if not date_in_window(result):
        # The domain's one window (1900-2999): day arithmetic near year 1 or 9999 overflows.
        raise ValidationError(f"{label}: el año debe estar entre 1900 y 2999.", code="FECHA_INVALIDA")
    return result


def parse_positive_int(text: str | None, label: str, default: int, maximum: int) -> int:
    value = (text or "").strip()
    if not value:
        return default
    # isdigit() also accepts "¹" or "٣", which int() refuses or reads as another number.
    if not (value.isascii() and value.isdecimal()) or not 1 <= int(value) <= maximum:
        raise ValidationError(f"{label} debe ser un número entero entre 1 y {maximum}.", code="VALIDACION")
    return int(value)
