"""Users, sign-in with throttling, API tokens and the audit entries they leave.

Passwords are kept only as werkzeug hashes (scrypt by default). Sign-in gives the
same answer, after the same work, whether the username exists or not: an unknown
username is checked against a dummy hash made with the same method and parameters as
real ones (``dummy_hash``), and its failures are counted and delayed exactly like a
real account's, so neither the status, the message nor the time tells which
usernames exist.

Failed sign-ins are counted per (username, client address) in ``login_attempt``: after
``MAX_FAILURES`` in a row that pair must wait ``FIRST_DELAY``, doubling with each
further failure up to ``MAX_DELAY``; attempts during the wait are refused
(``USUARIO_BLOQUEADO``, HTTP 429) without checking the password and do not count. A
success (or a password reset) clears the pair. Because the address is part of the key,
guessing from one address cannot lock the account's owner out at another: there is no
per-account hard lock any more. Failures are forgotten after ``ATTEMPT_MEMORY``
without one (and their rows purged at the next successful sign-in). ``User.failed_logins``/``locked_until`` still show, for administrators,
the failures since the last success and the latest delay.

Sign-in is also throttled per client address (``remote``), against password spraying
(one or two guesses on each of many accounts never trips the per-account lock) and
guessing of unknown usernames: every failed attempt from an address (unknown user,
wrong password, inactive or locked account) counts in a fixed window of
``IP_WINDOW``; at ``IP_MAX_FAILURES`` the address is blocked for ``IP_BLOCK_TIME``
and its attempts are refused with ``IP_BLOQUEADA`` without checking the password.
The attempt that reaches the threshold still gets its own outcome (so the
per-account behaviour is unchanged); the following ones are refused. A successful
sign-in does *not* reset the address's counter: otherwise an attacker holding one
valid account could sign in with it every few guesses and spray without limit. The
counters live in the ``login_attempt_ip`` table (not in process memory) so every web
worker shares them; the row is locked while it is updated (``FOR UPDATE`` on
PostgreSQL, SQLite serialises writers). ``remote=None`` (command line, tests) skips
the per-address throttling.

API tokens are random strings shown once; only their SHA-256 is stored (a token has
~256 bits of entropy, so a fast hash is enough, unlike passwords).

Password changes: a user changes their own password knowing the current one
(``change_password``); an administrator, or the command line, sets a new one without
it (``reset_password``). Both clear the lock and bump ``User.session_epoch``, which
ends every web session issued before (the web layer compares the epoch kept in the
signed cookie on each request); deactivation bumps it too. A wrong current password
counts as a failed sign-in, so a stolen session cannot be used to guess it freely.
Audit entries name the action and the user, never a password or hash.

Functions take the caller's session and never commit: the caller owns the
transaction. ``authenticate`` returns its outcome as a value (not an exception) so
the caller commits the failure counter even when sign-in is refused; likewise a
``CurrentPasswordRefused`` from ``change_password`` leaves the counter updated in
the session for the caller to commit.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from cfdi_cobranza.db.dialects import insert_if_missing
from cfdi_cobranza.db.models import AuditEntry
from cfdi_cobranza.db.models.users import ApiToken, LoginAttempt, LoginAttemptIp, User, WebSession
from cfdi_cobranza.errors import ConflictError, NotFoundError, ValidationError
from cfdi_cobranza.services.clock import Clock, system_clock

ROLES: dict[str, str] = {
    "administrador": "Administrador",
    "facturacion": "Facturación",
    "contabilidad": "Contabilidad",
    "cobranza": "Cobranza",
    "consulta": "Consulta (solo lectura)",
}
MAX_FAILURES = 5
# The wait after MAX_FAILURES failures of one (username, address) pair; it doubles with
# each further failure up to MAX_DELAY (LOCK_TIME, the old hard lock's length).
FIRST_DELAY = timedelta(minutes=1)
LOCK_TIME = MAX_DELAY = timedelta(minutes=15)
ATTEMPT_MEMORY = timedelta(hours=24)
LOCAL_ADDRESS = "local"  # the address key for sign-ins without one (command line, tests)
# Per client address: IP_MAX_FAILURES failed sign-ins within IP_WINDOW block it for IP_BLOCK_TIME.
IP_MAX_FAILURES = 20
IP_WINDOW = timedelta(minutes=15)
IP_BLOCK_TIME = timedelta(minutes=15)
MIN_PASSWORD = 10
DEFAULT_HASH = "scrypt"
TOKEN_PREFIX = "cbz_"
_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
_DUMMY_HASHES: dict[str, str] = {}

GENERIC_REFUSAL = "Usuario o contraseña incorrectos."
CLI_CREATOR = "cli"  # ApiToken.created_by for tokens made with ``cobranza token-crear``
ADMIN_ROLE = "administrador"


class CurrentPasswordRefused(ValidationError):
    """``change_password`` refused the current password (wrong, or the account is locked).

    The failed-attempt counter (and the lock, at ``MAX_FAILURES``) was updated in the
    session before raising: commit it, as with a refused ``authenticate``.
    """


def dummy_hash(method: str = DEFAULT_HASH) -> str:
    """A hash made with ``method`` (the one new passwords use) of a password nobody has:
    checked when the username does not exist, so that path costs what a real one does."""
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_urlsafe(24), method=method)
    return _DUMMY_HASHES[method]


def record_audit(session: Session, actor: str, action: str, entity: str, entity_id: str | None = None,
                 detail: str | None = None, *, clock: Clock = system_clock) -> AuditEntry:
    entry = AuditEntry(at=clock(), actor=actor[:100], action=action[:50], entity=entity[:50],
                       entity_id=entity_id[:64] if entity_id else None, detail=detail)
    session.add(entry)
    return entry


def normalize_username(username: str) -> str:
    return username.strip().lower()


def validate_role(role: str) -> str:
    role = role.strip().lower()
    if role not in ROLES:
        raise ValidationError(
            f"Rol desconocido «{role}». Opciones: {', '.join(ROLES)}.", code="ROL_INVALIDO"
        )
    return role


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            f"La contraseña debe tener al menos {MIN_PASSWORD} caracteres.", code="CONTRASENA_DEBIL"
        )
    if password.strip() != password or password.isdigit() or password.isalpha():
        raise ValidationError(
            "La contraseña debe combinar letras con números o símbolos y no empezar ni terminar con espacios.",
            code="CONTRASENA_DEBIL",
        )


def add_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    full_name: str | None = None,
    *,
    actor: str = "sistema",
    clock: Clock = system_clock,
    hash_method: str = DEFAULT_HASH,
) -> User:
    name = normalize_username(username)
    if not _USERNAME_RE.match(name):
        raise ValidationError(
            "El usuario debe tener de 3 a 64 caracteres: letras minúsculas, números, punto, guion o guion bajo.",
            code="USUARIO_INVALIDO",
        )
    role = validate_role(role)
    validate_password(password)
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise ConflictError(f"El usuario «{name}» ya existe.", code="USUARIO_DUPLICADO")
    full = (full_name or "").strip() or None
    if full and len(full) > 200:
        raise ValidationError("El nombre completo no puede pasar de 200 caracteres.", code="NOMBRE_INVALIDO")
    user = User(username=name, full_name=full, password_hash=generate_password_hash(password, method=hash_method),
                role=role, active=True, failed_logins=0, created_at=clock())
    session.add(user)
    session.flush()
    record_audit(session, actor, "usuario_creado", "usuario", name, f"rol={role}", clock=clock)
    return user


@dataclass(frozen=True)
class LoginOutcome:
    user: User | None
    code: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


def _ip_key(remote: str) -> str:
    return remote.strip()[:64]


def _ip_blocked_until(session: Session, remote: str, now: datetime) -> datetime | None:
    row = session.get(LoginAttemptIp, _ip_key(remote))
    if row is not None and row.blocked_until is not None and row.blocked_until > now:
        return row.blocked_until
    return None


def _count_ip_failure(session: Session, remote: str, now: datetime, clock: Clock) -> None:
    """One more failed sign-in from ``remote``; blocks the address at ``IP_MAX_FAILURES``."""
    ip = _ip_key(remote)
    # Create the row if missing without racing another worker, then lock it while counting.
    insert_if_missing(session, LoginAttemptIp, {"ip": ip, "failures": 0, "window_start": now,
                                                 "blocked_until": None}, key=["ip"])
    row = session.scalars(
        select(LoginAttemptIp).where(LoginAttemptIp.ip == ip).with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if now - row.window_start >= IP_WINDOW:
        row.failures = 0
        row.window_start = now
    row.failures = (row.failures or 0) + 1
    if row.failures >= IP_MAX_FAILURES:
        row.blocked_until = now + IP_BLOCK_TIME
        row.failures = 0
        row.window_start = now
        minutes = int(IP_BLOCK_TIME.total_seconds() // 60)
        record_audit(session, "sistema", "ip_bloqueada", "ip", ip,
                     f"{IP_MAX_FAILURES} intentos fallidos; bloqueada {minutes} minutos", clock=clock)
    session.flush()


def _minutes_left(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds() + 59) // 60)


def _try_again(until: datetime, now: datetime) -> str:
    minutes = _minutes_left(until, now)
    return f"Intente de nuevo en {minutes} minuto{'s' if minutes != 1 else ''}."


def _attempt_key(username: str, remote: str | None) -> tuple[str, str]:
    return normalize_username(username)[:64], _ip_key(remote) if remote else LOCAL_ADDRESS


def _delay_refusal(session: Session, key: tuple[str, str], now: datetime) -> str | None:
    """The refusal to show while the (username, address) pair must wait, else None."""
    row = session.get(LoginAttempt, key)
    if row is not None and row.blocked_until is not None and row.blocked_until > now:
        return f"Demasiados intentos fallidos. {_try_again(row.blocked_until, now)}"
    return None


def _count_failure(session: Session, key: tuple[str, str], user: User | None, now: datetime, clock: Clock,
                   where: str | None) -> str | None:
    """One more failure for the (username, address) pair. From ``MAX_FAILURES`` on it
    must wait a growing delay (audited); the refusal to show is returned, else None."""
    name, ip = key
    insert_if_missing(session, LoginAttempt, {"username": name, "ip": ip, "failures": 0, "last_failure_at": now,
                                              "blocked_until": None}, key=["username", "ip"])
    row = session.scalars(
        select(LoginAttempt).where(LoginAttempt.username == name, LoginAttempt.ip == ip).with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if now - row.last_failure_at >= ATTEMPT_MEMORY:
        row.failures = 0
    row.failures = (row.failures or 0) + 1
    row.last_failure_at = now
    if user is not None:
        user.failed_logins = (user.failed_logins or 0) + 1
    if row.failures < MAX_FAILURES:
        session.flush()
        return None
    delay = min(FIRST_DELAY * 2 ** (row.failures - MAX_FAILURES), MAX_DELAY)
    row.blocked_until = now + delay
    if user is not None:
        user.locked_until = row.blocked_until
    session.flush()
    seconds = int(delay.total_seconds())
    record_audit(session, name or "(vacío)", "usuario_bloqueado", "usuario", name or None,
                 f"{where or 'ip=' + ip}; espera {seconds} s", clock=clock)
    return f"Demasiados intentos fallidos. {_try_again(row.blocked_until, now)}"


def _clear_failures(session: Session, username: str) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.username == username))


def authenticate(session: Session, username: str, password: str, *, clock: Clock = system_clock,
                 remote: str | None = None, hash_method: str = DEFAULT_HASH) -> LoginOutcome:
    """Check a password; delay the (username, address) pair after ``MAX_FAILURES`` and
    block the client address after ``IP_MAX_FAILURES`` (see the module docstring).
    ``hash_method`` is the one new passwords are hashed with (the dummy hash's)."""
    now = clock()
    if remote:
        blocked_until = _ip_blocked_until(session, remote, now)
        if blocked_until is not None:
            # Not audited per attempt: a blocked client could otherwise fill the audit
            # log; the block itself was audited ("ip_bloqueada").
            return LoginOutcome(None, "IP_BLOQUEADA", "Demasiados intentos fallidos desde esta dirección. "
                                + _try_again(blocked_until, now))
    outcome = _authenticate_account(session, username, password, now=now, clock=clock, remote=remote,
                                    hash_method=hash_method)
    if remote and not outcome.ok:
        _count_ip_failure(session, remote, now, clock)
    return outcome


def _authenticate_account(session: Session, username: str, password: str, *, now: datetime, clock: Clock,
                          remote: str | None, hash_method: str) -> LoginOutcome:
    """The per-(username, address) check: the same steps whether the user exists or not."""
    key = _attempt_key(username, remote)
    name = key[0]
    user = session.scalar(select(User).where(User.username == name)) if name else None
    where = f"ip={remote}" if remote else None
    delayed = _delay_refusal(session, key, now)
    if delayed is not None:
        record_audit(session, name or "(vacío)", "login_bloqueado", "usuario", name or None, where, clock=clock)
        return LoginOutcome(None, "USUARIO_BLOQUEADO", delayed)
    # One hash check of the same cost on every path: the user's, or the dummy one.
    matches = check_password_hash(user.password_hash if user is not None else dummy_hash(hash_method), password)
    if user is None or not matches or not user.active:
        refusal = _count_failure(session, key, user, now, clock, where)
        if refusal is not None:
            return LoginOutcome(None, "USUARIO_BLOQUEADO", refusal)
        record_audit(session, name or "(vacío)", "login_fallido", "usuario", name or None, where, clock=clock)
        return LoginOutcome(None, "CREDENCIALES_INVALIDAS", GENERIC_REFUSAL)
    session.execute(delete(LoginAttempt).where(LoginAttempt.username == name, LoginAttempt.ip == key[1]))
    # Guesses at made-up usernames leave rows behind; those past their memory go here.
    session.execute(delete(LoginAttempt).where(LoginAttempt.last_failure_at < now - ATTEMPT_MEMORY,
                                               LoginAttempt.username != name))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    record_audit(session, name, "login", "usuario", name, where, clock=clock)
    return LoginOutcome(user)


def get_active_user(session: Session, user_id: int) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def get_user(session: Session, username: str) -> User:
    name = normalize_username(username)
    user = session.scalar(select(User).where(User.username == name)) if name else None
    if user is None:
        raise NotFoundError(f"No existe el usuario «{name}».", code="USUARIO_NO_ENCONTRADO")
    return user


def user_history(session: Session, username: str, limit: int = 20) -> list[AuditEntry]:
    """The newest audit entries about one user (sign-ins, changes made to the account)."""
    name = normalize_username(username)
    return list(session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "usuario", AuditEntry.entity_id == name)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    ))


