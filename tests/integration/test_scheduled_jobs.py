"""The scheduled jobs (services.jobs.scheduled) on SQLite and PostgreSQL.

Issue 16's acceptance through the queue, with a real SMTP server on loopback: a payment
applied under ``al-aplicar`` queues its REP; the queue stamps it; the scheduler's tick
queues the outbox delivery; the customer's ``pagos`` contact receives the REP with the
stored XML byte for byte and a PDF; ticking and running again sends nothing twice. And
the daily/weekly jobs that follow the SAT and Banxico are queued once per period.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fakes.smtp import FakeSmtp
from sqlalchemy import Engine, select
from test_jobs import RFC, Clock, _jobs, runtime
from test_rep_examples import CUSTOMER, Book

from cfdi_cobranza.cfdi.factory import Line
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Rep
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.states import RepStatus
from cfdi_cobranza.services import jobs
from cfdi_cobranza.services.jobs import policy, scheduled
from cfdi_cobranza.services.mail import contacts

D = Decimal
# 04:00 in Mexico City, the day after the payment: before the daily jobs' hour.
EARLY = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
# 07:00 in Mexico City: the daily jobs are due.
MORNING = datetime(2026, 11, 21, 13, 0, tzinfo=UTC)


@pytest.fixture
def book(engine: Engine, settings: Settings, tmp_path: Path) -> Book:
    return Book.open(engine, settings, tmp_path)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch):
    server = FakeSmtp().start()
    monkeypatch.setenv("COBRANZA_SMTP_URL", server.url)
    monkeypatch.setenv("COBRANZA_SMTP_FROM", "cobranza@empresa.example.mx")
    monkeypatch.setenv("COBRANZA_SMTP_TIMEOUT", "5")
    yield server
    server.stop()


def _runtime(book: Book, settings: Settings, at: datetime):
    rt = runtime(book, clock=Clock(at))
    rt.instance_path = settings.instance_path
    return rt


def test_al_aplicar_rep_reaches_the_customer_by_itself_exactly_once(book: Book, settings: Settings, smtp) -> None:
    uuids = book.invoices(F1=[Line(D("10000.00"))])
    with transaction(book.engine) as s:
        policy.set_policy(s, RFC, "al-aplicar", clock=book.clock)
        contacts.add_contact(s, CUSTOMER.rfc, "pagos@cliente.example.mx", rol="pagos", nombre="Ana Pérez", actor="t")
    pid = book.pay("1000.00")
    book.apply(pid, [(uuids["F1"], "1000.00")])
    rt = _runtime(book, settings, EARLY)
    assert [state for _id, state in jobs.run_until_empty(rt)] == ["done"]
    with transaction(book.engine) as s:
        rep = s.scalar(select(Rep))
        assert rep is not None and rep.status == RepStatus.TIMBRADO
        stored = rep.stamped_xml
    assert smtp.messages == []  # queued with the stamp, not sent inside the stamping job

    first = scheduled.tick(book.engine, clock=Clock(EARLY), instance_path=settings.instance_path)
    assert [j.kind for j in _jobs(book.engine) if j.id in first] == ["mail.pendientes"]
    assert scheduled.tick(book.engine, clock=Clock(EARLY), instance_path=settings.instance_path) == first
    assert [state for _id, state in jobs.run_until_empty(rt)] == ["done"]
    assert len(smtp.messages) == 1
    msg = smtp.messages[0].parsed()
    assert smtp.messages[0].rcpt_tos == ["pagos@cliente.example.mx"]
    parts = {p.get_content_type(): p.get_payload(decode=True) for p in msg.iter_attachments()}
    assert parts["application/xml"] == stored and parts["application/pdf"].startswith(b"%PDF")

    # Nothing due any more: later ticks queue no delivery, and running the queue sends nothing twice.
    later = Clock(datetime(2026, 11, 21, 10, 5, tzinfo=UTC))
    assert scheduled.tick(book.engine, clock=later, instance_path=settings.instance_path) == []
    jobs.run_until_empty(_runtime(book, settings, datetime(2026, 11, 21, 10, 5, tzinfo=UTC)))
    assert len(smtp.messages) == 1


def test_daily_and_weekly_jobs_are_queued_once_per_period(book: Book, settings: Settings,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    book.invoices(F1=[Line(D("100.00"))])
    monkeypatch.delenv("COBRANZA_SMTP_URL", raising=False)
    monkeypatch.delenv("COBRANZA_BANXICO_TOKEN", raising=False)
    monkeypatch.delenv("COBRANZA_SAT_JOBS", raising=False)
    # A test installation (the sandbox PAC) does not talk to the SAT by itself.
    alone = scheduled.tick(book.engine, clock=Clock(MORNING), instance_path=settings.instance_path)
    assert [j.kind for j in _jobs(book.engine) if j.id in alone] == ["mail.avisos"]
    monkeypatch.setenv("COBRANZA_SAT_JOBS", "1")
    assert scheduled.tick(book.engine, clock=Clock(EARLY), instance_path=settings.instance_path) == []
    first = scheduled.tick(book.engine, clock=Clock(MORNING), instance_path=settings.instance_path)
    kinds = sorted(j.kind for j in _jobs(book.engine) if j.id in first)
    # No e.firma, no Banxico token, no SMTP: no sync, no rates, no delivery.
    assert kinds == ["mail.avisos", "sat.efos", "sat.estado"]
    assert scheduled.tick(book.engine, clock=Clock(MORNING), instance_path=settings.instance_path) == first
    monkeypatch.setenv("COBRANZA_BANXICO_TOKEN", "token-de-pruebas")
    nxt = scheduled.tick(book.engine, clock=Clock(datetime(2026, 11, 22, 13, 0, tzinfo=UTC)),
                         instance_path=settings.instance_path)
    kinds = sorted(j.kind for j in _jobs(book.engine) if j.id in nxt)
    assert kinds == ["mail.avisos", "sat.efos", "sat.estado", "sat.tipos_cambio"]
    assert set(nxt) & set(first) == {j.id for j in _jobs(book.engine) if j.kind == "sat.efos"}  # same week
