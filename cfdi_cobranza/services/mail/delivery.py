"""Delivery of the outbox: claim one message, send it over SMTP, record what the server said.

Claiming is a conditional UPDATE (``en_cola`` and due -> ``enviando``, attempts + 1) that
only one sender can win, so two workers never send the same message. The outcome:

- the server accepted it (250 after DATA): ``enviado``;
- it refused it for good (a 5xx answer to the recipient or to DATA): ``rechazado``, with
  the answer kept;
- a temporary error (4xx, the server refusing or dropping the connection, a timeout):
  back to ``en_cola`` with a growing delay (1, 2, 4 ... minutes, ``COBRANZA_SMTP_RETRY_BASE``),
  ``fallido`` after ``COBRANZA_SMTP_MAX_ATTEMPTS`` (5) attempts.

**At most once for a dead sender, at least once for a dropped connection.** Right before
handing the message over (MAIL FROM / RCPT / DATA) the sender commits ``data_at``. A sender
that died after that moment may have had the message accepted without recording it: such a
claim, once stale (``COBRANZA_SMTP_STALE_MINUTES``, 15), becomes ``incierto`` and is never
sent again by itself (``cobranza mail resend ID`` does, on purpose). A stale claim with no
``data_at`` handed nothing over and simply goes back to the queue. A connection dropped by the
server before its final answer to DATA is retried like any temporary error: a server may
have kept the message, so the recipient may then see it twice; every attempt of a message
carries the same ``Message-ID`` (derived from the message's id), so mail programs and the
server's logs can tell the copies apart as one message.
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Rep
from cfdi_cobranza.db.models.mail import CustomerContact, CustomerLink, MailAttachment, MailMessage
from cfdi_cobranza.db.scope import limit_to_companies
from cfdi_cobranza.db.session import session_factory
from cfdi_cobranza.domain.mail import header_text, retry_delay_seconds
from cfdi_cobranza.domain.states import MailStatus
from cfdi_cobranza.errors import ConfigurationError
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.mail.config import SmtpConfig, smtp_config
from cfdi_cobranza.services.mail.links import link_key, new_link, url_for

SMTP_MISSING = ("No hay servidor de correo configurado: defina COBRANZA_SMTP_URL y COBRANZA_SMTP_FROM o "
                "use «cobranza mail config».", "SMTP_NO_CONFIGURADO")
_UNCERTAIN = ("El envío se interrumpió después de entregar el mensaje al servidor; pudo haber llegado. "
              "No se reenvía solo: use «cobranza mail resend {id}» si debe enviarse otra vez.")


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        return max(1, int(env.get(name) or default))
    except ValueError:
        return default


@dataclass
class Mailer:
    """Delivers the outbox of one database through one SMTP server."""

    engine: Engine
    smtp: SmtpConfig | None
    link_key: bytes
    clock: Clock = system_clock
    max_attempts: int = 5
    retry_base: int = 60  # seconds before the 2nd attempt; doubled each time, up to an hour
    stale_after: timedelta = timedelta(minutes=15)
    actor: str = "sistema"
    keep_open: bool = False  # reuse one SMTP connection across messages (deliver_due)
    _sessions: Any = field(default=None, repr=False)
    _client: smtplib.SMTP | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, engine: Engine, instance_path: str | Path | None = None, *,
                      environ: Mapping[str, str] | None = None, clock: Clock = system_clock) -> Mailer:
        env = os.environ if environ is None else environ
        path = Path(instance_path) if instance_path is not None else Settings.from_env(None).instance_path
        box = SecretBox.for_instance(path)
        with session_factory(engine)() as session:
            smtp = smtp_config(session, box, env)
        return cls(engine, smtp, link_key(path), clock, _env_int(env, "COBRANZA_SMTP_MAX_ATTEMPTS", 5),
                   _env_int(env, "COBRANZA_SMTP_RETRY_BASE", 60),
                   timedelta(minutes=_env_int(env, "COBRANZA_SMTP_STALE_MINUTES", 15)))

    def client(self) -> smtplib.SMTP:
        """An SMTP connection: the open one if it still answers NOOP, else a new one."""
        assert self.smtp is not None
        if self._client is not None:
            try:
                if self._client.noop()[0] == 250:
                    return self._client
            except (smtplib.SMTPException, OSError):
                pass
            self.drop_client()
        self._client = _connect(self.smtp)
        return self._client

    def drop_client(self) -> None:
        """Forget a connection in an unknown state (after an error) without talking to it."""
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except (smtplib.SMTPException, OSError):
                self._client.close()
            finally:
                self._client = None

    def session(self) -> Session:
        if self._sessions is None:
            self._sessions = session_factory(self.engine)
        s: Session = self._sessions()
        return s


@dataclass(frozen=True)
class Delivery:
    message_id: int
    status: MailStatus | None  # None: not claimed (another sender has it, or it is not due)
    answer: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.message_id, "estado": self.status.value if self.status else None,
                "respuesta": self.answer}


def message_id_header(message_id: int, sender: str) -> str:
    """The same Message-ID on every attempt of one message (so a duplicate is recognisable)."""
    domain = sender.rsplit("@", 1)[-1]
    tag = hashlib.sha256(f"cfdi-cobranza:{message_id}:{sender}".encode()).hexdigest()[:16]
    return f"<cobranza.{message_id}.{tag}@{domain}>"


def build_message(msg: MailMessage, attachments: list[tuple[str, str, bytes]], smtp: SmtpConfig,
                  body: str, now: datetime) -> EmailMessage:
    """MIME: UTF-8 subject and names encoded by the standard library (``Address`` quotes the display
    name; line breaks were removed when queued and are removed again here), text body, attachments
    base64 with their content type."""
    out = EmailMessage()
    out["Subject"] = header_text(msg.subject, 300)
    out["From"] = Address(display_name=header_text(smtp.from_name), addr_spec=smtp.from_addr)
    out["To"] = Address(display_name=header_text(msg.to_name), addr_spec=msg.to_addr)
    out["Date"] = format_datetime(now)
    out["Message-ID"] = message_id_header(msg.id, smtp.from_addr)
    out["Auto-Submitted"] = "auto-generated"
    out.set_content(body, charset="utf-8")
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        out.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    return out


def _claim_in(session: Session, message_id: int, now: datetime) -> bool:
    result = session.execute(
        update(MailMessage).where(MailMessage.id == message_id, MailMessage.status == MailStatus.EN_COLA,
                                  MailMessage.next_attempt_at <= now)
        .values(status=MailStatus.ENVIANDO, claimed_at=now, data_at=None, attempts=MailMessage.attempts + 1))
    return int(getattr(result, "rowcount", 0) or 0) == 1


def _claim(mailer: Mailer, message_id: int, now: datetime) -> bool:
    """Only one sender wins the conditional UPDATE; the others see 0 rows."""
    with mailer.session() as session, session.begin():
        return _claim_in(session, message_id, now)


def _settle(mailer: Mailer, message_id: int, status: MailStatus, answer: str | None, *,
            retry_at: datetime | None = None) -> Delivery:
    now = mailer.clock()
    with mailer.session() as session, session.begin():
        msg = session.get(MailMessage, message_id, with_for_update=True)
        assert msg is not None
        msg.status = MailStatus(msg.status).check_move(status).value
        msg.last_answer = (answer or "")[:1000] or msg.last_answer
        msg.claimed_at = None
        if status is MailStatus.ENVIADO:
            msg.sent_at = now
        if status is MailStatus.EN_COLA:
            msg.next_attempt_at, msg.data_at = retry_at or now, None
    return Delivery(message_id, status, answer)


@dataclass(frozen=True)
class _Claimed:
    """A claimed message as read in the claim's transaction; the REP PDFs are rendered after it."""

    row: MailMessage  # detached
    body: str
    files: list[tuple[str, str, bytes | tuple[bytes, bool]]]  # bytes, or (stamped XML, sandbox) to render


