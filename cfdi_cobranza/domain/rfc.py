"""The RFC (Registro Federal de Contribuyentes): shape, date and check digit.

12 characters for companies (personas morales), 13 for persons (físicas): 3 or 4
letters, the date YYMMDD, a two-character homoclave and a check digit.
XAXX010101000 (público en general) and XEXX010101000 (extranjero) are generic.

The API follows python-stdnum: ``compact``, ``calc_check_digit``, ``validate`` (raises)
and ``is_valid``. The check digit is not enforced by default: the SAT issued some RFCs
whose last character does not match it, so only the callers that judge a value against
the SAT's list (CRP20222) ask for it.
"""

from __future__ import annotations

import re
from datetime import date

from cfdi_cobranza.errors import ValidationError

GENERICO_NACIONAL = "XAXX010101000"
GENERICO_EXTRANJERO = "XEXX010101000"
GENERIC = frozenset({GENERICO_NACIONAL, GENERICO_EXTRANJERO})

# The shape; inside free text (bank statement concepts) it must stand alone.
RFC_PATTERN = r"[A-Z&Ñ]{3,4}[0-9]{2}(?:0[1-9]|1[012])(?:0[1-9]|[12][0-9]|3[01])[A-Z0-9]{2}[0-9A]"
_RFC_RE = re.compile(RFC_PATTERN)
IN_TEXT = re.compile(rf"(?<![A-Z0-9&Ñ]){RFC_PATTERN}(?![A-Z0-9])")
_ALPHABET = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ"


def compact(number: str) -> str:
    """The RFC without separators or spaces, in upper case."""
    return re.sub(r"[\s-]", "", number).upper()


def calc_check_digit(number: str) -> str:
    """The check digit for the first 11 (moral) or 12 (física) characters of an RFC."""
    body = compact(number)[:12].rjust(12)
    total = sum(_ALPHABET.index(ch) * (13 - i) for i, ch in enumerate(body))
    return _ALPHABET[(11 - total % 11) % 11]


def validate(number: str, *, validate_check_digits: bool = False) -> str:
    """The compact RFC, or ``ValidationError`` (code RFC_INVALIDO)."""
    value = compact(number)
    if value not in GENERIC and not _is_valid(value, validate_check_digits):
        raise ValidationError(
            f"RFC inválido: «{number}». Debe tener 12 caracteres (persona moral) o 13 (persona física), "
            "con fecha válida, o ser genérico (XAXX010101000, XEXX010101000).",
            code="RFC_INVALIDO",
        )
    return value


def _is_valid(value: str, validate_check_digits: bool) -> bool:
    if _RFC_RE.fullmatch(value) is None:
        return False
    try:
        date(2000 + int(value[-9:-7]), int(value[-7:-5]), int(value[-5:-3]))
    except ValueError:
        return False
    return not validate_check_digits or calc_check_digit(value[:-1]) == value[-1]


def is_valid(number: str, *, validate_check_digits: bool = False) -> bool:
    value = compact(number)
    return value in GENERIC or _is_valid(value, validate_check_digits)


def find_in_text(text: str) -> list[str]:
    """The valid RFCs (shape and date) standing alone in upper-case free text, in order."""
    return [m.group(0) for m in IN_TEXT.finditer(text) if is_valid(m.group(0))]
