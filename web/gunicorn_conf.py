"""Gunicorn settings: ``gunicorn -c python:web.gunicorn_conf -w 4 'web.wsgi:app'``.

Once a worker has loaded the application (``web.wsgi``: the SAT schemas compiled and
the catalogs loaded), its start-up objects are moved to the garbage collector's
permanent generation (``gc.freeze()``): the full collections that a large report
triggers no longer walk them. bench/bench_collections.py --startup-freeze measured the
aging report by customer 6-17 % faster so (docs/benchmarks.md). Only cycles among those
objects are never collected, which is why it happens once, before any request.
"""

from __future__ import annotations

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    gc.freeze()
