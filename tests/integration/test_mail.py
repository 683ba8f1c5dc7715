"""Email of REPs and collection documents, through a real SMTP server on loopback (aiosmtpd).

A REP stamped for a customer with a ``pagos`` contact is queued in the stamp's own
transaction and delivered by ``deliver_due``: the message arrives, its XML attachment is
byte-identical to the stored REP and its PDF is a PDF; a refusal is kept with the server's
answer, a temporary error or a dropped connection is retried with backoff, and nothing is
sent twice (two deliveries, two concurrent claims, a dead sender after DATA).
"""

from __future__ import annotations

from datetime import date, timedelta
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from fakes.smtp import FakeSmtp
from sqlalchemy import Engine, delete, func, select, update
from test_rep_examples import CUSTOMER, Book
from test_rep_failures import ppd_payment

from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Company, Document, Rep
from cfdi_cobranza.db.models.mail import MailAttachment, MailMessage
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.mail import MailKind
from cfdi_cobranza.domain.states import MailStatus
from cfdi_cobranza.errors import NotFoundError, ValidationError
from cfdi_cobranza.services.mail import alerts, config, contacts, delivery, documents, links, outbox
from cfdi_cobranza.services.mail.config import smtp_config
from cfdi_cobranza.services.mail.delivery import Mailer, deliver_due, deliver_message, sweep_stale

SENDER = "cobranza@empresa.example.mx"


@pytest.fixture
def book(engine: Engine, settings: Settings, tmp_path: Path) -> Book:
    return Book.open(engine, settings, tmp_path)


@pytest.fixture
def smtp() -> FakeSmtp:
    server = FakeSmtp().start()
    yield server
    server.stop()


def mailer(book: Book, server: FakeSmtp, **kw: object) -> Mailer:
    cfg = smtp_config(None, None, {"COBRANZA_SMTP_URL": server.url, "COBRANZA_SMTP_FROM": SENDER,
                                   "COBRANZA_SMTP_TIMEOUT": "5"})
    return Mailer(book.engine, cfg, b"k" * 32, clock=book.clock, **kw)  # type: ignore[arg-type]


def add(book: Book, email: str, rol: str = "pagos", nombre: str | None = "Ana Pérez") -> int:
    with transaction(book.engine) as s:
        return contacts.add_contact(s, CUSTOMER.rfc, email, rol=rol, nombre=nombre, actor="t").id


def stamped(book: Book, *people: tuple[str, ...]) -> Rep:
    """A REP stamped after adding ``people`` (email, rol, nombre) as contacts of its customer."""
    _inv, pid = ppd_payment(book)
    for person in people:
        add(book, *person)
    result = book.stamper.issue([pid])
    assert result.uuid is not None
    with transaction(book.engine) as s:
        rep = s.scalar(select(Rep).where(Rep.uuid == result.uuid))
        assert rep is not None
        s.expunge(rep)
        return rep


def messages(book: Book) -> list[MailMessage]:
    with transaction(book.engine) as s:
        rows = list(s.scalars(select(MailMessage).order_by(MailMessage.id)))
        for r in rows:
            s.expunge(r)
        return rows


