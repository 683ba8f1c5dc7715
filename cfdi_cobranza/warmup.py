"""Start-up of the web server, before its first request.

The SAT schemas, stylesheets and catalogs are compiled or read on first use, once per
process. ``warm_up`` does it at start-up instead, and then (``freeze=True``) moves every
object alive at that moment to the garbage collector's permanent generation
(``gc.freeze``). Those ~120,000 long-lived objects (catalogs, compiled schemas, the ORM's
metadata, imported modules) are otherwise re-scanned by every full collection, which a
long request triggers several times. Reference counting still frees everything; only
cycles among the frozen objects are never collected, which is why it is done once, at
start-up, before any request creates objects of its own: the ``serve`` command and the
WSGI entry point call it, library code never does.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_frozen = False


def warm_up(*, freeze: bool = True) -> None:
    """Compile the SAT XSD and XSLT and load the catalogs now; then ``gc.freeze()`` once."""
    global _frozen
    from cfdi_cobranza import catalogs
    from cfdi_cobranza.catalogs import currency_decimals
    from cfdi_cobranza.cfdi import cadena, schema

    for name in catalogs.names():
        catalogs.keys(name)
    currency_decimals()
    schema.structural_validator()
    schema.rep_structural_validator()
    schema.catalog_sets()
    for key in cadena.XSLT_FILES:
        cadena.stylesheet(key)
    if freeze:
        with _lock:
            if not _frozen:
                gc.collect()
                gc.freeze()
                _frozen = True