def _end_sessions(user: User) -> None:
    user.session_epoch = (user.session_epoch or 0) + 1


def _other_active_admins(session: Session, user: User) -> int:
    # FOR UPDATE (PostgreSQL): two administrators demoting each other at once must not
    # both see the other one still there. SQLite already serialises writers (BEGIN IMMEDIATE).
    rows = session.scalars(
        select(User.id).where(User.role == ADMIN_ROLE, User.active.is_(True), User.id != user.id).with_for_update()
    )
    return len(list(rows))


def _refuse_last_admin(session: Session, user: User, what: str) -> None:
    if user.role == ADMIN_ROLE and user.active and _other_active_admins(session, user) == 0:
        raise ConflictError(
            f"No se puede {what} «{user.username}»: es el único administrador activo. "
            "Active o nombre antes a otro administrador.",
            code="ULTIMO_ADMINISTRADOR",
        )


def set_active(session: Session, username: str, active: bool, *, actor: str, clock: Clock = system_clock) -> User:
    """Activate or deactivate a user. Deactivating also ends the user's open sessions
    (a cookie kept aside must not come back to life if the account is activated again)."""
    user = get_user(session, username)
    name = user.username
    if name == normalize_username(actor) and not active:
        raise ConflictError("No puede desactivar su propio usuario.", code="USUARIO_PROPIO")
    if user.active == active:
        return user
    if not active:
        _refuse_last_admin(session, user, "desactivar a")
        _end_sessions(user)
    user.active = active
    record_audit(session, actor, "usuario_activado" if active else "usuario_desactivado", "usuario", name, clock=clock)
    return user


