"""``cobranza user password|role|activate|deactivate`` through Click's CliRunner: exit codes, JSON, no secrets."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cfdi_cobranza.cli.main import main
from cfdi_cobranza.db.models import AuditEntry
from cfdi_cobranza.db.models.users import User
from cfdi_cobranza.db.session import make_engine, transaction
from cfdi_cobranza.services import users as users_service

OLD = "clave-vieja-123"
NEW = "clave-nueva-456"
FAST = "pbkdf2:sha256:1000"


@pytest.fixture
def db(tmp_path, sqlite_template):
    path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    with transaction(engine) as s:
        users_service.add_user(s, "admin", OLD, "administrador", hash_method=FAST)
        users_service.add_user(s, "ana", OLD, "cobranza", hash_method=FAST)
    yield url, engine
    engine.dispose()


def run(url, *args, input=None, env=None):
    """``main`` (which maps errors to exit codes) inside CliRunner's isolated stdin/stdout/stderr."""
    runner = CliRunner()
    env = {"COBRANZA_NEW_PASSWORD": None, **(env or {})}
    with runner.isolation(input=input, env=env) as (out, err, _mixed):
        code = main(["--db", url, *args])
        sys.stdout.flush()  # emit_json writes to sys.stdout without flushing
        sys.stderr.flush()
    return code, out.getvalue().decode(), err.getvalue().decode()


def user(engine, name):
    with transaction(engine) as s:
        u = s.scalar(select(User).where(User.username == name))
        s.expunge(u)
        return u


def audit_text(engine):
    with transaction(engine) as s:
        return " ".join(f"{e.actor} {e.action} {e.entity_id} {e.detail}" for e in s.scalars(select(AuditEntry)))


def test_password_from_env_resets_unlocks_and_ends_sessions(db):
    url, engine = db
    with transaction(engine) as s:
        for _ in range(users_service.MAX_FAILURES):
            users_service.authenticate(s, "ana", "mala-clave-1")
    assert user(engine, "ana").locked_until is not None
    code, out, err = run(url, "user", "password", "ana", "--json", env={"COBRANZA_NEW_PASSWORD": NEW})
    assert code == 0, err
    assert json.loads(out) == {"username": "ana", "full_name": None, "role": "cobranza", "active": True,
                               "password_changed": True}
    ana = user(engine, "ana")
    assert ana.locked_until is None and ana.session_epoch == 1
    with transaction(engine) as s:
        assert users_service.authenticate(s, "ana", NEW).ok
    text = audit_text(engine)
    assert "cli contrasena_restablecida ana" in text
    assert NEW not in text + out + err and ana.password_hash not in text


def test_password_prompted_twice_hidden(db):
    url, engine = db
    code, out, err = run(url, "user", "password", "ana", input=f"{NEW}\n{NEW}\n")
    assert code == 0, err
    assert "Contraseña de «ana» restablecida; sus sesiones abiertas se cerraron." in out
    assert "Contraseña nueva" in err and "Repita la contraseña nueva" in err  # prompts go to stderr
    assert NEW not in out + err  # hidden input is not echoed
    with transaction(engine) as s:
        assert users_service.authenticate(s, "ana", NEW).ok


def test_password_prompt_mismatch_weak_unknown_and_no_argument(db):
    url, engine = db
    before = user(engine, "ana").password_hash
    code, _out, err = run(url, "user", "password", "ana", input=f"{NEW}\n{NEW}x\n")
    assert code == 1 and "CONTRASENA_NO_COINCIDE" in err
    code, out, _err = run(url, "user", "password", "ana", "--json", env={"COBRANZA_NEW_PASSWORD": "debil"})
    assert code == 1 and json.loads(out)["error"]["code"] == "CONTRASENA_DEBIL"
    code, _out, err = run(url, "user", "password", "nadie", env={"COBRANZA_NEW_PASSWORD": NEW})
    assert code == 1 and "USUARIO_NO_ENCONTRADO" in err
    code, _out, err = run(url, "user", "password", "ana", NEW)  # never as an argument
    assert code == 2 and "Argumentos de más" in err
    code, _out, err = run(url, "user", "password", "ana", "--password", NEW)
    assert code == 2
    code, _out, err = run(url, "user", "password", "ana", input="")  # end of input at the prompt
    assert code == 1 and "Cancelado." in err
    assert user(engine, "ana").password_hash == before and user(engine, "ana").session_epoch == 0


