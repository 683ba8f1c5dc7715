"""Debt documents and the cash cut for the page and the API: form and query parsing (no Flask)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from cfdi_cobranza.errors import ValidationError
from web.services.collections import parse_money
from web.services.inputs import parse_date


def _text(source: Mapping[str, Any], name: str, limit: int = 100) -> str | None:
    value = source.get(name)
    if value is None:
        return None
    text = str(value).strip()[:limit]
    return text or None


@dataclass(frozen=True)
class DebtFilters:
    rfc: str | None
    estado: str | None
    tipo: str | None
    cobro_desde: date | None
    cobro_hasta: date | None

    def kwargs(self) -> dict[str, Any]:
        return {"tipo": self.tipo, "cobro_desde": self.cobro_desde, "cobro_hasta": self.cobro_hasta}


def parse_filters(args: Mapping[str, Any]) -> DebtFilters:
    return DebtFilters(
        rfc=_text(args, "cliente", 20), estado=_text(args, "estado", 20), tipo=_text(args, "tipo", 12),
        cobro_desde=parse_date(_text(args, "cobro_desde", 20), "Cobro desde"),
        cobro_hasta=parse_date(_text(args, "cobro_hasta", 20), "Cobro hasta"))


def parse_new_debt(form: Mapping[str, Any], today: date) -> dict[str, Any]:
    """The arguments of ``debts.register_debt_document`` from a form or JSON body."""
    rfc = _text(form, "cliente", 20)
    if not rfc:
        raise ValidationError("Indique el cliente (RFC).", code="CLIENTE_REQUERIDO")
    tipo = _text(form, "tipo", 12)
    if not tipo:
        raise ValidationError("Indique el tipo de documento.", code="TIPO_DOCUMENTO_INVALIDO")
    importe = parse_money(_text(form, "importe", 30), "El importe", required=True)
    payment = _text(form, "pago", 12)
    if payment is not None and not payment.isdigit():
        raise ValidationError("El pago es un número.", code="PAGO_NO_ENCONTRADO")
    return {
        "rfc": rfc, "tipo": tipo, "importe": importe, "moneda": (_text(form, "moneda", 3) or "MXN").upper(),
        "fecha": parse_date(_text(form, "fecha", 20), "Fecha") or today,
        "fecha_cobro": parse_date(_text(form, "fecha_cobro", 20), "Fecha de cobro"),
        "numero": _text(form, "numero", 60), "banco": _text(form, "banco", 100),
        "payment_id": int(payment) if payment else None,
        "complement_uuid": _text(form, "complemento", 36), "notes": _text(form, "notas", 1000),
    }


def parse_state_change(form: Mapping[str, Any], today: date) -> dict[str, Any]:
    estado = _text(form, "estado", 20)
    if not estado:
        raise ValidationError("Indique el nuevo estado.", code="ESTADO_INVALIDO")
    return {"estado": estado, "fecha": parse_date(_text(form, "fecha", 20), "Fecha") or today,
            "nota": _text(form, "nota", 1000)}


def parse_cash_cut(args: Mapping[str, Any], today: date) -> tuple[str | None, date]:
    return _text(args, "caja", 100), parse_date(_text(args, "fecha", 20), "Fecha") or today
