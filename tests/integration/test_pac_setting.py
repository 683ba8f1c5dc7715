"""The PAC chosen in Configuración: validation, sealed secrets, audit, and env precedence in ``pac_for``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, func, select, text

from cfdi_cobranza.db.models import AuditEntry
from cfdi_cobranza.db.models.settings import PacSetting
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.pac.finkok import FinkokPac
from cfdi_cobranza.pac.sandbox import SandboxPac
from cfdi_cobranza.pac.sw import SwPac
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import settings as svc

PASSWORD = "Contraseña-Finkok-9f3a"
TOKEN = "T0KEN-sw-1b2c3d4e5f"
NO_ENV: dict[str, str] = {}


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key())


def _save(engine: Engine, box: SecretBox, clock: object, **kw: object) -> svc.PacView:
    values: dict[str, object] = {"name": "finkok", "env": "test", "user": "usuario@empresa.mx",
                                 "password": PASSWORD, "token": "", "url": "", "actor": "admin", "clock": clock}
    values.update(kw)
    with transaction(engine) as s:
        return svc.set_pac_setting(s, box, **values)  # type: ignore[arg-type]


def _rows(engine: Engine) -> tuple[int, int]:
    with transaction(engine) as s:
        return (int(s.scalar(select(func.count()).select_from(PacSetting)) or 0),
                int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0))


@pytest.mark.parametrize(("kw", "code"), [
    ({"name": "otro"}, "PAC_INVALIDO"),
    ({"name": ""}, "PAC_INVALIDO"),
    ({"env": "prod"}, "PAC_AMBIENTE_INVALIDO"),
    ({"name": "sandbox", "env": "production"}, "PAC_SANDBOX_PRODUCCION"),
    ({"password": ""}, "PAC_CREDENCIALES_REQUERIDAS"),
    ({"user": ""}, "PAC_CREDENCIALES_REQUERIDAS"),
    ({"name": "sw", "user": "", "password": "", "token": ""}, "PAC_CREDENCIALES_REQUERIDAS"),
    ({"name": "sw", "user": "u", "password": "", "token": ""}, "PAC_CREDENCIALES_REQUERIDAS"),
    ({"url": "ftp://pac.example.com"}, "PAC_URL_INVALIDA"),
    ({"url": "javascript:alert(1)"}, "PAC_URL_INVALIDA"),
    ({"url": "https://"}, "PAC_URL_INVALIDA"),
    ({"user": "u" * 201}, "PAC_DATO_DEMASIADO_LARGO"),
])
def test_validation_codes_write_nothing(engine: Engine, box: SecretBox, clock: object, kw: dict[str, object],
                                        code: str) -> None:
    with pytest.raises(ValidationError) as err:
        _save(engine, box, clock, **kw)
    assert err.value.code == code
    assert err.value.message and err.value.message[0].isupper()  # a Spanish sentence, not a key
    assert _rows(engine) == (0, 0)


def test_secrets_stored_only_sealed_and_never_returned_nor_audited(engine: Engine, box: SecretBox,
                                                                   clock: object) -> None:
    view = _save(engine, box, clock, name="sw", user="", password="", token=TOKEN)
    view = _save(engine, box, clock, name="sw", user="usuario", password=PASSWORD, token="")
    assert view.stored and view.password_set and view.token_set and view.name == "sw"
    assert PASSWORD not in repr(view) and TOKEN not in repr(view)
    with engine.connect() as conn:
        raw_pw, raw_token = conn.execute(text("SELECT password_sealed, token_sealed FROM pac_setting")).one()
        audit = " ".join(str(d) for (d,) in conn.execute(text("SELECT detail FROM audit_log")))
    raw_pw, raw_token = bytes(raw_pw), bytes(raw_token)
    for clear, raw in ((PASSWORD, raw_pw), (TOKEN, raw_token)):
        assert clear.encode() not in raw and clear.encode("utf-8").hex().encode() not in raw
        assert box.open(raw) == clear.encode("utf-8")
    assert PASSWORD not in audit and TOKEN not in audit
    assert "contraseña=nueva" in audit and "token=guardada" in audit


def test_empty_secret_keeps_the_stored_one_and_clear_deletes(engine: Engine, box: SecretBox, clock: object) -> None:
    _save(engine, box, clock)
    with transaction(engine) as s:
        before = s.get(PacSetting, 1).password_sealed  # type: ignore[union-attr]
    view = _save(engine, box, clock, password="", env="production")
    assert view.password_set and view.env == "production"
    with transaction(engine) as s:
        assert s.get(PacSetting, 1).password_sealed == before  # type: ignore[union-attr]
    with pytest.raises(ValidationError) as err:  # Finkok cannot lose its password
        _save(engine, box, clock, password="", clear_password=True)
    assert err.value.code == "PAC_CREDENCIALES_REQUERIDAS"
    view = _save(engine, box, clock, name="sandbox", env="test", user="", password="", clear_password=True)
    assert view.sandbox and not view.password_set
    assert _rows(engine) == (1, 3)


def test_get_pac_setting_defaults_and_env_flag(engine: Engine) -> None:
    with transaction(engine) as s:
        view = svc.get_pac_setting(s, environ=NO_ENV)
        assert (view.name, view.env, view.stored, view.env_override) == ("sandbox", "test", False, False)
        assert svc.get_pac_setting(s, environ={"COBRANZA_PAC": "sw"}).env_override


def test_pac_for_precedence(engine: Engine, box: SecretBox, clock: object, tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    with transaction(engine) as s:  # nothing stored, nothing in the environment: the sandbox
        pac = svc.pac_for(s, box, instance, environ=NO_ENV)
    assert isinstance(pac, SandboxPac) and pac.is_sandbox and pac.folder == instance / "sandbox-pac"

    _save(engine, box, clock, url="https://pac.example.com/finkok", env="production")
    with transaction(engine) as s:
        pac = svc.pac_for(s, box, instance, environ={"COBRANZA_PAC_TIMEOUT": "5"})
    assert isinstance(pac, FinkokPac) and not pac.is_sandbox
    assert pac._password == PASSWORD and pac._username == "usuario@empresa.mx"
    assert pac.environment == "production" and pac.base_url == "https://pac.example.com/finkok"
    assert pac.transport.timeouts.read == 5.0

    _save(engine, box, clock, name="sw", env="test", user="", password="", token=TOKEN, url="")
    with transaction(engine) as s:
        pac = svc.pac_for(s, box, instance, environ=NO_ENV)
        assert isinstance(pac, SwPac) and pac._fixed_token == TOKEN and pac.environment == "test"
        # The environment wins whenever COBRANZA_PAC is set, whatever is stored.
        env_pac = svc.pac_for(s, box, instance, environ={"COBRANZA_PAC": "sandbox",
                                                         "COBRANZA_PAC_FOLDER": str(tmp_path / "env-sandbox")})
        assert isinstance(env_pac, SandboxPac) and env_pac.folder == tmp_path / "env-sandbox"
        env_pac = svc.pac_for(s, box, instance, environ={"COBRANZA_PAC": "finkok", "COBRANZA_PAC_USER": "env",
                                                         "COBRANZA_PAC_PASSWORD": "env-pw"})
        assert isinstance(env_pac, FinkokPac) and env_pac._username == "env"

    _save(engine, box, clock, name="sandbox", env="test", user="", token="")
    with transaction(engine) as s:
        assert isinstance(svc.pac_for(s, box, instance, environ=NO_ENV), SandboxPac)


def test_pac_for_reads_os_environ_by_default(engine: Engine, box: SecretBox, clock: object, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _save(engine, box, clock, name="sw", user="", password="", token=TOKEN)
    monkeypatch.setenv("COBRANZA_PAC", "finkok")
    monkeypatch.setenv("COBRANZA_PAC_USER", "del-entorno")
    monkeypatch.setenv("COBRANZA_PAC_PASSWORD", "pw-entorno")
    with transaction(engine) as s:
        pac = svc.pac_for(s, box, tmp_path)
        assert svc.get_pac_setting(s).env_override
    assert isinstance(pac, FinkokPac) and pac._username == "del-entorno"
    monkeypatch.delenv("COBRANZA_PAC")
    with transaction(engine) as s:
        assert isinstance(svc.pac_for(s, box, tmp_path), SwPac)