def _claim_and_read(mailer: Mailer, message_id: int, now: datetime) -> _Claimed | Delivery | None:
    """In one transaction: claim the message (None when another sender has it or it is not due),
    honour an opt-out (``cancelado``), make the customer's link on the first attempt, and read
    what it carries. Nothing slow happens inside (SQLite holds its write lock for a transaction)."""
    with mailer.session() as session, session.begin():
        if not _claim_in(session, message_id, now):
            return None
        msg = session.get(MailMessage, message_id)
        assert msg is not None
        if msg.contact_id is not None:
            contact = session.get(CustomerContact, msg.contact_id)
            if contact is None or contact.opt_out:
                msg.status = MailStatus(msg.status).check_move(MailStatus.CANCELADO).value
                msg.last_answer = "El contacto pidió no recibir correos." if contact else "Contacto eliminado."
                msg.claimed_at = None
                return Delivery(msg.id, MailStatus.CANCELADO, msg.last_answer)
        body = msg.body
        if msg.with_link and msg.customer_id is not None:
            link = session.get(CustomerLink, msg.link_id) if msg.link_id else None
            if link is None:
                link = new_link(session, msg.customer_id, actor=mailer.actor, now=now)
                msg.link_id = link.id
            body = body.replace("{enlace}", url_for(mailer.link_key, link))
        files: list[tuple[str, str, bytes | tuple[bytes, bool]]] = []
        for a in session.scalars(select(MailAttachment).where(MailAttachment.message_id == msg.id)
                                 .order_by(MailAttachment.id)):
            if a.content is not None:
                files.append((a.filename, a.content_type, a.content))
                continue
            rep = session.get(Rep, a.rep_id) if a.rep_id else None
            if rep is None or rep.stamped_xml is None:
                msg.status = MailStatus(msg.status).check_move(MailStatus.RECHAZADO).value
                msg.last_answer, msg.claimed_at = f"El REP {a.rep_id} ya no tiene XML timbrado.", None
                return Delivery(msg.id, MailStatus.RECHAZADO, msg.last_answer)
            files.append((a.filename, a.content_type,
                          rep.stamped_xml if a.rep_part == "xml" else (rep.stamped_xml, rep.sandbox)))
        session.flush()
        session.expunge(msg)
        return _Claimed(msg, body, files)


