"""Where email goes out: the SMTP server, the sender, and each company's email options.

``COBRANZA_SMTP_URL`` (``smtp://user:pass@host:587?starttls=1``, ``smtps://...`` for TLS
from the start) and ``COBRANZA_SMTP_FROM`` win over the setting saved from Configuración
(``set_smtp_setting``), whose password is stored only sealed by the SecretBox. Without
either, messages are queued and wait: ``smtp_config`` answers None and delivery says why.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Company
from cfdi_cobranza.db.models.mail import SMTP_SETTING_ID, CompanyMailSetting, SmtpSetting
from cfdi_cobranza.domain.mail import header_text, normalize_email, parse_email_list
from cfdi_cobranza.errors import ConfigurationError, NotFoundError, ValidationError
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.users import record_audit

_TRUE = {"1", "true", "yes", "si", "sí", "on"}


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # starttls | ssl | none
    user: str | None
    password: str | None
    from_addr: str
    from_name: str | None = None
    timeout: float = 30.0

    def __repr__(self) -> str:  # never the password
        return f"SmtpConfig(host={self.host!r}, port={self.port}, security={self.security!r}, user={self.user!r})"

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "puerto": self.port, "seguridad": self.security, "usuario": self.user,
                "contrasena_guardada": bool(self.password), "remitente": self.from_addr}


def parse_smtp_url(url: str) -> tuple[str, int, str, str | None, str | None]:
    """(host, port, security, user, password) of ``smtp://user:pass@host:587?starttls=1`` / ``smtps://``."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValidationError("La URL SMTP debe ser smtp://usuario:contraseña@servidor:587?starttls=1 "
                              "o smtps://usuario:contraseña@servidor:465.", code="SMTP_URL_INVALIDA")
    query = {k.lower(): v[-1].strip().lower() for k, v in parse_qs(parts.query).items()}
    try:
        port = parts.port or (465 if scheme == "smtps" else 587)
    except ValueError:
        raise ValidationError("El puerto de la URL SMTP no es un número válido.", code="SMTP_URL_INVALIDA") from None
    if scheme == "smtps":
        security = "ssl"
    elif "starttls" in query:
        security = "starttls" if query["starttls"] in _TRUE else "none"
    else:
        security = "starttls"
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname, port, security, user, password


def smtp_config(session: Session | None, box: SecretBox | None,
                environ: Mapping[str, str] | None = None) -> SmtpConfig | None:
    """The environment's server, else the stored one, else None (nothing configured)."""
    env = os.environ if environ is None else environ
    timeout = float(env.get("COBRANZA_SMTP_TIMEOUT") or 30)
    url = (env.get("COBRANZA_SMTP_URL") or "").strip()
    if url:
        host, port, security, user, password = parse_smtp_url(url)
        sender = (env.get("COBRANZA_SMTP_FROM") or user or "").strip()
        if "@" not in sender:
            raise ConfigurationError("Falta el remitente de los correos: defina COBRANZA_SMTP_FROM "
                                     "(por ejemplo cobranza@suempresa.mx).", code="SMTP_SIN_REMITENTE")
        return SmtpConfig(host, port, security, user, password, normalize_email(sender),
                          header_text(env.get("COBRANZA_SMTP_FROM_NAME")) or None, timeout)
    row = session.get(SmtpSetting, SMTP_SETTING_ID) if session is not None else None
    if row is None:
        return None
    password = box.open(row.password_sealed).decode("utf-8") if (row.password_sealed and box is not None) else None
    return SmtpConfig(row.host, row.port, row.security, row.user, password, row.from_addr, None, timeout)


def set_smtp_setting(session: Session, box: SecretBox, *, url: str, from_addr: str, actor: str,
                     clock: Clock = system_clock, password: str | None = None) -> SmtpConfig:
    """Save the SMTP server (password sealed; a URL without one keeps the stored one). Audited without it."""
    host, port, security, user, url_password = parse_smtp_url(url)
    sender = normalize_email(from_addr)
    secret = password or url_password
    row = session.get(SmtpSetting, SMTP_SETTING_ID)
    if row is None:
        row = SmtpSetting(id=SMTP_SETTING_ID)
        session.add(row)
    row.host, row.port, row.security, row.user, row.from_addr = host, port, security, user, sender
    if secret:
        row.password_sealed = box.seal(secret.encode("utf-8"))
    row.updated_at, row.updated_by = clock(), actor[:100]
    record_audit(session, actor, "configurar_smtp", "smtp_setting", str(SMTP_SETTING_ID),
                 f"{security}://{user or '-'}@{host}:{port} remitente={sender}; "
                 f"contraseña={'nueva' if secret else ('guardada' if row.password_sealed else 'no')}", clock=clock)
    session.flush()
    config = smtp_config(session, box, environ={})
    assert config is not None
    return config


@dataclass(frozen=True)
class CompanyMailOptions:
    company_rfc: str
    rep_auto: bool  # send each REP to the pagos contacts as soon as it is stamped
    reminder_days: int | None  # remind N days before a due date (None: no reminders)
    alert_emails: tuple[str, ...]  # the company's billing people, for the REP deadline alert
    updated_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"empresa": self.company_rfc, "enviar_rep_al_timbrar": self.rep_auto,
                "dias_recordatorio": self.reminder_days, "correos_alerta": list(self.alert_emails)}


def _company(session: Session, rfc: str) -> Company:
    company = session.scalar(select(Company).where(Company.rfc == rfc.strip().upper()))
    if company is None:
        raise NotFoundError(f"No hay ninguna empresa con RFC {rfc}.", code="EMPRESA_NO_ENCONTRADA")
    return company


def all_company_options(session: Session) -> list[CompanyMailOptions]:
    """Every company's email options, by RFC (the Correo page)."""
    return [company_options(session, c) for c in session.scalars(select(Company).order_by(Company.rfc))]


def company_options(session: Session, company: Company) -> CompanyMailOptions:
    row = session.get(CompanyMailSetting, company.id)
    if row is None:
        return CompanyMailOptions(company.rfc, True, None, ())
    return CompanyMailOptions(company.rfc, row.rep_auto, row.reminder_days,
                              tuple(parse_email_list(row.alert_emails)), row.updated_at)


def get_company_options(session: Session, rfc: str) -> CompanyMailOptions:
    return company_options(session, _company(session, rfc))


def set_company_options(session: Session, rfc: str, *, actor: str, rep_auto: bool | None = None,
                        reminder_days: int | None = None, clear_reminder: bool = False,
                        alert_emails: str | None = None, clock: Clock = system_clock) -> CompanyMailOptions:
    company = _company(session, rfc)
    if reminder_days is not None and not 1 <= reminder_days <= 60:
        raise ValidationError("Los días de anticipación del recordatorio van de 1 a 60.",
                              code="RECORDATORIO_DIAS_INVALIDO")
    emails = parse_email_list(alert_emails) if alert_emails is not None else None
    row = session.get(CompanyMailSetting, company.id)
    if row is None:
        row = CompanyMailSetting(company_id=company.id, rep_auto=True, reminder_days=None, alert_emails=None)
        session.add(row)
    if rep_auto is not None:
        row.rep_auto = rep_auto
    if reminder_days is not None:
        row.reminder_days = reminder_days
    elif clear_reminder:
        row.reminder_days = None
    if emails is not None:
        row.alert_emails = ", ".join(emails) or None
    row.updated_at, row.updated_by = clock(), actor[:100]
    session.flush()
    view = company_options(session, company)
    record_audit(session, actor, "opciones_correo", "company", company.rfc, str(view.to_dict()), clock=clock)
    return view
