"""Application settings users change from Configuración: aging buckets, the REP serie, the PAC.

Each setter validates before it writes and leaves an audit entry (who, what, old ->
new); the web and the CLI call these instead of touching the rows themselves.

The PAC (``PacSetting``, one row) keeps its password and token only as
:class:`~cfdi_cobranza.secrets.SecretBox` tokens; ``get_pac_setting`` tells whether
each is set, never its value, and the audit entry never carries it. ``pac_for`` builds
the PAC the app stamps with; **environment variables win**: when ``COBRANZA_PAC`` (or a
``COBRANZA_PAC_CONFIG`` file) is set, the server's configuration is used as before and
the stored setting is ignored; otherwise the stored setting; otherwise the sandbox.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Company
from cfdi_cobranza.db.models.collections import AgingSetting
from cfdi_cobranza.db.models.settings import PAC_SETTING_ID, CompanyPacSetting, PacSetting
from cfdi_cobranza.domain.aging import AgingBuckets
from cfdi_cobranza.errors import NotFoundError, ValidationError
from cfdi_cobranza.pac.base import Pac
from cfdi_cobranza.pac.config import ENVIRONMENTS, NAMES, environment_from_config, pac_from_config
from cfdi_cobranza.pac.urls import pac_url_problem
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.users import record_audit

DEFAULT_AGING_NAME = "estandar"
# Serie in CFDI 4.0: 1 to 25 characters, no "|" (the cadena original separator).
_SERIE_RE = re.compile(r"^[^|\s][^|]{0,24}$")


def aging_buckets(session: Session) -> AgingBuckets:
    """The default aging buckets (``aging_setting`` flagged default), else 0,30,60,90."""
    stored = session.scalar(select(AgingSetting.spec).where(AgingSetting.is_default.is_(True))
                            .order_by(AgingSetting.name).limit(1))
    return AgingBuckets.parse(stored)


def set_aging_buckets(session: Session, spec: str, *, actor: str, clock: Clock = system_clock) -> AgingBuckets:
    """Make ``spec`` (``30,60,90`` or ``1-30,31-60,61-90``) the default buckets of every aging report.

    Overlapping, unordered or negative bounds are refused with a Spanish message
    (``AgingBuckets.parse``) before anything is written.
    """
    text = (spec or "").strip()
    if not text:
        raise ValidationError("Capture los rangos de días, por ejemplo 30,60,90.", code="RANGOS_INVALIDOS")
    buckets = AgingBuckets.parse(text[:200])
    old = aging_buckets(session).spec()
    session.execute(update(AgingSetting).where(AgingSetting.name != DEFAULT_AGING_NAME).values(is_default=False))
    row = session.get(AgingSetting, DEFAULT_AGING_NAME)
    now = clock()
    if row is None:
        row = AgingSetting(name=DEFAULT_AGING_NAME, spec=buckets.spec(), is_default=True, updated_at=now,
                           updated_by=actor)
        session.add(row)
    else:
        row.spec, row.is_default, row.updated_at, row.updated_by = buckets.spec(), True, now, actor
    record_audit(session, actor, "rangos_antiguedad", "aging_setting", DEFAULT_AGING_NAME,
                 f"{old} -> {buckets.spec()}", clock=clock)
    session.flush()
    return buckets


def set_rep_serie(session: Session, rfc: str, serie: str, *, actor: str, clock: Clock = system_clock) -> Company:
    """The serie printed on the company's next REP (audited)."""
    company = session.scalar(select(Company).where(Company.rfc == rfc.strip().upper()))
    if company is None:
        raise NotFoundError(f"No hay ninguna empresa con RFC {rfc}.", code="EMPRESA_NO_ENCONTRADA")
    serie = serie.strip()
    if not _SERIE_RE.match(serie):
        raise ValidationError("La serie del REP debe tener de 1 a 25 caracteres, sin «|».", code="SERIE_INVALIDA")
    old = company.rep_serie
    company.rep_serie = serie
    record_audit(session, actor, "serie_rep", "company", company.rfc, f"{old} -> {serie}", clock=clock)
    return company


