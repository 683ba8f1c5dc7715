"""How amounts, dates and catalog keys look on paper.

Money is ``$1,234.56 MXN`` with the currency's decimals from c_Moneda, dates are
dd/mm/aaaa. Amounts come from the XML text or domain ``Decimal``; never ``float``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from cfdi_cobranza import catalogs
from cfdi_cobranza.domain.money import fmt_money

MESES = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)  # fmt: skip


def to_decimal(text: str | None) -> Decimal | None:
    """The attribute text as a ``Decimal``; None when absent or not a number."""
    if text is None or not text.strip():
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def money(value: Decimal | str | None, currency: str = "MXN") -> str:
    """``$1,234.56 MXN``; an unreadable attribute is printed as written, never hidden."""
    if value is None:
        return ""
    amount = value if isinstance(value, Decimal) else to_decimal(value)
    if amount is None:
        return str(value)
    return fmt_money(amount, currency)


def number(text: str | None) -> str:
    """A decimal with thousands separators and exactly the decimals it was written with.

    Used for BaseDR/ImporteDR (6 decimals) and TipoCambio, where rounding for display
    would hide the precision an accountant checks against the XML.
    """
    if text is None:
        return ""
    value = to_decimal(text)
    if value is None:
        return text
    exponent = value.as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 0
    return f"{value:,.{places}f}"


def rate(text: str | None) -> str:
    """TasaOCuota ``0.160000`` as ``16.0000 %`` (a Cuota is printed as written)."""
    value = to_decimal(text)
    if value is None:
        return text or ""
    return f"{value * 100:.4f} %"


def fecha(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def fecha_larga(value: date) -> str:
    """``15 de enero de 2025`` for the date line of a letter."""
    return f"{value.day} de {MESES[value.month - 1]} de {value.year}"


def fecha_hora(text: str | None) -> str:
    """An XML ``2025-01-15T12:00:00`` as ``15/01/2025 12:00:00`` (as written if unreadable)."""
    if not text:
        return ""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    return parsed.strftime("%d/%m/%Y %H:%M:%S")


def catalog(name: str, key: str | None) -> str:
    """``03 - Transferencia electrónica de fondos``; the bare key when unknown."""
    if not key:
        return ""
    return catalogs.describe(name, key)
