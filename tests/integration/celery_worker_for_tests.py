"""A real Celery worker process for ``test_jobs_celery``: the project's Celery app
(``worker.broker.make_celery``) over the test's Redis prefix and queue, with the
REP stamper the REP example tests use (their CSD key box, sandbox PAC and fixed clocks).

``--hang-after-stamp``: the PAC stamps (durably, in the sandbox) and then the answer
never comes back, so the test can kill this process in the middle of the stamp.
"""

from __future__ import annotations

import argparse
import sys
import time
from base64 import urlsafe_b64encode
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_rep_examples import LOCAL_NOW, NOW_UTC, TIMBRADO_AT

from cfdi_cobranza.db.session import make_engine
from cfdi_cobranza.pac.base import StampRequest, StampResult
from cfdi_cobranza.pac.sandbox import SandboxPac
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services.jobs import Runtime
from cfdi_cobranza.services.stamping import Stamper
from cfdi_cobranza.worker.broker import make_celery


class Hangs:
    name = "sandbox"
    is_sandbox = True

    def __init__(self, inner: SandboxPac) -> None:
        self.inner = inner

    def stamp(self, request: StampRequest) -> StampResult:
        self.inner.stamp(request)
        time.sleep(600)  # the answer never arrives: the test kills this process now
        raise AssertionError("unreachable")

    def recover(self, request: StampRequest) -> StampResult | None:
        return self.inner.recover(request)


def main() -> None:
    ap = argparse.ArgumentParser()
    for name in ("--db", "--broker", "--queue", "--prefix", "--sandbox", "--schedule", "--name"):
        ap.add_argument(name, required=True)
    ap.add_argument("--hang-after-stamp", action="store_true")
    ap.add_argument("--beat", action="store_true")
    ap.add_argument("--lease", type=int, default=3)
    opts = ap.parse_args()
    engine = make_engine(opts.db)
    sandbox = SandboxPac(Path(opts.sandbox), clock=lambda: TIMBRADO_AT)
    pac = Hangs(sandbox) if opts.hang_after_stamp else sandbox
    secret = SecretBox(urlsafe_b64encode(b"cfdi-cobranza-rep-examples-key!!"))  # Book's box key
    runtime = Runtime(engine, lease_seconds=opts.lease, worker=opts.name,
                      stamper_factory=lambda: Stamper(engine, pac, secret, clock=lambda: NOW_UTC,  # type: ignore[arg-type]
                                                      now_local=lambda: LOCAL_NOW))
    app = make_celery(opts.broker, opts.queue, lambda: runtime, prefix=opts.prefix, tick_seconds=1.0)
    argv = ["worker", "-Q", opts.queue, "-c", "1", "-P", "threads", "-l", "WARNING", "-n", f"{opts.name}@test",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    if opts.beat:
        argv += ["-B", "-s", opts.schedule]
    app.worker_main(argv)


if __name__ == "__main__":
    main()