def test_a_stamped_rep_is_queued_with_its_stamp_and_arrives_with_its_files(book: Book, smtp: FakeSmtp) -> None:
    # a collection contact gets no REP
    rep = stamped(book, ("ana@cliente.example.mx", "pagos", 'Ana Pérez, "Pagos"'),
                  ("cobra@cliente.example.mx", "cobranza"))
    queued = messages(book)
    assert [(m.kind, m.to_addr, m.status, m.rep_id) for m in queued] == [
        ("rep", "ana@cliente.example.mx", "en_cola", rep.id)]

    done = deliver_due(book.engine, book.clock(), mailer=mailer(book, smtp))
    assert [d.status for d in done] == [MailStatus.ENVIADO]
    (got,) = smtp.messages
    assert got.rcpt_tos == ["ana@cliente.example.mx"] and got.mail_from == SENDER
    msg = got.parsed()
    with transaction(book.engine) as s:
        empresa = s.scalar(select(Company.nombre))
    assert rep.sandbox  # the sandbox PAC stamped it: the subject says so, as its PDF does
    assert str(make_header(decode_header(msg["Subject"]))) == \
        f"[SIN VALIDEZ FISCAL] Complemento de pago {rep.serie}-{rep.folio} de {empresa}"
    assert msg["To"].addresses[0].display_name == 'Ana Pérez, "Pagos"'
    assert msg["Message-ID"].startswith(f"<cobranza.{queued[0].id}.")
    files = {p.get_filename(): p for p in msg.iter_attachments()}
    xml = files[f"REP-{rep.serie}{rep.folio}-{rep.uuid}.xml"]
    pdf = files[f"REP-{rep.serie}{rep.folio}-{rep.uuid}.pdf"]
    assert xml.get_content_type() == "application/xml" and pdf.get_content_type() == "application/pdf"
    assert xml.get_payload(decode=True) == rep.stamped_xml  # byte-identical to the stored REP
    assert pdf.get_payload(decode=True).startswith(b"%PDF-")
    body = msg.get_body(("plain",)).get_content()
    assert "{enlace}" not in body and "/portal/" in body
    # The link in the body opens this customer's page.
    token = body.split("/portal/", 1)[1].split()[0]
    with transaction(book.engine) as s:
        assert links.resolve(s, b"k" * 32, token, clock=book.clock).rfc == CUSTOMER.rfc
    (sent,) = messages(book)
    assert sent.status == "enviado" and sent.attempts == 1 and sent.sent_at is not None

    # Delivering again sends nothing: the message is no longer queued.
    assert deliver_due(book.engine, book.clock() + timedelta(hours=1), mailer=mailer(book, smtp)) == []
    assert deliver_message(book.engine, sent.id, mailer=mailer(book, smtp)).status is None
    assert len(smtp.messages) == 1


def test_no_contact_no_message_and_rep_send_queues_once_unless_again(book: Book, smtp: FakeSmtp) -> None:
    rep = stamped(book)
    assert messages(book) == []
    with transaction(book.engine) as s, pytest.raises(ValidationError) as err:
        outbox.queue_rep(s, rep.uuid or "", actor="t")
    assert err.value.code == "SIN_CONTACTOS"
    add(book, "ana@cliente.example.mx")
    with transaction(book.engine) as s:
        first = outbox.queue_rep(s, rep.uuid or "", actor="t", clock=book.clock)
    with transaction(book.engine) as s:
        second = outbox.queue_rep(s, rep.uuid or "", actor="t", clock=book.clock)
    assert len(first.ids) == 1 and second.ids == [] and second.duplicates == ["ana@cliente.example.mx"]
    with transaction(book.engine) as s:
        again = outbox.queue_rep(s, rep.uuid or "", actor="t", again=True, clock=book.clock)
    assert len(again.ids) == 1
    deliver_due(book.engine, book.clock(), mailer=mailer(book, smtp))
    assert len(smtp.messages) == 2


def test_a_refusal_is_logged_with_the_answer_and_not_retried(book: Book, smtp: FakeSmtp) -> None:
    stamped(book, ("nadie@cliente.example.mx",))
    smtp.refuse_rcpt = "550 5.1.1 Buzón inexistente"
    (d,) = deliver_due(book.engine, book.clock(), mailer=mailer(book, smtp))
    assert d.status is MailStatus.RECHAZADO
    (m,) = messages(book)
    assert m.status == "rechazado" and "550" in (m.last_answer or "") and "inexistente" in (m.last_answer or "")
    assert deliver_due(book.engine, book.clock() + timedelta(days=1), mailer=mailer(book, smtp)) == []
    assert smtp.messages == []


def test_temporary_errors_and_dropped_connections_are_retried_with_backoff(book: Book, smtp: FakeSmtp) -> None:
    stamped(book, ("ana@cliente.example.mx",))
    m = mailer(book, smtp, retry_base=60, max_attempts=5)
    smtp.tempfail_data, smtp.drop_data = 1, 1
    now = book.clock()
    (first,) = deliver_due(book.engine, now, mailer=m)
    assert first.status is MailStatus.EN_COLA  # dropped before answering DATA
    (row,) = messages(book)
    assert row.attempts == 1 and row.next_attempt_at == now + timedelta(seconds=60)
    assert "cortó" in (row.last_answer or "")
    assert deliver_due(book.engine, now + timedelta(seconds=59), mailer=m) == []  # not due yet
    (second,) = deliver_due(book.engine, now + timedelta(seconds=60), mailer=m)
    assert second.status is MailStatus.EN_COLA and "451" in (second.answer or "")
    (row,) = messages(book)
    assert row.next_attempt_at == now + timedelta(seconds=120)  # the delay doubled
    (third,) = deliver_due(book.engine, now + timedelta(seconds=120), mailer=m)
    assert third.status is MailStatus.ENVIADO
    assert len(smtp.messages) == 1 and smtp.data_attempts == 3