def set_role(session: Session, username: str, role: str, *, actor: str, clock: Clock = system_clock) -> User:
    """Change a user's role. Refuses the actor's own role and demoting the last active
    administrator (nobody would be left to manage users). The role is read fresh on
    every request, so open sessions take the new role at once."""
    role = validate_role(role)
    user = get_user(session, username)
    if user.username == normalize_username(actor):
        raise ConflictError("No puede cambiar su propio rol; pídaselo a otro administrador.",
                            code="USUARIO_PROPIO")
    if user.role == role:
        return user
    if role != ADMIN_ROLE:
        _refuse_last_admin(session, user, "quitar el rol de administrador a")
    previous = user.role
    user.role = role
    record_audit(session, actor, "rol_cambiado", "usuario", user.username, f"rol={previous}->{role}", clock=clock)
    return user


def _set_password(session: Session, user: User, new: str, hash_method: str) -> None:
    user.password_hash = generate_password_hash(new, method=hash_method)
    user.failed_logins = 0
    user.locked_until = None
    _clear_failures(session, user.username)
    _end_sessions(user)


def change_password(
    session: Session,
    username: str,
    current: str,
    new: str,
    *,
    clock: Clock = system_clock,
    hash_method: str = DEFAULT_HASH,
    remote: str | None = None,
) -> User:
    """The user's own change: the current password must match. Ends the user's other
    sessions (the caller gives the session that made the change the new epoch). A wrong
    current password counts for the (user, ``remote``) pair like a failed sign-in."""
    now = clock()
    user = get_user(session, username)
    name = user.username
    if not user.active:
        raise ConflictError(f"El usuario «{name}» está desactivado.", code="USUARIO_INACTIVO")
    key = _attempt_key(name, remote)
    locked = _delay_refusal(session, key, now)
    if locked is not None:
        raise CurrentPasswordRefused(locked, code="USUARIO_BLOQUEADO")
    if not check_password_hash(user.password_hash, current):
        where = f"cambio de contraseña; ip={remote}" if remote else "cambio de contraseña"
        locked = _count_failure(session, key, user, now, clock, where)
        if locked is not None:
            raise CurrentPasswordRefused(locked, code="USUARIO_BLOQUEADO")
        record_audit(session, name, "cambio_contrasena_fallido", "usuario", name, clock=clock)
        raise CurrentPasswordRefused("La contraseña actual no es correcta.", code="CONTRASENA_ACTUAL_INCORRECTA")
    validate_password(new)
    if new == current:
        raise ValidationError("La contraseña nueva debe ser distinta de la actual.", code="CONTRASENA_REPETIDA")
    _set_password(session, user, new, hash_method)
    record_audit(session, name, "contrasena_cambiada", "usuario", name, clock=clock)
    return user


