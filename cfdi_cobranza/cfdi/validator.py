"""The REP validator: XSD plus every offline CRP/CFDI40 rule, on any Pagos 2.0 CFDI.

``validate_rep`` accepts our own trees or third-party bytes, never raises for a bad
document (everything becomes a finding) and takes the clock as a parameter. Bytes are
read with the project's strict parser (``cfdi.parser``: no DTD, no entities, no network,
no recovery, one size limit); the schemas come from ``cfdi.schema`` (``COBRANZA_XSD_DIR``
honoured). A schema that cannot be found or loaded is an ERROR finding (``XSD_NO_DISPONIBLE``),
so a REP nobody checked against the SAT schema never passes; only a rule that crashes is a
warning (``INTERNO``, from the runner). The rules themselves live in ``cfdi_cobranza.rules``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from cfdi_cobranza.cfdi import parser, schema
from cfdi_cobranza.domain.findings import Finding
from cfdi_cobranza.errors import ImportRefused
from cfdi_cobranza.rules.core import REGISTRY
from cfdi_cobranza.rules.runner import INTERNAL_CODE, errors_only, run_rules

__all__ = ["INTERNAL_CODE", "XML_CODE", "XSD_CODE", "XSD_MISSING_CODE", "errors_only", "rules_catalog", "validate_rep",
           "xsd_errors"]

log = logging.getLogger(__name__)

XSD_CODE = "XSD"
XML_CODE = "XML"
XSD_MISSING_CODE = "XSD_NO_DISPONIBLE"

_PLACEHOLDER_SIGNATURE = {"Sello", "NoCertificado", "Certificado"}


def xsd_errors(root: etree._Element) -> list[tuple[str, int, str]]:
    """Schema violations as (XPath-ish location, line, English libxml2 message).

    Same verdict as the SAT's cfdv40 + Pagos20 + TFD schemas at a fraction of the cost:
    libxml2 checks the structure against them with the catalog enumerations removed
    (``schema.rep_structural_validator``, wildcards kept strict) and the catalog keys are
    then looked up in frozensets (``schema.catalog_problems``). Catalog violations are
    reported with libxml2's own wording, in document order.
    """
    validator = schema.rep_structural_validator()
    try:
        validator.schema.assertValid(root.getroottree())
        errors: list[Any] = []
    except etree.DocumentInvalid as exc:
        # lxml-stubs do not declare _ErrorLog iterable, though it is.
        log_: Any = exc.error_log
        errors = list(log_)
    out = [(e.path or "/", e.line, e.message) for e in errors]
    problems = schema.catalog_problems(root, validator, include_addenda=True)
    if problems:
        tree = root.getroottree()
        for p in problems:
            out.append((
                tree.getpath(p.element), p.element.sourceline or 0,
                f"Element '{p.tag}', attribute '{p.attribute}': [facet 'enumeration'] The value "
                f"'{p.value}' is not an element of the catalog {p.catalog}.",
            ))
        out.sort(key=lambda e: e[1])  # stable: back to document order, as libxml2 reports
    return out


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
            root = parser.parse_strict(bytes(root_or_bytes))
        except ImportRefused as exc:
            return [Finding(XML_CODE, f"El archivo no es un XML válido y seguro: {exc.message}", "/")]
    else:
        root = root_or_bytes
    findings: list[Finding] = []
    try:
        for path, line, message in xsd_errors(root):
            if unsigned and any(f"'{a}' is required" in message for a in _PLACEHOLDER_SIGNATURE):
                continue
            findings.append(Finding(XSD_CODE, f"{_spanish_xsd(message)} (línea {line})", path))
    except Exception:  # the rules still run; the REP fails, as nobody checked its schema
        log.exception("XSD validation failed")
        findings.append(Finding(XSD_MISSING_CODE, "No fue posible cargar el esquema XSD del SAT "
                                "(carpeta xsd/ o COBRANZA_XSD_DIR); el comprobante no se validó "
                                "contra él.", "/"))
    findings.extend(run_rules(root, now=now or datetime.now(), tipo_cambio_limits=tipo_cambio_limits))
    return findings
