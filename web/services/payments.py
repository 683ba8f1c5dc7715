"""The Pagos forms: what users type turned into the service's inputs, and refusals into messages.

Reading (payment lists, one payment's file with the suggested oldest-first allocation) and
writing (register, apply, reverse) are ``cfdi_cobranza.services.payments``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from cfdi_cobranza import catalogs
from cfdi_cobranza.domain import payments as dp
from cfdi_cobranza.errors import CobranzaError, ValidationError
from cfdi_cobranza.services.payments import Allocation
from web.services.inputs import parse_date

BANK_FIELDS = ("rfc_emisor_cta_ord", "nom_banco_ord_ext", "cta_ordenante", "rfc_emisor_cta_ben", "cta_beneficiario")
ROW_FIELDS = ("forma_pago", "moneda", "monto", "tipo_cambio", "num_operacion", "caja", *BANK_FIELDS)
MAX_ROWS = 20


def formas_pago() -> list[tuple[str, str]]:
    """c_FormaPago keys valid in a payment (never 99, never the obsolete ones)."""
    return [(k, v["descripcion"]) for k, v in sorted(catalogs.load("c_FormaPago").items())
            if k != dp.FORMA_POR_DEFINIR and catalogs.is_current_forma_pago(k)]


MONEDAS_COMUNES = ("MXN", "USD", "EUR")


def clean_amount(text: str | None) -> str:
    """What users type ("$1,500.00 ") as the plain decimal text the services parse."""
    return re.sub(r"[\s,$]", "", text or "").removesuffix("MXN").removesuffix("USD")


# --------------------------------------------------------------------------- the form


@dataclass
class SettlementForm:
    customer: str = ""
    company: str = ""
    fecha_pago: str = ""
    notas: str = ""
    rows: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def blank(cls, fecha: date, forma: str = "", rows: int = 1) -> SettlementForm:
        return cls(fecha_pago=fecha.strftime("%d/%m/%Y"),
                   rows=[{**dict.fromkeys(ROW_FIELDS, ""), "forma_pago": forma, "moneda": "MXN"} for _ in range(rows)])

    @classmethod
    def from_form(cls, form: Mapping[str, Any]) -> SettlementForm:
        getlist = form.getlist  # type: ignore[attr-defined]
        columns = {name: [str(v)[:300] for v in getlist(name)] for name in ROW_FIELDS}
        n = min(MAX_ROWS, max((len(v) for v in columns.values()), default=0))
        rows = [{name: (columns[name][i] if i < len(columns[name]) else "").strip() for name in ROW_FIELDS}
                for i in range(n)]
        return cls(customer=str(form.get("customer", ""))[:320].strip(),
                   company=str(form.get("company", ""))[:13].strip(),
                   fecha_pago=str(form.get("fecha_pago", ""))[:20].strip(),
                   notas=str(form.get("notas", ""))[:1000].strip(), rows=rows)

    def filled_rows(self) -> list[dict[str, str]]:
        """Rows with anything typed besides the defaults; an untouched extra row is ignored."""
        return [r for r in self.rows if r.get("monto") or r.get("num_operacion") or r.get("tipo_cambio")]

    def receipts(self) -> list[dp.ReceiptInput]:
        if not self.customer:
            raise ValidationError("Seleccione el cliente que pagó.", code="CAMPO_REQUERIDO")
        fecha = parse_date(self.fecha_pago, "Fecha de pago")
        if fecha is None:
            raise ValidationError("Indique la fecha de pago (dd/mm/aaaa).", code="CAMPO_REQUERIDO")
        rows = self.filled_rows()
        if not rows:
            raise ValidationError("Capture al menos una forma de pago con su monto.", code="LIQUIDACION_VACIA")
        return [dp.ReceiptInput(
            customer=self.customer, company=self.company, fecha_pago=fecha, forma_pago=r["forma_pago"],
            moneda=(r["moneda"] or "MXN").upper(), monto=clean_amount(r["monto"]),
            tipo_cambio=clean_amount(r["tipo_cambio"]) or None, num_operacion=r["num_operacion"] or None,
            **{k: (r[k] or None) for k in BANK_FIELDS}, caja=r["caja"] or None, notas=self.notas or None,
        ) for r in rows]


def row_errors(receipts: Sequence[dp.ReceiptInput]) -> list[str]:
    """Every field problem of every row, labelled with its row (the service stops at the first bad row).

    Customer, company and a blank payment form are filled by the service later, so they
    are not judged here.
    """
    out = []
    for i, r in enumerate(receipts, start=1):
        probe = replace(r, customer=r.customer or "-", company=r.company or "-", forma_pago=r.forma_pago or "03")
        _receipt, findings = dp.receipt_findings(probe)
        label = f"Forma de pago {i}: " if len(receipts) > 1 else ""
        out += [label + f.message for f in findings if f.is_error]
    return out


def error_list(exc: CobranzaError) -> list[str]:
    """Every problem a refusal carries (``details['errores']``), else its one message."""
    raw = str(exc.details.get("errores", "")) if exc.details else ""
    items = [part.split(": ", 1)[-1] for part in re.split(r"; (?=[A-Z0-9_]+: )", raw) if part.strip()]
    return items or [exc.message]


def allocations_from_form(form: Mapping[str, Any]) -> tuple[list[Allocation], dict[str, tuple[str, str]]]:
    """An ``Allocation`` for every row with an amount, plus what was typed (to re-show)."""
    getlist = form.getlist  # type: ignore[attr-defined]
    uuids: Sequence[str] = getlist("uuid")[:500]
    amounts: Sequence[str] = getlist("importe")
    eqs: Sequence[str] = getlist("equivalencia")
    typed: dict[str, tuple[str, str]] = {}
    out = []
    for i, uuid in enumerate(uuids):
        amount = clean_amount(amounts[i] if i < len(amounts) else "")
        eq = (eqs[i] if i < len(eqs) else "").strip()[:30]
        typed[uuid] = (amount, eq)
        if amount and amount not in ("0", "0.00", "0.0"):
            out.append(Allocation(uuid, amount, eq or None))
    return out, typed