def test_a_server_that_refuses_the_connection_ends_failed_after_the_attempts(book: Book, smtp: FakeSmtp) -> None:
    stamped(book, ("ana@cliente.example.mx",))
    m = mailer(book, smtp, retry_base=1, max_attempts=3)
    smtp.stop()  # nothing listens: connection refused
    at = book.clock()
    statuses = []
    for _ in range(3):
        (d,) = deliver_due(book.engine, at, mailer=m)
        statuses.append(d.status)
        at += timedelta(hours=1)
    assert statuses == [MailStatus.EN_COLA, MailStatus.EN_COLA, MailStatus.FALLIDO]
    (row,) = messages(book)
    assert row.attempts == 3 and "Sin conexión" in (row.last_answer or "")
    smtp.start()
    with transaction(book.engine) as s:
        outbox.resend(s, row.id, actor="t", clock=lambda: at)
    (d,) = deliver_due(book.engine, at, mailer=m)
    assert d.status is MailStatus.ENVIADO and len(smtp.messages) == 1


def test_two_senders_never_send_the_same_message(book: Book, smtp: FakeSmtp) -> None:
    stamped(book, ("ana@cliente.example.mx",))
    (row,) = messages(book)
    m1, m2 = mailer(book, smtp), mailer(book, smtp)
    # The second sender's claim comes while the first holds the message.
    assert delivery._claim(m1, row.id, book.clock())
    assert not delivery._claim(m2, row.id, book.clock())
    assert deliver_message(book.engine, row.id, mailer=m2).status is None
    assert smtp.messages == []


def test_a_sender_that_died_after_data_is_not_resent_by_itself(book: Book, smtp: FakeSmtp) -> None:
    stamped(book, ("ana@cliente.example.mx",), ("luis@cliente.example.mx",))
    a, b = messages(book)
    now = book.clock()
    with transaction(book.engine) as s:  # both claimed; only a had reached DATA when the worker died
        s.execute(update(MailMessage).values(status="enviando", claimed_at=now, attempts=1))
        s.execute(update(MailMessage).where(MailMessage.id == a.id).values(data_at=now))
    m = mailer(book, smtp)
    assert sweep_stale(m, now + timedelta(minutes=5)) == 0  # not stale yet
    done = deliver_due(book.engine, now + timedelta(minutes=16), mailer=m)
    assert [(d.message_id, d.status) for d in done] == [(b.id, MailStatus.ENVIADO)]
    a2, _b2 = messages(book)
    assert a2.status == "incierto" and "mail resend" in (a2.last_answer or "")
    assert [x.rcpt_tos for x in smtp.messages] == [["luis@cliente.example.mx"]]


def test_opt_out_is_honoured_and_names_cannot_inject_headers(book: Book, smtp: FakeSmtp) -> None:
    stamped(book, ("ana@cliente.example.mx", "pagos", "Ana\r\nBcc: robo@malo.example.com"),
            ("luis@cliente.example.mx",))
    with transaction(book.engine) as s:
        contacts.set_opt_out(s, CUSTOMER.rfc, "luis@cliente.example.mx", True, actor="t")
    deliver_due(book.engine, book.clock(), mailer=mailer(book, smtp))
    (got,) = smtp.messages
    assert got.rcpt_tos == ["ana@cliente.example.mx"]
    msg = got.parsed()
    assert msg["Bcc"] is None and b"\nBcc:" not in got.data
    assert msg["To"].addresses[0].display_name == "Ana Bcc: robo@malo.example.com"
    statuses = {m.to_addr: m.status for m in messages(book)}
    assert statuses == {"ana@cliente.example.mx": "enviado", "luis@cliente.example.mx": "cancelado"}


