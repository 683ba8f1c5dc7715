"""What issuing a REP reads of a paid invoice, kept beside the stored XML.

Issuing a REP needs, of each invoice it pays, its identity, currency, total, its
document-level tax lines and each concept's ObjetoImp and tax lines
(``pagos20.InvoiceParts``). Reading them again from the stored XML on every REP (parse,
then walk the concepts) was about a tenth of a month-end run's CPU. The importer keeps
them as JSON in ``document.pagos_facts``, tagged with the SHA-256 of the XML they come
from: the XML stays the evidence, and facts whose tag does not match the stored bytes,
of another format or unreadable are ignored and the XML is read again.

Only what the invoice *says* is kept, never what the calculator derives from it (the
grouped taxes, ObjetoImpDR): ``InvoiceParts.invoice()`` derives that when the REP is
issued, so a change in how it is derived applies to every stored invoice alike. Bump
``FORMAT`` if what the reader reads from the XML ever changes. Every Decimal is written
with ``str`` and read back with ``Decimal``: same value, same exponent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from cfdi_cobranza.domain.cfdi import TaxLine
from cfdi_cobranza.domain.pagos20 import Invoice, InvoiceParts

FORMAT = 2


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _lines(taxes: Sequence[TaxLine]) -> list[list[str | None]]:
    return [[t.kind, t.impuesto, t.tipo_factor, _dec(t.tasa_o_cuota), _dec(t.base), _dec(t.importe)] for t in taxes]


def facts_json(parts: InvoiceParts, sha256: str) -> str:
    """``parts`` as the JSON stored in ``document.pagos_facts`` for the XML ``sha256``."""
    return json.dumps({
        "v": FORMAT, "sha256": sha256, "uuid": parts.uuid, "serie": parts.serie, "folio": parts.folio,
        "moneda": parts.moneda, "total": str(parts.total), "impuestos": _lines(parts.document_taxes),
        "conceptos": [[objeto, _lines(taxes)] for objeto, taxes in parts.concepts],
    }, separators=(",", ":"), ensure_ascii=False)


def _opt(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _taxes(rows: Any) -> tuple[TaxLine, ...]:
    return tuple(TaxLine(kind=kind, impuesto=impuesto, tipo_factor=tipo_factor, tasa_o_cuota=_opt(tasa),
                         base=_opt(base), importe=_opt(importe))
                 for kind, impuesto, tipo_factor, tasa, base, importe in rows)


def parts_from_facts(text: str | None, sha256: str) -> InvoiceParts | None:
    """The parts stored by ``facts_json`` for the XML ``sha256``; ``None`` when there are
    none, they are of another format or XML, or they cannot be read."""
    if not text:
        return None
    try:
        data = json.loads(text)
        if data.get("v") != FORMAT or data.get("sha256") != sha256:
            return None
        return InvoiceParts(
            uuid=data["uuid"], serie=data["serie"], folio=data["folio"], moneda=data["moneda"],
            total=Decimal(data["total"]), document_taxes=_taxes(data["impuestos"]),
            concepts=tuple((objeto, _taxes(taxes)) for objeto, taxes in data["conceptos"]),
        )
    except (ValueError, TypeError, KeyError, InvalidOperation, AttributeError):
        return None


def invoice_from_facts(text: str | None, sha256: str) -> Invoice | None:
    """The calculator's view of the invoice whose stored facts are ``text``, derived now;
    ``None`` as ``parts_from_facts``."""
    parts = parts_from_facts(text, sha256)
    return None if parts is None else parts.invoice()
