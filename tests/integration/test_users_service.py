"""Password change and reset, roles, activation: rules, lockout, session epoch and audit (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cfdi_cobranza.db.models import AuditEntry
from cfdi_cobranza.db.models.users import LoginAttemptIp, User
from cfdi_cobranza.db.session import session_factory, transaction
from cfdi_cobranza.errors import ConflictError, NotFoundError, ValidationError
from cfdi_cobranza.services import users as svc

FAST = "pbkdf2:sha256:1000"
OLD = "clave-vieja-123"
NEW = "clave-nueva-456"


@pytest.fixture
def people(engine, clock):
    """admin (administrador), ana (cobranza), luis (consulta)."""
    with transaction(engine) as s:
        svc.add_user(s, "admin", OLD, "administrador", hash_method=FAST, clock=clock)
        svc.add_user(s, "ana", OLD, "cobranza", hash_method=FAST, clock=clock)
        svc.add_user(s, "luis", OLD, "consulta", hash_method=FAST, clock=clock)
    return engine


def _user(engine, name):
    with transaction(engine) as s:
        user = s.scalar(select(User).where(User.username == name))
        assert user is not None
        s.expunge(user)
        return user


def _audit(engine, action=None):
    with transaction(engine) as s:
        q = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            q = q.where(AuditEntry.action == action)
        rows = list(s.scalars(q))
        for r in rows:
            s.expunge(r)
        return rows


def _no_secrets_in_audit(engine, *secrets):
    hashes = [u.password_hash for u in (_user(engine, n) for n in ("admin", "ana", "luis"))]
    for entry in _audit(engine):
        text = " ".join(str(v) for v in (entry.actor, entry.action, entry.entity, entry.entity_id, entry.detail))
        for secret in (*secrets, *hashes):
            assert secret not in text, (entry.action, entry.detail)


def _attempt(engine, fn):
    """Run ``fn(session)`` and commit even when it raises, as the web view does for a refused password."""
    session = session_factory(engine)()
    try:
        try:
            return fn(session)
        finally:
            session.commit()
    finally:
        session.close()


# -- change_password ----------------------------------------------------------------
def test_change_password_ok_bumps_epoch_clears_lock_and_audits(people, clock):
    with transaction(people) as s:
        ana = svc.get_user(s, "ana")
        ana.failed_logins = 3
        ana.locked_until = clock() - timedelta(minutes=1)  # an expired lock is still cleared
    before = _user(people, "ana")
    with transaction(people) as s:
        svc.change_password(s, "ana", OLD, NEW, clock=clock, hash_method=FAST)
    after = _user(people, "ana")
    assert after.session_epoch == before.session_epoch + 1
    assert after.failed_logins == 0 and after.locked_until is None
    assert after.password_hash != before.password_hash and NEW not in after.password_hash
    with transaction(people) as s:
        assert svc.authenticate(s, "ana", NEW, clock=clock).ok
        assert not svc.authenticate(s, "ana", OLD, clock=clock).ok
    [entry] = _audit(people, "contrasena_cambiada")
    assert (entry.actor, entry.entity, entry.entity_id) == ("ana", "usuario", "ana")
    _no_secrets_in_audit(people, OLD, NEW)
    # Nobody else's sessions end.
    assert _user(people, "luis").session_epoch == 0


def test_change_password_wrong_current_counts_and_keeps_everything(people, clock):
    before = _user(people, "ana")
    with pytest.raises(svc.CurrentPasswordRefused) as exc:
        _attempt(people, lambda s: svc.change_password(s, "ana", "no-es-la-clave-1", NEW, clock=clock,
                                                       hash_method=FAST))
    assert exc.value.code == "CONTRASENA_ACTUAL_INCORRECTA"
    assert exc.value.message == "La contraseña actual no es correcta."
    after = _user(people, "ana")
    assert after.password_hash == before.password_hash
    assert after.session_epoch == before.session_epoch
    assert after.failed_logins == 1
    [entry] = _audit(people, "cambio_contrasena_fallido")
    assert entry.entity_id == "ana"
    _no_secrets_in_audit(people, "no-es-la-clave-1", NEW)


def test_change_password_wrong_current_locks_after_max_failures(people, clock):
    codes = []
    for _ in range(svc.MAX_FAILURES):
        with pytest.raises(svc.CurrentPasswordRefused) as exc:
            _attempt(people, lambda s: svc.change_password(s, "ana", "otra-clave-99", NEW, clock=clock,
                                                           hash_method=FAST))
        codes.append(exc.value.code)
    assert codes == ["CONTRASENA_ACTUAL_INCORRECTA"] * (svc.MAX_FAILURES - 1) + ["USUARIO_BLOQUEADO"]
    assert _user(people, "ana").locked_until == clock() + svc.FIRST_DELAY
    # Delayed: even the right current password is refused, and sign-in from the same place too.
    with pytest.raises(svc.CurrentPasswordRefused) as exc:
        _attempt(people, lambda s: svc.change_password(s, "ana", OLD, NEW, clock=clock, hash_method=FAST))
    assert exc.value.code == "USUARIO_BLOQUEADO" and "1 minuto." in exc.value.message
    with transaction(people) as s:
        assert svc.authenticate(s, "ana", OLD, clock=clock).code == "USUARIO_BLOQUEADO"


@pytest.mark.parametrize("new,code", [
    ("corta-1", "CONTRASENA_DEBIL"),
    ("solamenteletras", "CONTRASENA_DEBIL"),
    ("12345678901", "CONTRASENA_DEBIL"),
    (OLD, "CONTRASENA_REPETIDA"),
])
def test_change_password_refuses_weak_or_same(people, clock, new, code):
    before = _user(people, "ana")
    with transaction(people) as s, pytest.raises(ValidationError) as exc:
        svc.change_password(s, "ana", OLD, new, clock=clock, hash_method=FAST)
    assert exc.value.code == code
    assert not isinstance(exc.value, svc.CurrentPasswordRefused)
    after = _user(people, "ana")
    assert (after.password_hash, after.session_epoch) == (before.password_hash, before.session_epoch)
    assert _audit(people, "contrasena_cambiada") == []


def test_change_password_unknown_or_inactive_user(people, clock):
    with transaction(people) as s, pytest.raises(NotFoundError) as exc:
        svc.change_password(s, "nadie", OLD, NEW, clock=clock, hash_method=FAST)
    assert exc.value.code == "USUARIO_NO_ENCONTRADO"
    with transaction(people) as s:
        svc.set_active(s, "ana", False, actor="admin", clock=clock)
    with transaction(people) as s, pytest.raises(ConflictError) as exc:
        svc.change_password(s, "ana", OLD, NEW, clock=clock, hash_method=FAST)
    assert exc.value.code == "USUARIO_INACTIVO"


# -- reset_password ----------------------------------------------------------------
def test_reset_password_clears_lock_bumps_epoch_and_audits(people, clock):
    with transaction(people) as s:
        for _ in range(svc.MAX_FAILURES):
            svc.authenticate(s, "ana", "mala-clave-1", clock=clock)
    locked = _user(people, "ana")
    assert locked.locked_until is not None
    with transaction(people) as s:
        svc.reset_password(s, "ana", NEW, actor="admin", clock=clock, hash_method=FAST)
    after = _user(people, "ana")
    assert after.locked_until is None and after.failed_logins == 0
    assert after.session_epoch == locked.session_epoch + 1
    with transaction(people) as s:
        assert svc.authenticate(s, "ana", NEW, clock=clock).ok
    [entry] = _audit(people, "contrasena_restablecida")
    assert (entry.actor, entry.entity_id, entry.detail) == ("admin", "ana", None)
    _no_secrets_in_audit(people, OLD, NEW)


def test_reset_password_refusals(people, clock):
    before = _user(people, "admin")
    with transaction(people) as s, pytest.raises(ConflictError) as exc:
        svc.reset_password(s, "admin", NEW, actor="admin", clock=clock, hash_method=FAST)
    assert exc.value.code == "USUARIO_PROPIO" and "Mi cuenta" in exc.value.message
    with transaction(people) as s, pytest.raises(ValidationError) as exc:
        svc.reset_password(s, "ana", "debil", actor="admin", clock=clock, hash_method=FAST)
    assert exc.value.code == "CONTRASENA_DEBIL"
    with transaction(people) as s, pytest.raises(NotFoundError) as exc:
        svc.reset_password(s, "nadie", NEW, actor="admin", clock=clock, hash_method=FAST)
    assert exc.value.code == "USUARIO_NO_ENCONTRADO"
    assert _user(people, "admin").password_hash == before.password_hash
    assert _user(people, "ana").session_epoch == 0
    assert _audit(people, "contrasena_restablecida") == []


# -- set_role -----------------------------------------------------------------------
def test_set_role_changes_and_audits(people, clock):
    with transaction(people) as s:
        svc.set_role(s, "luis", "Cobranza", actor="admin", clock=clock)
    assert _user(people, "luis").role == "cobranza"
    [entry] = _audit(people, "rol_cambiado")
    assert (entry.actor, entry.entity_id, entry.detail) == ("admin", "luis", "rol=consulta->cobranza")
    with transaction(people) as s:  # same role again: nothing to record
        svc.set_role(s, "luis", "cobranza", actor="admin", clock=clock)
    assert len(_audit(people, "rol_cambiado")) == 1


def test_set_role_refuses_own_role(people, clock):
    with transaction(people) as s:
        svc.add_user(s, "admin2", OLD, "administrador", hash_method=FAST, clock=clock)
    with transaction(people) as s, pytest.raises(ConflictError) as exc:
        svc.set_role(s, "Admin", "consulta", actor="admin", clock=clock)
    assert exc.value.code == "USUARIO_PROPIO" and "propio rol" in exc.value.message
    assert _user(people, "admin").role == "administrador"


def test_set_role_refuses_demoting_last_active_admin(people, clock):
    with transaction(people) as s, pytest.raises(ConflictError) as exc:
        svc.set_role(s, "admin", "consulta", actor="cli", clock=clock)
    assert exc.value.code == "ULTIMO_ADMINISTRADOR" and "único administrador activo" in exc.value.message
    # An inactive administrator does not count as another one.
    with transaction(people) as s:
        svc.add_user(s, "admin2", OLD, "administrador", hash_method=FAST, clock=clock)
        svc.set_active(s, "admin2", False, actor="cli", clock=clock)
    with transaction(people) as s, pytest.raises(ConflictError) as exc:
        svc.set_role(s, "admin", "consulta", actor="cli", clock=clock)
    assert exc.value.code == "ULTIMO_ADMINISTRADOR"
    assert _user(people, "admin").role == "administrador"
    # With another active administrator the demotion goes through.
    with transaction(people) as s:
        svc.set_active(s, "admin2", True, actor="cli", clock=clock)
        svc.set_role(s, "admin", "consulta", actor="admin2", clock=clock)
    assert _user(people, "admin").role == "consulta"
    # ...and now admin2 is the last one.
    with transaction(people) as s, pytest.raises(ConflictError):
        svc.set_role(s, "admin2", "cobranza", actor="cli", clock=clock)
    # Demoting an inactive administrator is allowed (it leaves the active count as it was).
    with transaction(people) as s:
        svc.add_user(s, "admin3", OLD, "administrador", hash_method=FAST, clock=clock)
        svc.set_active(s, "admin3", False, actor="cli", clock=clock)
        svc.set_role(s, "admin3", "consulta", actor="admin2", clock=clock)
    assert _user(people, "admin3").role == "consulta"


def test_set_role_invalid_role_and_unknown_user(people, clock):
    with transaction(people) as s, pytest.raises(ValidationError) as exc:
        svc.set_role(s, "luis", "jefe", actor="admin", clock=clock)
    assert exc.value.code == "ROL_INVALIDO"
    with transaction(people) as s, pytest.raises(NotFoundError):
        svc.set_role(s, "nadie", "consulta", actor="admin", clock=clock)


# -- set_active ---------------------------------------------------------------------
def test_deactivation_ends_sessions_reactivation_does_not_revive_them(people, clock):
    with transaction(people) as s:
        svc.set_active(s, "ana", False, actor="admin", clock=clock)
    assert _user(people, "ana").session_epoch == 1 and not _user(people, "ana").active
    with transaction(people) as s:
        assert svc.get_active_user(s, _user(people, "ana").id) is None
        svc.set_active(s, "ana", True, actor="admin", clock=clock)
    again = _user(people, "ana")
    assert again.active and again.session_epoch == 1  # old cookies (epoch 0) stay dead
    assert [e.action for e in _audit(people) if e.entity_id == "ana"][-2:] == ["usuario_desactivado",
                                                                                "usuario_activado"]


def test_deactivation_refuses_self_and_last_admin(people, clock):
    with transaction(people) as s, pytest.raises(ConflictError) as exc:
        svc.set_active(s, "admin", False, actor="admin", clock=clock)
    assert exc.value.code == "USUARIO_PROPIO"
    with transaction(people) as s, pytest.raises(ConflictError) as exc:
        svc.set_active(s, "admin", False, actor="cli", clock=clock)
    assert exc.value.code == "ULTIMO_ADMINISTRADOR"
    assert _user(people, "admin").active and _user(people, "admin").session_epoch == 0


def test_user_history_newest_first_and_only_that_user(people, clock):
    with transaction(people) as s:
        svc.set_role(s, "luis", "cobranza", actor="admin", clock=clock)
        clock.now += timedelta(minutes=1)
        svc.reset_password(s, "luis", NEW, actor="admin", clock=clock, hash_method=FAST)
    with transaction(people) as s:
        actions = [e.action for e in svc.user_history(s, "LUIS")]
    assert actions == ["contrasena_restablecida", "rol_cambiado", "usuario_creado"]


# -- throttling per client address (password spraying) ----------------------------------
SPRAYER = "198.51.100.7"
OTHER_IP = "198.51.100.8"


def _login(engine, username, password, clock, remote=SPRAYER):
    with transaction(engine) as s:
        outcome = svc.authenticate(s, username, password, clock=clock, remote=remote)
        return outcome.code, outcome.message


def _ip_row(engine, ip=SPRAYER):
    with transaction(engine) as s:
        row = s.get(LoginAttemptIp, ip)
        if row is not None:
            s.expunge(row)
        return row


def _spray(engine, clock, n, start=0):
    """``n`` failed sign-ins from SPRAYER: one wrong guess on each real user, then unknown usernames."""
    codes = []
    for i in range(start, start + n):
        name = ("admin", "ana", "luis")[i] if i < 3 else f"nadie{i}"
        codes.append(_login(engine, name, f"Primavera{i}!", clock)[0])
    return codes


def test_ip_spraying_blocked_at_threshold_other_ip_unaffected(people, clock):
    codes = _spray(people, clock, svc.IP_MAX_FAILURES - 1)
    assert codes == ["CREDENCIALES_INVALIDAS"] * (svc.IP_MAX_FAILURES - 1)
    assert _ip_row(people).failures == svc.IP_MAX_FAILURES - 1
    assert _ip_row(people).blocked_until is None
    assert _audit(people, "ip_bloqueada") == []
    # No account reached its own lock: spraying never trips the per-account throttle.
    assert all(_user(people, n).locked_until is None for n in ("admin", "ana", "luis"))
    # The attempt reaching the threshold keeps its own outcome; the address is now blocked.
    assert _spray(people, clock, 1, start=svc.IP_MAX_FAILURES) == ["CREDENCIALES_INVALIDAS"]
    assert _ip_row(people).blocked_until == clock() + svc.IP_BLOCK_TIME
    code, message = _login(people, "otro", "lo-que-sea-1", clock)
    assert code == "IP_BLOQUEADA"
    assert message == "Demasiados intentos fallidos desde esta dirección. Intente de nuevo en 15 minutos."
    [entry] = _audit(people, "ip_bloqueada")
    assert (entry.entity, entry.entity_id, entry.actor) == ("ip", SPRAYER, "sistema")
    _no_secrets_in_audit(people, *(f"Primavera{i}!" for i in range(svc.IP_MAX_FAILURES + 1)))
    # Another address, and the command line (remote=None), are not affected.
    assert _login(people, "ana", OLD, clock, remote=OTHER_IP)[0] is None
    assert _ip_row(people, OTHER_IP) is None
    assert _login(people, "luis", OLD, clock, remote=None)[0] is None


def test_blocked_ip_refused_with_right_password_without_checking_it(people, clock, monkeypatch):
    _spray(people, clock, svc.IP_MAX_FAILURES)
    before = len(_audit(people))
    checked = []
    monkeypatch.setattr(svc, "check_password_hash", lambda *a: checked.append(a) or True)
    assert _login(people, "ana", OLD, clock)[0] == "IP_BLOQUEADA"
    assert checked == []
    ana = _user(people, "ana")
    assert ana.last_login_at is None and ana.failed_logins == 1  # the one sprayed guess, nothing more
    assert len(_audit(people)) == before  # refused attempts while blocked do not flood the audit log


def test_ip_block_ends_after_block_time(people, clock):
    _spray(people, clock, svc.IP_MAX_FAILURES)
    clock.now += svc.IP_BLOCK_TIME - timedelta(seconds=30)
    code, message = _login(people, "ana", OLD, clock)
    assert code == "IP_BLOQUEADA" and "1 minuto." in message
    clock.now += timedelta(seconds=30)
    assert _login(people, "ana", OLD, clock)[0] is None
    # The counter starts afresh: one failure after the block does not block again.
    assert _login(people, "nadie", "mala-clave-1", clock)[0] == "CREDENCIALES_INVALIDAS"
    row = _ip_row(people)
    assert row.failures == 1
    assert _login(people, "ana", OLD, clock)[0] is None


def test_successful_login_does_not_reset_ip_counter(people, clock):
    _spray(people, clock, svc.IP_MAX_FAILURES - 1)
    assert _login(people, "ana", OLD, clock)[0] is None
    assert _ip_row(people).failures == svc.IP_MAX_FAILURES - 1
    assert _spray(people, clock, 1, start=50) == ["CREDENCIALES_INVALIDAS"]
    assert _login(people, "ana", OLD, clock)[0] == "IP_BLOQUEADA"


def test_ip_failures_counted_per_window(people, clock):
    _spray(people, clock, svc.IP_MAX_FAILURES - 1)
    clock.now += svc.IP_WINDOW
    _spray(people, clock, svc.IP_MAX_FAILURES - 1, start=100)
    assert _ip_row(people).failures == svc.IP_MAX_FAILURES - 1
    assert _login(people, "ana", OLD, clock)[0] is None


def test_account_delay_counted_for_ip(people, clock):
    codes = [_login(people, "ana", "mala-clave-1", clock)[0] for _ in range(svc.MAX_FAILURES + 1)]
    assert codes == ["CREDENCIALES_INVALIDAS"] * (svc.MAX_FAILURES - 1) + ["USUARIO_BLOQUEADO"] * 2
    assert _user(people, "ana").locked_until == clock() + svc.FIRST_DELAY
    # Every refused attempt counts for the address, the one refused by the account lock too.
    assert _ip_row(people).failures == svc.MAX_FAILURES + 1
    # An inactive account's correct password counts as a failure too.
    with transaction(people) as s:
        svc.set_active(s, "luis", False, actor="admin", clock=clock)
    assert _login(people, "luis", OLD, clock)[0] == "CREDENCIALES_INVALIDAS"
    assert _ip_row(people).failures == svc.MAX_FAILURES + 2


def test_no_remote_skips_ip_throttling(people, clock):
    for i in range(svc.IP_MAX_FAILURES + 2):
        assert _login(people, f"nadie{i}", "mala-clave-1", clock, remote=None)[0] == "CREDENCIALES_INVALIDAS"
    with transaction(people) as s:
        assert s.scalars(select(LoginAttemptIp)).all() == []
    assert _login(people, "ana", OLD, clock, remote=None)[0] is None


@pytest.mark.postgres
def test_ip_counter_exact_under_concurrent_workers(pg_engine, clock):
    """Several web workers failing at once from one address: no increment is lost (row lock)."""
    from concurrent.futures import ThreadPoolExecutor

    attempts = svc.IP_MAX_FAILURES - 2

    def fail(i):
        return _login(pg_engine, f"nadie{i}", "mala-clave-1", clock)[0]

    _login(pg_engine, "nadie", "mala-clave-1", clock)  # the row exists: every worker below updates it
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(fail, range(attempts - 1)))
    assert codes == ["CREDENCIALES_INVALIDAS"] * (attempts - 1)
    assert _ip_row(pg_engine).failures == attempts
