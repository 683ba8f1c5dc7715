"""Run every registered CRP/CFDI40 rule over a parsed payment CFDI.

A crashing rule becomes a warning finding, never an exception. Parsing and the XSD
check are the validator's (``cfdi_cobranza.cfdi.validator.validate_rep``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from lxml import etree

from cfdi_cobranza.domain.findings import Finding, Severity
from cfdi_cobranza.rules import comprobante as _comprobante  # noqa: F401  (registers rules)
from cfdi_cobranza.rules import pagos as _pagos  # noqa: F401  (registers rules)
from cfdi_cobranza.rules.core import REGISTRY, Context

log = logging.getLogger(__name__)

INTERNAL_CODE = "INTERNO"


def run_rules(
    root: etree._Element,
    *,
    now: datetime,
    tipo_cambio_limits: Mapping[str, tuple[Decimal, Decimal]] | None = None,
) -> list[Finding]:
    ctx = Context(root=root, now=now)
    if tipo_cambio_limits:
        ctx.extra["tipo_cambio_limits"] = dict(tipo_cambio_limits)
    findings: list[Finding] = []
    for rule in REGISTRY.rules:
        try:
            findings.extend(rule.check(ctx))
        except Exception:
            log.exception("rule %s crashed", rule.code)
            findings.append(Finding(INTERNAL_CODE, f"No fue posible evaluar la regla {rule.code}.",
                                    "/", Severity.WARNING))
    return findings


def errors_only(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]
