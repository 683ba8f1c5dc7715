"""The RFC (Registro Federal de Contribuyentes): shape and check digit.

12 characters for companies (personas morales), 13 for persons (físicas);
XAXX010101000 (público en general) and XEXX010101000 (extranjero) are generic.
"""

from __future__ import annotations

import re
from datetime import date

from cfdi_cobranza.errors import ValidationError

GENERIC = frozenset({"XAXX010101000", "XEXX010101000"})
_RFC_RE = re.compile(r"^([A-ZÑ&]{3,4})([0-9]{2})([0-9]{2})([0-9]{2})([A-Z0-9]{2}[0-9A])$")


def compact(rfc: str) -> str:
    return re.sub(r"[\s-]", "", rfc).upper()


def is_valid_rfc(rfc: str) -> bool:
    value = compact(rfc)
    if value in GENERIC:
        return True
    match = _RFC_RE.match(value)
    if not match:
        return False
    yy, mm, dd = (int(match.group(i)) for i in (2, 3, 4))
    try:
        date(2000 + yy, mm, dd)
    except ValueError:
        return False
    return True


def validate_rfc(rfc: str) -> str:
    value = compact(rfc)
    if not is_valid_rfc(value):
        raise ValidationError(
            f"RFC inválido: «{rfc}». Debe tener 12 caracteres (persona moral) o 13 (persona física), "
            "con fecha válida, o ser genérico (XAXX010101000, XEXX010101000).",
            code="RFC_INVALIDO",
        )
    return value
