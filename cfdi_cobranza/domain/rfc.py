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

# The shape, also used to find RFCs inside free text (bank statement concepts).
RFC_PATTERN = r"[A-Z&Ñ]{3,4}[0-9]{2}(?:0[1-9]|1[012])(?:0[1-9]|[12][0-9]|3[01])[A-Z0-9]{2}[0-9A]"
_RFC_RE = re.compile(RFC_PATTERN)
_ALPHABET = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ"


def compact(number: str) -> str:
    """The RFC without separators or spaces, in upper case."""
    return re.sub(r"[\s-]", "", number).upper()


def calc_check_digit(number: str) -> str:
    """The check digit for the first 11 (moral) or 12 (física) characters of an RFC."""
    body = compact(number)[:12].rjust(12)
    total = sum(_ALPHABET.index(ch) * (13 - i) for i, ch in enumerate(body))
    return _ALPHABET[(11 - total % 11) % 11]


def _has_valid_check_digit(value: str) -> bool:
    body = value[:-1]
    return all(ch in _ALPHABET for ch in body) and calc_check_digit(body) == value[-1]


def validate(number: str, *, validate_check_digits: bool = False) -> str:
    """The compact RFC, or ``ValidationError`` (code RFC_INVALIDO)."""
    value = compact(number)
    if value in GENERIC:
        return value
    ok = _RFC_RE.fullmatch(value) is not None
    if ok:
        yymmdd = value[-9:-3]
        try:
            date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))
        except ValueError:
            ok = False
    if ok and validate_check_digits:
        ok = _has_valid_check_digit(value)
    if not ok:
        raise ValidationError(
            f"RFC inválido: «{number}». Debe tener 12 caracteres (persona moral) o 13 (persona física), "
            "con fecha válida, o ser genérico (XAXX010101000, XEXX010101000).",
            code="RFC_INVALIDO",
        )
    return value


def is_valid(number: str, *, validate_check_digits: bool = False) -> bool:
    try:
        validate(number, validate_check_digits=validate_check_digits)
    except ValidationError:
        return False
    return True
