"""Money: the one place that parses amounts and owns rounding.

Amounts are ``Decimal`` built from their text; a ``float`` is refused. Rounding is
ROUND_HALF_UP (what the SAT's validators and every PAC apply) and happens only when
an attribute is written or a balance is stored.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

from cfdi_cobranza import catalogs

# XSD scales of Pagos 2.0 attributes.
SCALE_TOTALES = 2
SCALE_DR_TAX = 6
SCALE_TIPO_CAMBIO_P = 6
SCALE_EQUIVALENCIA_DR = 10

_AMOUNT_RE = re.compile(r"^-?[0-9]{1,18}(\.[0-9]{1,10})?$")

ZERO = Decimal("0")
ONE = Decimal("1")


class MoneyError(ValueError):
    """Text that is not an amount; the caller turns it into a user-facing error."""


def parse_amount(text: str | int | Decimal, *, allow_negative: bool = False) -> Decimal:
    """Parse an amount written as text (``"1234.50"``); never accepts floats."""
    if isinstance(text, bool | float):
        raise MoneyError(f"float or bool is not an amount: {text!r}")
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, int):
        value = Decimal(text)
    else:
        cleaned = text.strip()
        if not _AMOUNT_RE.match(cleaned):
            raise MoneyError(f"not an amount: {text!r}")
        try:
            value = Decimal(cleaned)
        except InvalidOperation as exc:  # pragma: no cover - regex already guards
            raise MoneyError(f"not an amount: {text!r}") from exc
    if not value.is_finite():
        raise MoneyError(f"not a finite amount: {text!r}")
    if value < 0 and not allow_negative:
        raise MoneyError(f"negative amount: {text!r}")
    return value


def decimals_in(value: Decimal) -> int:
    """Number of decimals as written (``Decimal('1.50')`` has 2)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def currency_decimals(currency: str) -> int:
    """Decimals the SAT's c_Moneda allows for ``currency`` (2 when unknown)."""
    return catalogs.currency_decimals().get(currency, 2)


def is_currency(code: str) -> bool:
    return code in catalogs.currency_decimals()


def quantize(value: Decimal, decimals: int) -> Decimal:
    """Round half up to ``decimals`` places; exact for any finite value, however long
    (the default context's 28 digits made a 40-digit amount raise InvalidOperation)."""
    exponent = Decimal(1).scaleb(-decimals)
    digits = value.adjusted() + decimals + 2 if value.is_finite() and value else 0
    if digits <= 28:
        return value.quantize(exponent, rounding=ROUND_HALF_UP)
    return value.quantize(exponent, rounding=ROUND_HALF_UP, context=Context(prec=digits))


def round_currency(value: Decimal, currency: str) -> Decimal:
    return quantize(value, currency_decimals(currency))


def fmt_amount(value: Decimal, decimals: int) -> str:
    """Attribute text for an amount with exactly ``decimals`` places."""
    return format(quantize(value, decimals), "f")


def fmt_money(value: Decimal, currency: str = "MXN") -> str:
    """Human text: ``$1,234.56 MXN``."""
    d = currency_decimals(currency)
    q = quantize(value, d)
    sign = "-" if q < 0 else ""
    return f"{sign}${abs(q):,.{d}f} {currency}"
