"""Strict XML parsing and the SAT XSD check used by the REP validator.

Parsing never recovers, never resolves entities, never loads a DTD or touches the
network: a truncated file or an entity bomb is an error, not a shorter document.
The schema set (cfdv40 + Pagos20 + TimbreFiscalDigital 1.1 + catalogs) is compiled once
from the project's ``xsd/`` folder; SAT URLs are mapped to that folder by a resolver.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from cfdi_cobranza.cfdi import schema

SAT_BASE_URL = "http://www.sat.gob.mx/sitio_internet/cfd/"
MAX_BYTES = 20 * 1024 * 1024

_SCHEMAS = {
    "http://www.sat.gob.mx/cfd/4": "4/cfdv40.xsd",
    "http://www.sat.gob.mx/Pagos20": "Pagos/Pagos20.xsd",
    "http://www.sat.gob.mx/TimbreFiscalDigital": "TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd",
}
_lock = threading.Lock()


class XmlRefused(Exception):
    """Bytes that are not a well-formed, safe XML document (developer text)."""


def xsd_dir() -> Path:
    """The SAT XSD tree shipped with the project (``<repo>/xsd``)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "xsd" / "4" / "cfdv40.xsd"
        if candidate.is_file():
            return parent / "xsd"
    raise FileNotFoundError("xsd/4/cfdv40.xsd not found above the package")


def strict_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        dtd_validation=False,
        load_dtd=False,
        recover=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_strict(data: bytes) -> etree._Element:
    if len(data) > MAX_BYTES:
        raise XmlRefused("document too large")
    try:
        tree = etree.fromstring(data, strict_parser())
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(str(exc)) from exc
    docinfo = tree.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or getattr(docinfo, "internalDTD", None) is not None:
        raise XmlRefused("DOCTYPE is not allowed")
    return tree


class _LocalResolver(etree.Resolver):
    def __init__(self, base: Path) -> None:
        super().__init__()
        self.base = base

    def resolve(self, system_url: str, public_id: str, context: object) -> object:  # type: ignore[override]
        if system_url.startswith(SAT_BASE_URL):
            local = self.base / system_url[len(SAT_BASE_URL):]
            if local.is_file():
                return self.resolve_filename(str(local), context)  # type: ignore[attr-defined]
        if system_url.startswith(("http://", "https://")):
            # Never fetch: an unknown URL is a schema the project does not ship.
            return self.resolve_string(
                '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>', context,
                base_url=system_url,
            )
        return None


@cache
def rep_schema() -> etree.XMLSchema:
    """The compiled cfdv40 + Pagos20 + TFD schema (compiled once per process)."""
    with _lock:
        base = xsd_dir()
        imports = "".join(
            f'<xs:import namespace="{ns}" schemaLocation="{(base / rel).as_uri()}"/>'
            for ns, rel in _SCHEMAS.items()
        )
        wrapper = (
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
            f'targetNamespace="urn:cfdi-cobranza:rep-wrapper">{imports}</xs:schema>'
        )
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        parser.resolvers.add(_LocalResolver(base))
        doc = etree.fromstring(wrapper.encode(), parser, base_url=(base / "wrapper.xsd").as_uri())
        return etree.XMLSchema(doc)


def xsd_errors(root: etree._Element) -> list[tuple[str, int, str]]:
    """Schema violations as (XPath-ish location, line, English libxml2 message).

    Same verdict as :func:`rep_schema` at a fraction of the cost: libxml2 checks the
    structure against cfdv40 + Pagos20 + TFD with the catalog enumerations removed
    (``cfdi.schema.rep_structural_validator``, wildcards kept strict) and the catalog
    keys are then looked up in frozensets (``cfdi.schema.catalog_problems``). Catalog
    violations are reported with libxml2's own wording, in document order.
    """
    validator = schema.rep_structural_validator()
    with _lock:
        ok = validator.schema.validate(root.getroottree())
        # lxml-stubs do not declare _ErrorLog iterable, though it is.
        log: Any = validator.schema.error_log
        errors = [] if ok else list(log)
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