def test_contacts_are_validated(book: Book) -> None:
    stamped(book)
    for bad in ("ana", "ana@", "a b@x.mx", "ana@x", "ana@x.mx\r\nBcc: y@z.mx", "<a@x.mx>"):
        with transaction(book.engine) as s, pytest.raises(ValidationError) as err:
            contacts.add_contact(s, CUSTOMER.rfc, bad, actor="t")
        assert err.value.code == "CORREO_INVALIDO"
    with transaction(book.engine) as s, pytest.raises(ValidationError) as err:
        contacts.add_contact(s, CUSTOMER.rfc, "a@x.mx", rol="jefe", actor="t")
    assert err.value.code == "CONTACTO_ROL_INVALIDO"
    with transaction(book.engine) as s, pytest.raises(NotFoundError):
        contacts.add_contact(s, "XAXX010101000", "a@x.mx", actor="t")
    data = f"rfc,email,rol,nombre\n{CUSTOMER.rfc},a@x.mx,cobranza,A\n{CUSTOMER.rfc},mal,pagos,B\n".encode()
    with pytest.raises(ValidationError) as err, transaction(book.engine) as s:  # rolled back
        contacts.import_contacts(s, data, actor="t")
    assert err.value.code == "CSV_CONTACTOS_INVALIDO" and "línea 3" in err.value.message
    with transaction(book.engine) as s:
        assert contacts.list_contacts(s, CUSTOMER.rfc) == []  # nothing half-imported
        res = contacts.import_contacts(s, data.replace(b",mal,", b",b@X.MX,"), actor="t")
    assert [c.email for c in res.added] == ["a@x.mx", "b@x.mx"]


def test_the_company_option_turns_automatic_rep_email_off(book: Book) -> None:
    _inv, pid = ppd_payment(book)
    add(book, "ana@cliente.example.mx")
    with transaction(book.engine) as s:
        rfc = s.scalar(select(Rep.company_id))  # no REP yet
        assert rfc is None
        company_rfc = s.scalar(select(Company.rfc))
        config.set_company_options(s, company_rfc, actor="t", rep_auto=False)
    book.stamper.issue([pid])
    with transaction(book.engine) as s:
        assert s.scalar(select(func.count(MailMessage.id))) == 0


def test_deadline_alert_is_queued_once_per_address(book: Book) -> None:
    stamped(book)
    with transaction(book.engine) as s:
        company_rfc = s.scalar(select(Company.rfc))
        config.set_company_options(s, company_rfc, actor="t", alert_emails="facturacion@empresa.mx, jefa@empresa.mx")
    lines = [outbox.PendingRepLine("Cliente A", date(2026, 11, 3), "$1,000.00 MXN")]
    for _ in range(2):
        with transaction(book.engine) as s:
            outbox.queue_deadline_alert(s, company_rfc, date(2026, 12, 5), lines, clock=book.clock)
    rows = messages(book)
    alerts = [m for m in rows if m.kind == MailKind.ALERTA_REP]
    assert sorted(m.to_addr for m in alerts) == ["facturacion@empresa.mx", "jefa@empresa.mx"]
    assert "Cliente A" in alerts[0].body and "05/12/2026" in alerts[0].subject


def test_reminders_go_n_days_before_the_due_date_once(book: Book, smtp: FakeSmtp) -> None:
    _inv, _pid = ppd_payment(book, "1000.00")
    add(book, "cobra@cliente.example.mx", "cobranza", "Cobranza Cliente")
    add(book, "pagos@cliente.example.mx", "pagos")  # a pagos contact gets no reminder
    with transaction(book.engine) as s:
        due = s.scalar(select(Document.vencimiento).where(Document.tipo == "I"))
        assert due is not None
        config.set_company_options(s, s.scalar(select(Company.rfc)), actor="t", reminder_days=3)
    with transaction(book.engine) as s:
        assert documents.queue_reminders(s, due - timedelta(days=4), clock=book.clock).queued == []
        run = documents.queue_reminders(s, due - timedelta(days=3), clock=book.clock)
    assert run.customers == 1 and len(run.queued) == 1
    with transaction(book.engine) as s:  # the same day again: nothing new
        assert documents.queue_reminders(s, due - timedelta(days=3), clock=book.clock).queued == []
    deliver_due(book.engine, book.clock(), mailer=mailer(book, smtp))
    (got,) = smtp.messages
    body = got.parsed().get_body(("plain",)).get_content()
    assert got.rcpt_tos == ["cobra@cliente.example.mx"] and "saldo $10,600.00 MXN" in body