def test_role_change_refusals_and_usage(db):
    url, engine = db
    code, out, err = run(url, "user", "role", "ana", "consulta", "--json")
    assert code == 0, err
    assert json.loads(out) == {"username": "ana", "full_name": None, "role": "consulta", "active": True,
                               "previous_role": "cobranza", "changed": True}
    code, out, _err = run(url, "user", "role", "ana", "consulta")
    assert code == 0 and "ya tenía el rol Consulta (solo lectura); sin cambios" in out
    code, out, _err = run(url, "user", "role", "ana", "Cobranza")
    assert code == 0 and "Rol de «ana»: Consulta (solo lectura) → Cobranza." in out
    code, out, _err = run(url, "user", "role", "admin", "consulta", "--json")
    assert code == 1 and json.loads(out)["error"]["code"] == "ULTIMO_ADMINISTRADOR"
    code, _out, err = run(url, "user", "role", "ana", "jefe")
    assert code == 2 and "Valor inválido para ROL: «jefe» no es una de las opciones" in err
    code, _out, err = run(url, "user", "role", "ana")
    assert code == 2 and "Falta el argumento ROL. Opciones: administrador, facturacion" in err
    assert user(engine, "admin").role == "administrador" and user(engine, "ana").role == "cobranza"
    assert "cli rol_cambiado ana rol=cobranza->consulta" in audit_text(engine)


def test_deactivate_activate(db):
    url, engine = db
    code, out, err = run(url, "user", "deactivate", "ana", "--json")
    assert code == 0, err
    assert json.loads(out) == {"username": "ana", "full_name": None, "role": "cobranza", "active": False,
                               "changed": True}
    assert user(engine, "ana").session_epoch == 1
    code, out, _err = run(url, "user", "deactivate", "ana")
    assert code == 0 and "ya estaba desactivado; sin cambios" in out
    with transaction(engine) as s:
        assert not users_service.authenticate(s, "ana", OLD).ok
    code, out, _err = run(url, "user", "activate", "ana")
    assert code == 0 and "Usuario «ana» activado." in out
    with transaction(engine) as s:
        assert users_service.authenticate(s, "ana", OLD).ok
    code, out, _err = run(url, "user", "deactivate", "admin", "--json")
    assert code == 1 and json.loads(out)["error"]["code"] == "ULTIMO_ADMINISTRADOR"
    assert user(engine, "admin").active
    code, _out, err = run(url, "user", "activate", "nadie")
    assert code == 1 and "USUARIO_NO_ENCONTRADO" in err


def test_help_lists_the_new_commands(db):
    url, _engine = db
    code, out, _err = run(url, "user", "--help")
    assert code == 0
    for name in ("add", "list", "password", "role", "activate", "deactivate"):
        assert f"  {name} " in out


def test_user_companies_limits_lists_and_clears(db):
    from datetime import UTC, datetime

    from cfdi_cobranza.db.models import Company
    url, engine = db
    with transaction(engine) as s:
        s.add_all([Company(rfc="AAA010101AAA", nombre="A", created_at=datetime.now(UTC)),
                   Company(rfc="BBB010101BBB", nombre="B", created_at=datetime.now(UTC))])
    epoch = user(engine, "ana").session_epoch
    code, out, _ = run(url, "user", "companies", "ana", "aaa010101aaa", "--json")
    assert code == 0 and json.loads(out) == {"username": "ana", "empresas": ["AAA010101AAA"], "todas": False}
    assert user(engine, "ana").session_epoch == epoch + 1  # open pages must not keep the old companies
    code, out, _ = run(url, "user", "companies", "ana")
    assert code == 0 and "AAA010101AAA" in out and "BBB010101BBB" not in out
    code, _out, err = run(url, "user", "companies", "ana", "ZZZ010101ZZZ")
    assert code == 1 and "EMPRESA_NO_ENCONTRADA" in err
    code, _out, err = run(url, "user", "companies", "admin", "AAA010101AAA")
    assert code == 1 and "ADMINISTRADOR_SIN_LIMITE" in err
    code, out, _ = run(url, "user", "companies", "ana", "--todas", "--json")
    assert code == 0 and json.loads(out)["todas"] is True
    assert "empresas_usuario ana AAA010101AAA -> todas" in audit_text(engine)
