"""Cadena original of a CFDI (4.0, 3.3) and of its TimbreFiscalDigital (1.1, 1.0).

The cadena is what the Sello signs, computed on the **original** parsed tree:
re-serialising the document first can change what the XSLT sees (namespaces of unknown
complements, whitespace) and break valid seals. ``cadena_directa`` writes it for the
CFDI 4.0 and TFD 1.1 it covers; everything else runs the SAT's own XSLT. The SAT
stylesheets are declared ``version="2.0"`` but only use XSLT 1.0 constructs, so
libxslt runs them; the tests check the result against real, PAC-stamped seals.

Stylesheets are compiled once per process (lazily) and run with an access control that
forbids file writes and all network access.
"""

from __future__ import annotations

import threading

from lxml import etree

from cfdi_cobranza.cfdi.cadena_directa import cadena_40, cadena_tfd_11
from cfdi_cobranza.cfdi.parser import check_root
from cfdi_cobranza.cfdi.schema import LocalResolver, local_parser, xsd_dir
from cfdi_cobranza.errors import ImportRefused

XSLT_FILES = {
    "4.0": "4/cadenaoriginal_4_0/cadenaoriginal_4_0.xslt",
    "3.3": "3/cadenaoriginal_3_3/cadenaoriginal_3_3.xslt",
    "tfd1.1": "TimbreFiscalDigital/cadenaoriginal_TFD_1_1.xslt",
    "tfd1.0": "TimbreFiscalDigital/cadenaoriginal_TFD_1_0.xslt",
}

_ACCESS = etree.XSLTAccessControl(  # type: ignore[call-arg]  # stubs predate the kwargs
    read_file=True, write_file=False, create_dir=False, read_network=False, write_network=False
)

_lock = threading.Lock()
_compiled: dict[str, etree.XSLT] = {}


def stylesheet(key: str) -> etree.XSLT:
    """The compiled SAT stylesheet ``key`` (one of ``XSLT_FILES``)."""
    xslt = _compiled.get(key)
    if xslt is not None:
        return xslt
    with _lock:
        xslt = _compiled.get(key)
        if xslt is None:
            base = xsd_dir().resolve()
            path = base / XSLT_FILES[key]
            doc = etree.parse(str(path), local_parser(LocalResolver(base)))
            # Includes are resolved while compiling; the transform itself needs nothing.
            xslt = etree.XSLT(doc, access_control=_ACCESS)
            _compiled[key] = xslt
    return xslt


def _run(key: str, node: etree._Element) -> str:
    xslt = stylesheet(key)
    try:
        result = xslt(node)
    except etree.XSLTApplyError as exc:  # pragma: no cover - SAT stylesheets do not fail
        raise ImportRefused(
            "No se pudo calcular la cadena original del CFDI", code="CADENA_ERROR"
        ) from exc
    return str(result)


def cadena_original(root: etree._Element) -> str:
    """Cadena original of a CFDI 4.0/3.3 ``cfdi:Comprobante`` (the original tree).

    A CFDI 4.0 whose parts ``cadena_directa`` covers (the core elements and the Pagos 2.0
    complement) gets the same string written directly; anything else runs the SAT XSLT.
    """
    direct = cadena_40(root) if check_root(root) == "4.0" else None
    return direct if direct is not None else cadena_original_xslt(root)


def cadena_original_xslt(root: etree._Element) -> str:
    """Cadena original of a CFDI 4.0/3.3 from the SAT XSLT alone (the reference)."""
    return _run(check_root(root), root)


def cadena_tfd_xslt(tfd: etree._Element) -> str:
    """Cadena original of a TimbreFiscalDigital from the SAT XSLT alone (the reference)."""
    version = tfd.get("Version") or tfd.get("version")
    return _run("tfd1.0" if version == "1.0" else "tfd1.1", tfd)


def cadena_tfd(tfd: etree._Element) -> str:
    """Cadena original of a TimbreFiscalDigital element (1.1, or 1.0 of old CFDI)."""
    direct = cadena_tfd_11(tfd)
    return direct if direct is not None else cadena_tfd_xslt(tfd)
