"""Rules for any text a user or a file hands us.

A NUL character (``\\x00``) has no place in a name, a reference or a filter: PostgreSQL
refuses it inside a query and SQLite would keep a string that no search finds. Every
entry point refuses it with one code, ``CARACTER_NULO``, and this message.
"""

from __future__ import annotations

from collections.abc import Iterable

from cfdi_cobranza.errors import ValidationError

NUL = "\x00"
NUL_CODE = "CARACTER_NULO"


def nul_message(field: str) -> str:
    name = field.replace(NUL, "")[:40] or "texto"
    return (f"El dato «{name}» contiene un carácter nulo (NUL, \\x00), que no se admite en ningún texto. "
            "Quítelo e inténtelo de nuevo; no se guardó nada.")


def check_no_nul(pairs: Iterable[tuple[str, str | None]]) -> None:
    """Refuse the first ``(field, text)`` whose text holds a NUL."""
    for field, text in pairs:
        if text is not None and NUL in text:
            raise ValidationError(nul_message(field), code=NUL_CODE, campo=field.replace(NUL, "")[:40])
