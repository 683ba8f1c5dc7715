"""Start-up of the web server, before its first request.

The SAT schemas, stylesheets and catalogs are compiled or read on first use, once per
process. ``warm_up`` does it at start-up instead, so that the first request of a web
worker does not pay for it: the ``serve`` command and ``web.wsgi`` call it; library code
never does.
"""

from __future__ import annotations

from cfdi_cobranza import catalogs
from cfdi_cobranza.catalogs import currency_decimals
from cfdi_cobranza.cfdi import cadena, schema


def warm_up() -> None:
    """Compile the SAT XSD and XSLT and load the catalogs now."""
    for name in catalogs.names():
        catalogs.keys(name)
    currency_decimals()
    schema.structural_validator()
    schema.rep_structural_validator()
    schema.catalog_sets()
    for key in cadena.XSLT_FILES:
        cadena.stylesheet(key)
