"""The REP validator: XSD plus every offline CRP/CFDI40 rule, on any Pagos 2.0 CFDI.

``validate_rep`` accepts our own trees or third-party bytes, never raises for a bad
document (everything becomes a finding) and takes the clock as a parameter.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from lxml import etree

from cfdi_cobranza.rules import comprobante as _comprobante  # noqa: F401  (registers rules)
from cfdi_cobranza.rules import pagos as _pagos  # noqa: F401  (registers rules)
from cfdi_cobranza.rules.core import REGISTRY, Context, Finding, Severity
from cfdi_cobranza.rules.xml import XmlRefused, parse_strict, xsd_errors

log = logging.getLogger(__name__)

XSD_CODE = "XSD"
XML_CODE = "XML"
INTERNAL_CODE = "INTERNO"

_PLACEHOLDER_SIGNATURE = {"Sello", "NoCertificado", "Certificado"}


_XSD_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Element '(?:\{[^}]*\})?(\w+)': The attribute '(\w+)' is required but missing"),
     "Al elemento {0} le falta el atributo obligatorio {1}."),
    (re.compile(r"Element '(?:\{[^}]*\})?(\w+)', attribute '(\w+)': The attribute '\w+' is not "
                r"allowed"),
     "El elemento {0} no admite el atributo {1}."),
    (re.compile(r"Element '(?:\{[^}]*\})?(\w+)', attribute '(\w+)': \[facet 'enumeration'\] "
                r"The value '([^']*)'"),
     "El valor \"{2}\" del atributo {1} de {0} no está en el catálogo del SAT."),
    (re.compile(r"Element '(?:\{[^}]*\})?(\w+)', attribute '(\w+)': \[facet '(\w+)'\] The value "
                r"'([^']*)'"),
     "El valor \"{3}\" del atributo {1} de {0} no cumple la restricción {2} del XSD."),
    (re.compile(r"Element '(?:\{[^}]*\})?(\w+)', attribute '(\w+)': '([^']*)' is not a valid value"),
     "El valor \"{2}\" del atributo {1} de {0} no es válido para su tipo."),
    (re.compile(r"Element '(?:\{[^}]*\})?(\w+)': This element is not expected"),
     "El elemento {0} no se esperaba en esa posición."),
    (re.compile(r"Element '(?:\{[^}]*\})?(\w+)': Missing child element"),
     "Al elemento {0} le falta un elemento hijo obligatorio."),
)


def _spanish_xsd(message: str) -> str:
    """libxml2 speaks English; translate the frequent messages, keep the rest verbatim."""
    for pattern, template in _XSD_PATTERNS:
        m = pattern.search(message)
        if m:
            return template.format(*m.groups())
    return f"Estructura inválida según el XSD del SAT: {message}"


def rules_catalog() -> list[tuple[str, str]]:
    """Every rule the validator runs, as (code, Spanish title), XSD and XML first."""
    head = [
        (XML_CODE, "El archivo es un XML bien formado, sin DTD ni entidades"),
        (XSD_CODE, "Estructura conforme a cfdv40.xsd, Pagos20.xsd y sus catálogos"),
    ]
    return head + [(r.code, r.title) for r in REGISTRY.rules]


def validate_rep(
    root_or_bytes: etree._Element | bytes,
    *,
    now: datetime | None = None,
    unsigned: bool = False,
    tipo_cambio_limits: Mapping[str, tuple[Decimal, Decimal]] | None = None,
) -> list[Finding]:
    """All findings for a payment CFDI; an empty list means nothing to object.

    ``now`` is the moment to judge the Fecha (default: the current local time).
    ``unsigned=True`` skips the schema's complaints about missing Sello/Certificado/
    NoCertificado, for a tree about to be signed. ``tipo_cambio_limits`` maps a
    currency to the (low, high) TipoCambioP accepted without Confirmacion.
    """
    if isinstance(root_or_bytes, bytes | bytearray):
        try:
            root = parse_strict(bytes(root_or_bytes))
        except XmlRefused as exc:
            return [Finding(XML_CODE, Severity.ERROR,
                            f"El archivo no es un XML válido y seguro: {exc}", "/")]
    else:
        root = root_or_bytes
    findings: list[Finding] = []
    try:
        for path, line, message in xsd_errors(root):
            if unsigned and any(f"'{a}' is required" in message for a in _PLACEHOLDER_SIGNATURE):
                continue
            findings.append(Finding(XSD_CODE, Severity.ERROR,
                                    f"{_spanish_xsd(message)} (línea {line})", path))
    except Exception:  # a broken schema setup must not hide the rule findings
        log.exception("XSD validation failed")
        findings.append(Finding(INTERNAL_CODE, Severity.WARNING,
                                "No fue posible validar contra el XSD del SAT.", "/"))
    ctx = Context(root=root, now=now or datetime.now())
    if tipo_cambio_limits:
        ctx.extra["tipo_cambio_limits"] = dict(tipo_cambio_limits)
    for rule in REGISTRY.rules:
        try:
            findings.extend(rule.check(ctx))
        except Exception:
            log.exception("rule %s crashed", rule.code)
            findings.append(Finding(INTERNAL_CODE, Severity.WARNING,
                                    f"No fue posible evaluar la regla {rule.code}.", "/"))
    return findings


def errors_only(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]