def _render(files: list[tuple[str, str, bytes | tuple[bytes, bool]]]) -> list[tuple[str, str, bytes]]:
    out = []
    for filename, content_type, data in files:
        if isinstance(data, tuple):
            # fpdf loads only when a REP's PDF is attached.
            from cfdi_cobranza.pdf.rep import render_rep_pdf

            data = render_rep_pdf(data[0], sandbox=data[1])
        out.append((filename, content_type, data))
    return out


def _connect(smtp: SmtpConfig) -> smtplib.SMTP:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if smtp.security == "ssl":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    try:
        client.ehlo()
        if smtp.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if smtp.user:
            client.login(smtp.user, smtp.password or "")
    except BaseException:
        client.close()
        raise
    return client


def _answer(code: int, text: bytes | str) -> str:
    body = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {body}".strip()


def _failed(mailer: Mailer, message_id: int, answer: str, permanent: bool) -> Delivery:
    if permanent:
        return _settle(mailer, message_id, MailStatus.RECHAZADO, answer)
    with mailer.session() as session:
        attempts = session.scalar(select(MailMessage.attempts).where(MailMessage.id == message_id)) or 0
    if attempts >= mailer.max_attempts:
        return _settle(mailer, message_id, MailStatus.FALLIDO, f"{answer} (tras {attempts} intentos)")
    delay = retry_delay_seconds(attempts, mailer.retry_base)
    return _settle(mailer, message_id, MailStatus.EN_COLA, answer,
                   retry_at=mailer.clock() + timedelta(seconds=delay))