def reset_password(
    session: Session,
    username: str,
    new: str,
    *,
    actor: str,
    clock: Clock = system_clock,
    hash_method: str = DEFAULT_HASH,
) -> User:
    """An administrator (or the command line) sets a new password without the current
    one: for a forgotten password or a locked account. Ends all of the user's sessions.
    Administrators change their own password with ``change_password`` (which asks for
    the current one), so a borrowed session cannot take the account over."""
    user = get_user(session, username)
    if user.username == normalize_username(actor):
        raise ConflictError("Para cambiar su propia contraseña use «Mi cuenta»; se le pedirá la actual.",
                            code="USUARIO_PROPIO")
    validate_password(new)
    _set_password(session, user, new, hash_method)
    record_audit(session, actor, "contrasena_restablecida", "usuario", user.username, clock=clock)
    return user


# -- Web sessions ---------------------------------------------------------------
def open_web_session(session: Session, user: User, *, lifetime: timedelta, clock: Clock = system_clock) -> str:
    """A new server-side session for ``user``; returns the random id for the cookie
    (only its SHA-256 is stored). Expired sessions of everybody are purged here."""
    now = clock()
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    clear = secrets.token_urlsafe(32)
    session.add(WebSession(id_hash=hash_token(clear), user_id=user.id, created_at=now, expires_at=now + lifetime))
    session.flush()
    return clear


