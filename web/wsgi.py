"""WSGI entry point for production servers:
``gunicorn -c python:web.gunicorn_conf -w 4 'web.wsgi:app'`` (``web.gunicorn_conf``).

The same application as ``web:create_app()`` in production mode (Secure session
cookies by default, a strong secret key required), with each worker warmed up before its
first request (``cfdi_cobranza.warmup.warm_up``): the SAT schemas and stylesheets
compiled and the catalogs loaded, so the first REPs and imports do not pay for it.
"""

from __future__ import annotations

from cfdi_cobranza.warmup import warm_up
from web import create_app
from web.jobs import connect_job_publisher

# Production: Secure cookies by default, a weak COBRANZA_SECRET_KEY refused (README, «Seguridad»).
app = create_app({"PRODUCTION": True})
warm_up()
connect_job_publisher()  # jobs queued by pages go to COBRANZA_BROKER_URL's queue (workers run them)