# --- PAC -------------------------------------------------------------------------------

PAC_LABELS = {"sandbox": "Sandbox local (sin validez fiscal)", "finkok": "Finkok", "sw": "SW Sapien"}
# Environment variables that mean "the server configures the PAC": the stored setting is ignored.
PAC_OVERRIDE_VARS = ("COBRANZA_PAC", "COBRANZA_PAC_CONFIG")
# Tuning that still comes from the environment when the PAC itself comes from the database.
_PAC_TUNING_VARS = (
    "COBRANZA_PAC_CONNECT_TIMEOUT", "COBRANZA_PAC_TIMEOUT", "COBRANZA_PAC_RETRIES", "COBRANZA_PAC_BACKOFF",
    "COBRANZA_PAC_RECOVER_ATTEMPTS", "COBRANZA_PAC_RECOVER_DELAY", "COBRANZA_PAC_FOLDER",
    "COBRANZA_PAC_SAT_STATUS_URL",
)
_MAX_USER, _MAX_SECRET, _MAX_URL = 200, 4096, 500


@dataclass(frozen=True)
class PacView:
    """The stored PAC setting as it may be shown: secrets only as "is set" flags."""

    name: str
    env: str
    user: str | None
    url: str | None
    password_set: bool
    token_set: bool
    stored: bool  # False: nothing saved yet (the defaults: sandbox, test)
    updated_at: datetime | None
    updated_by: str | None
    env_override: bool  # COBRANZA_PAC / COBRANZA_PAC_CONFIG set: the server's environment wins

    @property
    def label(self) -> str:
        return PAC_LABELS.get(self.name, self.name)

    @property
    def sandbox(self) -> bool:
        return self.name == "sandbox"


def pac_env_override(environ: Mapping[str, str] | None = None) -> bool:
    """True when the server's environment configures the PAC (and the stored setting is ignored)."""
    env = os.environ if environ is None else environ
    return any((env.get(name) or "").strip() for name in PAC_OVERRIDE_VARS)


def _pac_row(session: Session, company_id: int | None = None) -> PacSetting | CompanyPacSetting | None:
    """The installation's PAC row, or with ``company_id`` that company's own (None if it has none)."""
    if company_id is not None:
        return session.get(CompanyPacSetting, company_id)
    return session.get(PacSetting, PAC_SETTING_ID)


def _company(session: Session, rfc: str) -> Company:
    company = session.scalar(select(Company).where(Company.rfc == rfc.strip().upper()[:13]))
    if company is None:
        raise NotFoundError(f"No hay ninguna empresa con RFC {rfc.strip().upper()[:13]}.",
                            code="EMPRESA_NO_ENCONTRADA")
    return company


def get_pac_setting(session: Session, *, environ: Mapping[str, str] | None = None,
                    company_rfc: str | None = None) -> PacView:
    """The stored PAC choice (the installation's, or with ``company_rfc`` that company's own;
    ``stored`` False when it has none); never the password nor the token, only whether each is saved."""
    row = _pac_row(session, _company(session, company_rfc).id if company_rfc else None)
    override = pac_env_override(environ)
    if row is None:
        return PacView("sandbox", "test", None, None, False, False, False, None, None, override)
    return PacView(row.name, row.env, row.user, row.url, bool(row.password_sealed), bool(row.token_sealed), True,
                   row.updated_at, row.updated_by, override)


def _check_url(url: str, env: str) -> None:
    problem = pac_url_problem(url, env)
    if problem is not None:
        raise ValidationError(problem, code="PAC_URL_INVALIDA")