def deliver_message(engine: Engine, message_id: int, *, mailer: Mailer | None = None,
                    now: datetime | None = None) -> Delivery:
    """Send one queued message due at ``now``; safe to call twice or from two workers (one claim wins)."""
    mailer = mailer or Mailer.from_settings(engine)
    if mailer.smtp is None:
        raise ConfigurationError(SMTP_MISSING[0], code=SMTP_MISSING[1])
    claimed = _claim_and_read(mailer, message_id, now or mailer.clock())
    if claimed is None:
        return Delivery(message_id, None, "No estaba en cola o ya lo tomó otro envío.")
    if isinstance(claimed, Delivery):
        return claimed
    mime = build_message(claimed.row, _render(claimed.files), mailer.smtp, claimed.body, mailer.clock())
    try:
        client = mailer.client()
    except smtplib.SMTPResponseException as exc:
        return _failed(mailer, message_id, _answer(exc.smtp_code, exc.smtp_error), permanent=False)
    except (smtplib.SMTPException, OSError) as exc:
        return _failed(mailer, message_id, f"Sin conexión con {mailer.smtp.host}:{mailer.smtp.port}: {exc}",
                       permanent=False)
    try:
        with mailer.session() as session, session.begin():  # from here the server may keep it: see above
            session.execute(update(MailMessage).where(MailMessage.id == message_id).values(data_at=mailer.clock()))
        client.send_message(mime, from_addr=mailer.smtp.from_addr, to_addrs=[claimed.row.to_addr])
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        return _failed(mailer, message_id, _answer(code, text), permanent=code >= 500)
    except smtplib.SMTPResponseException as exc:
        mailer.drop_client()
        return _failed(mailer, message_id, _answer(exc.smtp_code, exc.smtp_error), permanent=exc.smtp_code >= 500)
    except (smtplib.SMTPException, OSError) as exc:
        mailer.drop_client()
        return _failed(mailer, message_id, f"La conexión se cortó durante el envío: {exc}", permanent=False)
    finally:
        if not mailer.keep_open:
            mailer.close()
    return _settle(mailer, message_id, MailStatus.ENVIADO, "250 aceptado")


def sweep_stale(mailer: Mailer, now: datetime) -> int:
    """Claims older than ``stale_after`` (a sender that died): back to the queue when nothing was
    handed over, else ``incierto`` (never resent by itself)."""
    cutoff = now - mailer.stale_after
    with mailer.session() as session, session.begin():
        stale = session.scalars(select(MailMessage).where(MailMessage.status == MailStatus.ENVIANDO,
                                                          MailMessage.claimed_at < cutoff).with_for_update()).all()
        for msg in stale:
            if msg.data_at is None:
                msg.status, msg.next_attempt_at, msg.claimed_at = MailStatus.EN_COLA.value, now, None
            else:
                msg.status = MailStatus.INCIERTO.value
                msg.last_answer = _UNCERTAIN.format(id=msg.id)
        return len(stale)


def due_ids(session: Session, now: datetime, limit: int = 200) -> list[int]:
    return list(session.scalars(select(MailMessage.id).where(MailMessage.status == MailStatus.EN_COLA,
                                                             MailMessage.next_attempt_at <= now)
                                .order_by(MailMessage.next_attempt_at, MailMessage.id).limit(limit)))


def deliver_due(engine: Engine, now: datetime | None = None, *, mailer: Mailer | None = None,
                limit: int = 200, company_ids: tuple[int, ...] | None = None) -> list[Delivery]:
    """Every message due at ``now`` (after recovering stale claims), one after the other.

    The job the queue runs every minute; ``cobranza mail send-pending`` runs it in-process.
    ``company_ids``: only those companies' messages (a user limited to some pressed «Enviar»).
    """
    mailer = mailer or Mailer.from_settings(engine)
    if mailer.smtp is None:
        raise ConfigurationError(SMTP_MISSING[0], code=SMTP_MISSING[1])
    now = now or mailer.clock()
    sweep_stale(mailer, now)
    with mailer.session() as session:
        limit_to_companies(session, company_ids)
        ids = due_ids(session, now, limit)
    mailer.keep_open = True  # one SMTP connection for the run (checked with NOOP before reuse)
    try:
        return [deliver_message(engine, i, mailer=mailer, now=now) for i in ids]
    finally:
        mailer.keep_open = False
        mailer.close()
