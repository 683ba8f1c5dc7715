"""WSGI entry point for production servers: ``gunicorn -w 4 'web.wsgi:app'``.

The same application as ``web:create_app()``, with each worker warmed up before its
first request (``cfdi_cobranza.warmup.warm_up``): the SAT schemas and stylesheets
compiled, the catalogs loaded and the start-up objects frozen for the garbage
collector, so the first REPs and imports do not pay for it and month-end runs issued
from the web gain what the CLI gains.
"""

from __future__ import annotations

from cfdi_cobranza.warmup import warm_up
from web import create_app

app = create_app()
warm_up()