def set_pac_setting(
    session: Session,
    box: SecretBox,
    *,
    name: str,
    env: str,
    user: str | None,
    password: str | None,
    token: str | None,
    url: str | None,
    actor: str,
    clock: Clock = system_clock,
    clear_password: bool = False,
    clear_token: bool = False,
    company_rfc: str | None = None,
) -> PacView:
    """Validate and store the PAC choice (audited; secrets sealed with ``box``).

    An empty ``password`` / ``token`` keeps the one already stored (the form never
    echoes it back); ``clear_password`` / ``clear_token`` delete it. Nothing is written
    when a rule fails: ``PAC_INVALIDO``, ``PAC_AMBIENTE_INVALIDO``,
    ``PAC_SANDBOX_PRODUCCION``, ``PAC_CREDENCIALES_REQUERIDAS``, ``PAC_URL_INVALIDA``,
    ``PAC_DATO_DEMASIADO_LARGO``. With ``company_rfc`` the account is that company's own
    (``EMPRESA_NO_ENCONTRADA`` when there is no such company).
    """
    name = (name or "").strip().lower()
    env = (env or "").strip().lower()
    user = (user or "").strip() or None
    password = (password or "").strip() or None
    token = (token or "").strip() or None
    url = (url or "").strip() or None
    if name not in NAMES:
        raise ValidationError("Elija el PAC: sandbox, finkok o sw.", code="PAC_INVALIDO")
    if env not in ENVIRONMENTS:
        raise ValidationError("Elija el ambiente del PAC: pruebas (test) o producción (production).",
                              code="PAC_AMBIENTE_INVALIDO")
    if name == "sandbox" and env == "production":
        raise ValidationError("El sandbox no tiene ambiente de producción: sus CFDI no tienen validez fiscal. "
                              "Elija Finkok o SW para timbrar en producción.", code="PAC_SANDBOX_PRODUCCION")
    if (user and len(user) > _MAX_USER) or (url and len(url) > _MAX_URL) \
            or any(s and len(s) > _MAX_SECRET for s in (password, token)):
        raise ValidationError("El usuario, la contraseña, el token o la URL del PAC son demasiado largos.",
                              code="PAC_DATO_DEMASIADO_LARGO")
    if url:
        _check_url(url, env)

    company = _company(session, company_rfc) if company_rfc else None
    row = _pac_row(session, company.id if company else None)
    has_password = bool(password) or (not clear_password and row is not None and bool(row.password_sealed))
    has_token = bool(token) or (not clear_token and row is not None and bool(row.token_sealed))
    if name == "finkok" and not (user and has_password):
        raise ValidationError("Finkok necesita el usuario y la contraseña de la cuenta.",
                              code="PAC_CREDENCIALES_REQUERIDAS")
    if name == "sw" and not (has_token or (user and has_password)):
        raise ValidationError("SW Sapien necesita el token de la cuenta, o el usuario y la contraseña.",
                              code="PAC_CREDENCIALES_REQUERIDAS")

    old = get_pac_setting(session, company_rfc=company.rfc if company else None)
    now = clock()
    if row is None:
        row = CompanyPacSetting(company_id=company.id) if company else PacSetting(id=PAC_SETTING_ID)
        session.add(row)
    row.name, row.env, row.user, row.url = name, env, user, url
    if password:
        row.password_sealed = box.seal(password.encode("utf-8"))
    elif clear_password:
        row.password_sealed = None
    if token:
        row.token_sealed = box.seal(token.encode("utf-8"))
    elif clear_token:
        row.token_sealed = None
    row.updated_at, row.updated_by = now, actor[:100]

    def secret_note(new: str | None, cleared: bool, had: bool) -> str:
        return "nueva" if new else ("borrada" if cleared and had else ("guardada" if had else "no"))

    detail = (f"{old.name}/{old.env} -> {name}/{env}; usuario={user or '-'}; url={url or '-'}; "
              f"contraseña={secret_note(password, clear_password, old.password_set)}; "
              f"token={secret_note(token, clear_token, old.token_set)}")
    if company is None:
        record_audit(session, actor, "configurar_pac", "pac_setting", str(PAC_SETTING_ID), detail, clock=clock)
    else:
        record_audit(session, actor, "configurar_pac", "company", company.rfc, detail, clock=clock)
    session.flush()
    return get_pac_setting(session, company_rfc=company.rfc if company else None)


