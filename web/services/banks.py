"""Bancos page helpers: column mapping and exchange rates from the form, stable choice keys.

The matching, scoring and applying live in ``cfdi_cobranza.services.banking``. A choice
travels from the page to the POST as ``movement:rank:fingerprint``; the fingerprint
(customer, documents and amounts of the suggestion) is checked again on POST, so a
suggestion that changed in between (another deposit took the balance) is refused
instead of applying something the user never saw.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cfdi_cobranza.bank.statements import ColumnMapping
from cfdi_cobranza.domain.matching import Suggestion
from cfdi_cobranza.domain.money import MoneyError, parse_amount
from cfdi_cobranza.errors import ValidationError

PRESETS = (("bbva", "BBVA (texto)"), ("banorte", "Banorte (CSV)"), ("santander", "Santander (CSV)"),
           ("generico", "Otro banco: CSV genérico"))
MAPPING_FIELDS = (("fecha", "Fecha"), ("descripcion", "Descripción"), ("referencia", "Referencia"),
                  ("abono", "Abono (depósito)"), ("cargo", "Cargo"), ("importe", "Importe con signo"),
                  ("moneda", "Moneda"), ("rfc", "RFC del ordenante"))
DATE_FORMATS = (("auto", "Detectar"), ("dmy", "dd/mm/aaaa"), ("iso", "aaaa-mm-dd"))


def mapping_from_form(form: Mapping[str, Any]) -> ColumnMapping | None:
    """A ``ColumnMapping`` from the optional ``col_*`` fields (header name or column number from 1)."""
    fields: dict[str, Any] = {}
    for key, _label in MAPPING_FIELDS:
        value = str(form.get(f"col_{key}", "")).strip()[:100]
        if value:
            # Users count columns from 1; the parser from 0.
            fields[key] = int(value) - 1 if value.isdecimal() and int(value) > 0 else value
    if not fields:
        return None
    if "fecha" not in fields:
        raise ValidationError("En el mapeo de columnas falta la columna de la fecha.", code="MAPEO_INVALIDO")
    if not any(k in fields for k in ("abono", "importe")):
        raise ValidationError("En el mapeo de columnas indique la columna del abono o la del importe.",
                              code="MAPEO_INVALIDO")
    fmt = str(form.get("formato_fecha", "auto"))
    fields["formato_fecha"] = fmt if fmt in {k for k, _ in DATE_FORMATS} else "auto"
    sep = str(form.get("separador_decimal", "."))
    fields["separador_decimal"] = "," if sep == "," else "."
    skip = str(form.get("filas_a_omitir", "")).strip()
    if skip:
        if not skip.isdecimal() or int(skip) > 100:
            raise ValidationError("Filas a omitir debe ser un número entre 0 y 100.", code="MAPEO_INVALIDO")
        fields["filas_a_omitir"] = int(skip)
    return ColumnMapping(**fields)


def rates_from_form(text: str | None) -> dict[str, Decimal]:
    """``USD=17.20, EUR=19.05`` -> ``{"USD": Decimal("17.20"), ...}`` (MXN per unit)."""
    out: dict[str, Decimal] = {}
    for item in (text or "").replace(";", ",").split(","):
        if not item.strip():
            continue
        code, sep, value = item.partition("=")
        code = code.strip().upper()
        try:
            if not sep or len(code) != 3 or not code.isalpha():
                raise MoneyError(item)
            rate = parse_amount(value.strip())
        except MoneyError:
            raise ValidationError(f"Tipo de cambio «{item.strip()[:30]}» inválido; escriba p. ej. USD=17.20.",
                                  code="TIPO_CAMBIO_INVALIDO") from None
        if rate <= 0:
            raise ValidationError("El tipo de cambio debe ser mayor que cero.", code="TIPO_CAMBIO_INVALIDO")
        out[code] = rate
    return out


def fingerprint(s: Suggestion) -> str:
    text = s.customer + "|" + "|".join(f"{a.doc.uuid}={a.importe}" for a in s.aplicaciones)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def choice_key(movement_id: int, rank: int, s: Suggestion) -> str:
    return f"{movement_id}:{rank}:{fingerprint(s)}"


def parse_choice(value: str) -> tuple[int, int, str] | None:
    parts = value.split(":")
    if len(parts) != 3 or not parts[0].isdecimal() or not parts[1].isdecimal():
        return None
    return int(parts[0]), int(parts[1]), parts[2][:32]
