"""Benchmark: what email adds to stamping, and how fast the outbox is delivered.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_mail.py [N] [ROUNDS]`` (default 100 payments, 3 rounds).

Each round builds two identical SQLite ledgers (N PPD invoices of one customer, one payment
applied to each, the test CSD, the sandbox PAC), the second with two ``pagos`` contacts.
Then, in the same process:

- ``issue_each`` of the N payments on both: the ratio "with contacts / without" is what
  queueing 2 messages per REP inside the stamp's transaction costs (target: under 1.10x);
- ``deliver_due`` of the 2N messages to an aiosmtpd server on loopback (each with the
  REP's XML and its PDF rendered at send time): ms per message, and the share of it
  spent rendering the PDF.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "integration")]

from fakes.smtp import FakeSmtp  # noqa: E402
from test_rep_examples import CUSTOMER, Book  # noqa: E402

from cfdi_cobranza.cfdi.factory import Line  # noqa: E402
from cfdi_cobranza.config import Settings  # noqa: E402
from cfdi_cobranza.db.session import make_engine, migrate, transaction  # noqa: E402
from cfdi_cobranza.pdf import rep as rep_pdf  # noqa: E402
from cfdi_cobranza.services.mail import contacts  # noqa: E402
from cfdi_cobranza.services.mail import delivery as mail_delivery  # noqa: E402
from cfdi_cobranza.services.mail.config import smtp_config  # noqa: E402
from cfdi_cobranza.services.stamping import sending  # noqa: E402
from cfdi_cobranza.warmup import warm_up  # noqa: E402

_REAL_RENDER = rep_pdf.render_rep_pdf
_RENDERING = [0.0]


def _timed_render(xml: bytes, **kw: object) -> bytes:
    t0 = time.perf_counter()
    try:
        return _REAL_RENDER(xml, **kw)  # type: ignore[arg-type]
    finally:
        _RENDERING[0] += time.perf_counter() - t0


_REAL_QUEUE = sending.queue_stamped_reps
_QUEUEING = [0.0]


def _timed_queue(*args: Any, **kw: Any) -> int:
    t0 = time.perf_counter()
    try:
        return _REAL_QUEUE(*args, **kw)
    finally:
        _QUEUEING[0] += time.perf_counter() - t0


def ledger(tmp: Path, n: int, with_contacts: bool) -> tuple[Book, list[int]]:
    engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
    migrate(engine)
    book = Book.open(engine, Settings(database_url="sqlite://", instance_path=tmp / "instance"), tmp)
    uuids = book.invoices(**{f"F{i}": [Line(Decimal("1000.00"))] for i in range(n)})
    if with_contacts:
        with transaction(engine) as s:
            for email in ("pagos@cliente.example.mx", "tesoreria@cliente.example.mx"):
                contacts.add_contact(s, CUSTOMER.rfc, email, rol="pagos", nombre="Cuentas por pagar", actor="bench")
    pids = []
    for u in uuids.values():
        pid = book.pay("1160.00")
        book.apply(pid, [(u, "1160.00")])
        pids.append(pid)
    return book, pids


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    warm_up()
    ratios, per_message, pdf_share, queue_ms = [], [], [], []
    for r in range(rounds):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            plain, plain_ids = ledger(Path(a), n, with_contacts=False)
            mailed, mailed_ids = ledger(Path(b), n, with_contacts=True)
            order = [(plain, plain_ids), (mailed, mailed_ids)] if r % 2 == 0 else [(mailed, mailed_ids),
                                                                                   (plain, plain_ids)]
            took: dict[int, float] = {}
            _QUEUEING[0] = 0.0
            sending.queue_stamped_reps = _timed_queue  # type: ignore[assignment]
            for book, ids in order:
                start = time.perf_counter()
                results = book.stamper.issue_each(ids)
                took[id(book)] = time.perf_counter() - start
                assert all(x.uuid for x in results), results[0]
            sending.queue_stamped_reps = _REAL_QUEUE  # type: ignore[assignment]
            ratio = took[id(mailed)] / took[id(plain)]
            ratios.append(ratio)
            queue_ms.append(_QUEUEING[0] * 1000 / n)

            _RENDERING[0] = 0.0
            rep_pdf.render_rep_pdf = _timed_render  # type: ignore[assignment]
            with FakeSmtp() as server:
                cfg = smtp_config(None, None, {"COBRANZA_SMTP_URL": server.url, "COBRANZA_SMTP_FROM": "c@e.example.mx"})
                mailer = mail_delivery.Mailer(mailed.engine, cfg, b"k" * 32)
                start = time.perf_counter()
                done = mail_delivery.deliver_due(mailed.engine, mailer=mailer, limit=10 * n)
                spent = time.perf_counter() - start
                assert len(done) == 2 * n and len(server.messages) == 2 * n
            rep_pdf.render_rep_pdf = _REAL_RENDER  # type: ignore[assignment]
            per_message.append(spent / len(done) * 1000)
            pdf_share.append(_RENDERING[0] / spent)
            print(f"round {r + 1}: stamping {n} REPs without contacts {took[id(plain)] * 1000 / n:.2f} ms/REP, "
                  f"with 2 contacts each {took[id(mailed)] * 1000 / n:.2f} ms/REP (ratio {ratio:.3f}x; queueing "
                  f"{queue_ms[-1]:.3f} ms/REP of it); "
                  f"delivery {per_message[-1]:.2f} ms/message, PDF rendering {pdf_share[-1]:.0%} of it")
            plain.engine.dispose()
            mailed.engine.dispose()
    print(f"median ratio stamping with/without email queueing: {statistics.median(ratios):.3f}x "
          f"(rounds: {', '.join(f'{x:.3f}' for x in ratios)}); queueing itself {statistics.median(queue_ms):.3f} ms/REP; "
          f"delivery median {statistics.median(per_message):.2f} "
          f"ms/message, PDF {statistics.median(pdf_share):.0%}")


if __name__ == "__main__":
    main()