def test_a_letter_is_sent_as_pdf_to_the_collection_contacts(book: Book, smtp: FakeSmtp) -> None:
    ppd_payment(book, "1000.00")
    add(book, "cobra@cliente.example.mx", "cobranza")
    with transaction(book.engine) as s:
        queued = documents.send_letter(s, CUSTOMER.rfc, "recordatorio_1", date(2027, 3, 1), actor="t",
                                       clock=book.clock)
    assert len(queued.ids) == 1
    deliver_due(book.engine, book.clock(), mailer=mailer(book, smtp))
    (got,) = smtp.messages
    (pdf,) = list(got.parsed().iter_attachments())
    assert pdf.get_filename().startswith("carta-recordatorio_1-") and pdf.get_payload(decode=True)[:5] == b"%PDF-"


def test_the_deadline_alert_lists_payments_near_day_five(book: Book) -> None:
    ppd_payment(book, "1000.00")  # paid 15/10/2026, no REP: due 05/11/2026
    with transaction(book.engine) as s:
        config.set_company_options(s, s.scalar(select(Company.rfc)), actor="t", alert_emails="fact@empresa.mx")
    with transaction(book.engine) as s:
        assert alerts.queue_deadline_alerts(s, date(2026, 11, 1), within_days=3, clock=book.clock).ids == []
        first = alerts.queue_deadline_alerts(s, date(2026, 11, 2), within_days=3, clock=book.clock)
        again = alerts.queue_deadline_alerts(s, date(2026, 11, 4), within_days=3, clock=book.clock)
    assert len(first.ids) == 1 and again.ids == [] and again.duplicates == ["fact@empresa.mx"]
    (m,) = messages(book)
    assert m.kind == "alerta_rep" and "05/11/2026" in m.subject and "$1,000.00 MXN" in m.body
    assert not m.with_link and "{enlace}" not in m.body


class _Killed(BaseException):
    """The worker process dying (not an Exception: nothing may catch it)."""


def test_a_worker_killed_after_the_server_accepted_never_resends_by_itself(book: Book, smtp: FakeSmtp,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    stamped(book, ("ana@cliente.example.mx",))
    (row,) = messages(book)
    real_settle = delivery._settle

    def die_on_success(mailer: Mailer, message_id: int, status: MailStatus, *a: object, **kw: object) -> object:
        if status is MailStatus.ENVIADO:
            raise _Killed
        return real_settle(mailer, message_id, status, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(delivery, "_settle", die_on_success)
    m = mailer(book, smtp)
    with pytest.raises(_Killed):
        deliver_due(book.engine, book.clock(), mailer=m)
    monkeypatch.setattr(delivery, "_settle", real_settle)
    assert len(smtp.messages) == 1  # the server has it; the row does not know
    (after,) = messages(book)
    assert after.status == "enviando" and after.data_at is not None
    later = book.clock() + timedelta(minutes=16)
    assert deliver_due(book.engine, later, mailer=m) == []
    (after,) = messages(book)
    assert after.status == "incierto" and len(smtp.messages) == 1
    # Sent again only when a user asks, with the same Message-ID so the copy is recognisable.
    with transaction(book.engine) as s:
        outbox.resend(s, row.id, actor="t", clock=lambda: later)
    (d,) = deliver_due(book.engine, later, mailer=m)
    assert d.status is MailStatus.ENVIADO and len(smtp.messages) == 2
    first, second = (x.parsed()["Message-ID"] for x in smtp.messages)
    assert first == second


def test_a_rep_queued_meanwhile_by_another_sender_never_fails_the_stamp(book: Book,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    rep = stamped(book, ("ana@cliente.example.mx",), ("luis@cliente.example.mx",))
    assert len(messages(book)) == 2
    ana = messages(book)[0].id
    with transaction(book.engine) as s:  # Ana's message removed: the batch has one new row and one taken
        s.execute(delete(MailAttachment).where(MailAttachment.message_id == ana))
        s.execute(delete(MailMessage).where(MailMessage.id == ana))
    # The check for keys already queued misses the one a concurrent «rep send» wrote: the insert conflicts.
    monkeypatch.setattr(outbox, "_existing_keys", lambda _s, _k: set())
    with transaction(book.engine) as s:
        assert outbox.queue_stamped_reps(s, [rep.id], now=book.clock()) == 1
    assert sorted(m.to_addr for m in messages(book)) == ["ana@cliente.example.mx", "luis@cliente.example.mx"]
    with transaction(book.engine) as s:
        assert s.scalar(select(func.count(MailAttachment.id))) == 4