def web_session_open(session: Session, session_id: object, user_id: int, *, clock: Clock = system_clock) -> bool:
    """Is ``session_id`` (from the cookie) a live session of ``user_id``?"""
    if not isinstance(session_id, str) or not session_id or len(session_id) > 100:
        return False
    row = session.get(WebSession, hash_token(session_id))
    return row is not None and row.user_id == user_id and row.expires_at > clock()


def close_web_session(session: Session, session_id: object) -> None:
    """Sign-out: the session ends on the server, so a copy of the cookie is worthless."""
    if isinstance(session_id, str) and session_id:
        session.execute(delete(WebSession).where(WebSession.id_hash == hash_token(session_id)))


# -- API tokens -----------------------------------------------------------------
def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, name: str, role: str, *, created_by: str,
                 clock: Clock = system_clock) -> tuple[ApiToken, str]:
    """A new token; the clear text is returned once and never stored.

    ``created_by`` is the signed-in user who creates it (the token is tied to that
    user: see ``verify_token``), or ``CLI_CREATOR`` for the command line."""
    label = name.strip()
    if not label or len(label) > 100:
        raise ValidationError("Indique un nombre para el token (máximo 100 caracteres).", code="TOKEN_NOMBRE_INVALIDO")
    role = validate_role(role)
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    creator_id = None
    if created_by != CLI_CREATOR:
        creator_id = get_user(session, created_by).id
    token = ApiToken(name=label, token_hash=hash_token(clear), prefix=clear[:12], role=role,
                     created_by=created_by[:64], created_at=clock(), user_id=creator_id)
    session.add(token)
    session.flush()
    record_audit(session, created_by, "token_creado", "api_token", str(token.id), f"nombre={label} rol={role}",
                 clock=clock)
    return token, clear


