"""People and systems allowed into the web UI and the JSON API.

A ``User`` signs in with a password (stored only as a werkzeug scrypt hash) and has
one role. ``failed_logins``/``locked_until`` throttle password guessing per account.
``session_epoch`` is copied into the signed session cookie at sign-in; bumping it
(password change or reset, deactivation) ends every session issued before.
An ``ApiToken`` lets another system (ERP, PAC integration) call ``/api/v1``: only the
SHA-256 of the token is stored, so a leaked database does not leak usable tokens.
``LoginAttemptIp`` throttles sign-in per client address (password spraying over many
accounts, unknown usernames): failed attempts in the current window and the block, if
any. It lives in the database so every web worker sees the same counters.
``UserCompany`` limits a user to some companies (accounting firms serving many clients).
``LoginAttempt`` counts failed sign-ins per (username, address) pair, known usernames
and unknown ones alike, and holds the growing delay they earned (the per-account
throttle; ``failed_logins``/``locked_until`` on the user are kept for display only).
``WebSession`` is one signed-in browser session: the cookie carries its random id, the
table its SHA-256, and signing out deletes the row (expiry ends it too) on the server, so a copied
cookie stops working.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from cfdi_cobranza.db.models.base import Base
from cfdi_cobranza.db.types import UtcDateTime


class User(Base):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))  # administrador|facturacion|contabilidad|cobranza|consulta
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # first characters, to recognise it in lists
    role: Mapped[str] = mapped_column(String(20))
    scopes: Mapped[str | None] = mapped_column(String(200))  # reserved: finer grants than the role
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class UserCompany(Base):
    """A company a user may see. A user with no rows sees every company (the default);
    with rows, only those (``cfdi_cobranza.db.scope``). Administrators are never limited."""

    __tablename__ = "user_company"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), primary_key=True)


class LoginAttemptIp(Base):
    """Failed sign-ins from one client address; see ``services.users.authenticate``."""

    __tablename__ = "login_attempt_ip"

    ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime())
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LoginAttempt(Base):
    """Failed sign-ins for one username from one address; see ``services.users.authenticate``."""

    __tablename__ = "login_attempt"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime())
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class WebSession(Base):
    """A signed-in browser session; no row (signed out, expired, purged) means no session."""

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_user_id", "user_id"), Index("ix_web_session_expires_at", "expires_at"))

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the id in the cookie
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
