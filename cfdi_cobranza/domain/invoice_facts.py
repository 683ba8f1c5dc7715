"""What the REP calculator reads of a paid invoice, kept beside the stored XML.

Issuing a REP needs, of each invoice it pays, its identity, currency, total, the taxes
it transferred and withheld and the ObjetoImp to write: ``pagos20.Invoice``. Reading
them again from the stored XML on every REP (parse, then walk the concepts) is about a
tenth of a month-end run's CPU. The importer computes them once, from the same record
it stores, and keeps them as JSON in ``document.pagos_facts``, tagged with the SHA-256
of the XML they came from: the XML stays the evidence, and facts whose tag does not
match the stored bytes (or of an unknown format) are ignored and the XML is read again.

Every Decimal is written with ``str`` and read back with ``Decimal``: the same value
and the same exponent, so the REP's amounts are written exactly as from the XML.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from cfdi_cobranza.domain.pagos20 import Invoice, InvoiceTax

FORMAT = 1


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def facts_json(invoice: Invoice, sha256: str) -> str:
    """``invoice`` as the JSON stored in ``document.pagos_facts`` for the XML ``sha256``."""
    return json.dumps({
        "v": FORMAT, "sha256": sha256, "uuid": invoice.uuid, "moneda": invoice.moneda,
        "total": str(invoice.total), "objeto_imp": invoice.objeto_imp,
        "serie": invoice.serie, "folio": invoice.folio,
        "taxes": [[t.kind, t.impuesto, t.tipo_factor, _dec(t.tasa_o_cuota), str(t.base), _dec(t.importe)]
                  for t in invoice.taxes],
    }, separators=(",", ":"), ensure_ascii=False)


def _opt(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def invoice_from_facts(text: str | None, sha256: str) -> Invoice | None:
    """The invoice stored by ``facts_json`` for the XML ``sha256``; ``None`` when there
    are none, they are of another format or XML, or they cannot be read."""
    if not text:
        return None
    try:
        data = json.loads(text)
        if data.get("v") != FORMAT or data.get("sha256") != sha256:
            return None
        taxes = tuple(
            InvoiceTax(kind=kind, impuesto=impuesto, tipo_factor=tipo_factor, tasa_o_cuota=_opt(tasa),
                       base=Decimal(base), importe=_opt(importe))
            for kind, impuesto, tipo_factor, tasa, base, importe in data["taxes"]
        )
        return Invoice(uuid=data["uuid"], moneda=data["moneda"], total=Decimal(data["total"]), taxes=taxes,
                       objeto_imp=data["objeto_imp"], serie=data["serie"], folio=data["folio"])
    except (ValueError, TypeError, KeyError, InvalidOperation, AttributeError):
        return None
