"""Strict XML parsing of CFDI files received from outside.

Every CFDI we import comes from a third party, so the parser is hostile-input safe:
no DTD, no entities, no network, no recovery of broken documents (``satcfdi``
recovers, which silently truncates a damaged file) and a size limit checked before
the bytes reach libxml2. It also classifies the root element: only CFDI 4.0 and 3.3
are accepted.
"""

from __future__ import annotations

import re
import threading
from typing import Any, BinaryIO

from lxml import etree

from cfdi_cobranza.errors import ImportRefused

DEFAULT_MAX_BYTES = 5 * 1024 * 1024

NS_CFDI_40 = "http://www.sat.gob.mx/cfd/4"
NS_CFDI_33 = "http://www.sat.gob.mx/cfd/3"
# Older CFD/CFDI namespaces: recognised only to say "unsupported version" clearly.
_OLD_NAMESPACES = frozenset({"http://www.sat.gob.mx/cfd/2"})

TAG_COMPROBANTE_40 = f"{{{NS_CFDI_40}}}Comprobante"
TAG_COMPROBANTE_33 = f"{{{NS_CFDI_33}}}Comprobante"

# A DOCTYPE can only introduce DTDs and entities, which a CFDI never needs; refusing
# it before parsing closes XXE and entity-expansion attacks whatever libxml2 does.
_DTD_MARKERS = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)

_local = threading.local()


def _parser() -> etree.XMLParser:
    # lxml parser objects keep per-parse state; one per thread avoids sharing it.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            load_dtd=False,
            dtd_validation=False,
            no_network=True,
            recover=False,
            huge_tree=False,
            remove_blank_text=False,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


def read_limited(stream: BinaryIO, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read at most ``max_bytes`` from ``stream``; refuse a larger file without reading it all."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_big(max_bytes)
    return data


def _too_big(max_bytes: int) -> ImportRefused:
    mb = max_bytes / (1024 * 1024)
    return ImportRefused(
        f"El archivo excede el tamaño máximo permitido de {mb:g} MB",
        code="ARCHIVO_DEMASIADO_GRANDE",
        max_bytes=max_bytes,
    )


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse ``data`` strictly and return the ``cfdi:Comprobante`` root (4.0 or 3.3)."""
    root = parse_strict(data, max_bytes=max_bytes)
    check_root(root)
    return root


def parse_strict(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse ``data`` strictly, whatever its root element (the REP validator judges that)."""
    if not data or not data.strip():
        raise ImportRefused("El archivo está vacío", code="ARCHIVO_VACIO")
    if len(data) > max_bytes:
        raise _too_big(max_bytes)
    if _DTD_MARKERS.search(data):
        raise _dtd_refused()
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise ImportRefused(
            f"El archivo no es un XML bien formado ({_short(exc)})",
            code="XML_MAL_FORMADO",
        ) from exc
    except ValueError as exc:  # lxml refuses e.g. str input with an encoding declaration
        raise ImportRefused("El archivo no es un XML bien formado", code="XML_MAL_FORMADO") from exc
    # The byte scan misses a DOCTYPE written in UTF-16/32; the parsed tree does not.
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise _dtd_refused()
    return root


def _dtd_refused() -> ImportRefused:
    return ImportRefused(
        "El XML contiene una declaración DOCTYPE o de entidades, que no se permite en un CFDI",
        code="XML_DTD_PROHIBIDO",
    )


def _short(exc: etree.XMLSyntaxError) -> str:
    msg = str(exc.msg or exc)
    return msg if len(msg) <= 160 else msg[:157] + "..."


def check_root(root: etree._Element) -> str:
    """Return the CFDI version of ``root`` ("4.0" or "3.3") or refuse it."""
    tag = root.tag
    if tag == TAG_COMPROBANTE_40:
        version = root.get("Version")
        if version == "4.0":
            return version
        raise _unsupported(version)
    if tag == TAG_COMPROBANTE_33:
        version = root.get("Version")
        if version == "3.3":
            return version
        # CFDI 3.2 shares the cfd/3 namespace but writes its attributes in lower case.
        raise _unsupported(version or root.get("version"))
    if isinstance(tag, str):
        qname = etree.QName(tag)
        if qname.localname == "Comprobante" and qname.namespace in _OLD_NAMESPACES:
            raise _unsupported(root.get("version") or root.get("Version"))
    raise ImportRefused(
        "El archivo no es un CFDI: el elemento raíz no es cfdi:Comprobante",
        code="NO_ES_CFDI",
    )


def _unsupported(version: str | None) -> ImportRefused:
    shown = version if version else "desconocida"
    return ImportRefused(
        f"CFDI versión {shown} no soportado; solo se importan CFDI 4.0 y 3.3",
        code="VERSION_NO_SOPORTADA",
        version=shown,
    )