def verify_token(session: Session, clear: str, *, clock: Clock = system_clock) -> ApiToken | None:
    if not clear.startswith(TOKEN_PREFIX) or len(clear) > 200:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(clear)))
    if token is None or token.revoked_at is not None or not _creator_still_allows(session, token):
        return None
    token.last_used_at = clock()
    return token


def _creator_still_allows(session: Session, token: ApiToken) -> bool:
    """A token is worth no more than its creator today: it stops working when the user
    who created it is deactivated or deleted, or no longer holds the token's role (an
    administrator may create a token of any role; anyone else only of their own).
    Tokens created from the command line (``CLI_CREATOR``) answer to whoever runs the
    server and carry no user. Tokens made before ``user_id`` was filled are matched by
    the creator's username."""
    if token.user_id is not None:
        creator = session.get(User, token.user_id)
    elif token.created_by == CLI_CREATOR:
        return True
    else:
        creator = session.scalar(select(User).where(User.username == token.created_by))
    if creator is None or not creator.active:
        return False
    return creator.role == ADMIN_ROLE or creator.role == token.role


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_token(session: Session, token_id: int, *, actor: str, clock: Clock = system_clock) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFoundError("No existe ese token.", code="TOKEN_NO_ENCONTRADO")
    if token.revoked_at is None:
        token.revoked_at = clock()
        record_audit(session, actor, "token_revocado", "api_token", str(token.id), f"nombre={token.name}", clock=clock)
    return token