def clear_company_pac(session: Session, company_rfc: str, *, actor: str, clock: Clock = system_clock) -> bool:
    """The company goes back to the installation's PAC (its own account is deleted). Audited."""
    company = _company(session, company_rfc)
    row = session.get(CompanyPacSetting, company.id)
    if row is None:
        return False
    session.delete(row)
    record_audit(session, actor, "configurar_pac", "company", company.rfc, "cuenta propia borrada: usa la de la "
                 "instalación", clock=clock)
    session.flush()
    return True


def pac_source(session: Session, box: SecretBox, *, environ: Mapping[str, str] | None = None,
               company_id: int | None = None) -> dict[str, str] | None:
    """The ``pac_from_config`` source for the stored setting (secrets unsealed), or None to use the environment.

    None when the environment overrides (``COBRANZA_PAC`` / ``COBRANZA_PAC_CONFIG``).
    With no stored row the source is the sandbox. Timeouts, retries, the sandbox folder
    and the SAT status URL still come from the environment.
    """
    env = os.environ if environ is None else environ
    if pac_env_override(env):
        return None
    source = {k: env[k] for k in _PAC_TUNING_VARS if env.get(k)}
    row = (_pac_row(session, company_id) if company_id is not None else None) or _pac_row(session)
    if row is None:
        source.update({"COBRANZA_PAC": "sandbox", "COBRANZA_PAC_ENV": "test"})
        return source
    source.update({"COBRANZA_PAC": row.name, "COBRANZA_PAC_ENV": row.env})
    if row.user:
        source["COBRANZA_PAC_USER"] = row.user
    if row.url:
        source["COBRANZA_PAC_URL"] = row.url
    if row.name != "sandbox":
        if row.password_sealed:
            source["COBRANZA_PAC_PASSWORD"] = box.open(row.password_sealed).decode("utf-8")
        if row.token_sealed:
            source["COBRANZA_PAC_TOKEN"] = box.open(row.token_sealed).decode("utf-8")
    return source


def pac_environment(session: Session, *, environ: Mapping[str, str] | None = None) -> str:
    """``test`` or ``production``: the environment of the PAC ``pac_for`` would use. The
    importer accepts the SAT's test certificates only in ``test`` (``cfdi.authority``)."""
    env = os.environ if environ is None else environ
    if pac_env_override(env):
        return environment_from_config(env)
    row = _pac_row(session)
    if row is None or row.name == "sandbox":
        return "test"
    return "production" if row.env == "production" else "test"


def pac_for(session: Session, box: SecretBox, instance_path: str | Path, *,
            environ: Mapping[str, str] | None = None, company_id: int | None = None) -> Pac:
    """The PAC to stamp with: the environment when ``COBRANZA_PAC`` (or ``COBRANZA_PAC_CONFIG``) is set,
    else the company's own account (``company_id``), else the installation's setting stored
    from Configuración, else the local sandbox."""
    source = pac_source(session, box, environ=environ, company_id=company_id)
    if source is None:
        return pac_from_config(environ, instance_path=instance_path)
    return pac_from_config(source, instance_path=instance_path)


def company_pacs(session: Session, box: SecretBox, instance_path: str | Path, *,
                 environ: Mapping[str, str] | None = None) -> dict[int, Pac]:
    """The PAC of every company with an account of its own (none when the environment
    configures the PAC: it wins for everyone), for ``Stamper(company_pacs=...)``."""
    if pac_env_override(environ):
        return {}
    return {cid: pac_for(session, box, instance_path, environ=environ, company_id=cid)
            for cid in session.scalars(select(CompanyPacSetting.company_id))}


__all__ = [
    "PAC_LABELS",
    "PacView",
    "aging_buckets",
    "clear_company_pac",
    "company_pacs",
    "get_pac_setting",
    "pac_env_override",
    "pac_environment",
    "pac_for",
    "pac_source",
    "set_aging_buckets",
    "set_pac_setting",
    "set_rep_serie",
]
