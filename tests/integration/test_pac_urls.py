"""PAC addresses: production only over https to public hosts; test mode may use loopback fakes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.finkok import PASSWORD, USER, FinkokFake
from sqlalchemy import Engine

from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import ConfigurationError, PacError, ValidationError
from cfdi_cobranza.pac.base import StampRequest
from cfdi_cobranza.pac.config import pac_from_config
from cfdi_cobranza.pac.transport import AddressNotAllowedError, HttpTransport, RetryPolicy
from cfdi_cobranza.pac.urls import address_allowed, pac_url_problem
from cfdi_cobranza.secrets import SecretBox

REFUSED_IN_PRODUCTION = [
    "http://pac.example.com/finkok",  # the password would travel in clear
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "https://127.0.0.1:8443/",
    "https://10.0.0.5/",
    "https://192.168.1.10/",
    "https://172.16.0.1/",
    "https://[::1]/",
    "https://[fe80::1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://0.0.0.0/",
    "https://localhost/",
    "https://pac.internal/",
    "https://intranet/",
    "https://2852039166/",  # 169.254.169.254 written as one number
    "https://0xa9.0xfe.0xa9.0xfe/",
    "https://user:secret@pac.example.com/",
]


@pytest.mark.parametrize("url", REFUSED_IN_PRODUCTION)
def test_production_pac_url_refused(url: str) -> None:
    assert pac_url_problem(url, "production") is not None
    env = {"COBRANZA_PAC": "finkok", "COBRANZA_PAC_ENV": "production", "COBRANZA_PAC_USER": "u",
           "COBRANZA_PAC_PASSWORD": "p", "COBRANZA_PAC_URL": url}
    with pytest.raises(ConfigurationError) as info:
        pac_from_config(env)
    assert info.value.code == "PAC_URL_INVALIDA"


@pytest.mark.parametrize("url", ["https://facturacion.finkok.com/servicios/soap", "https://8.8.8.8/pac",
                                 "https://services.sw.com.mx"])
def test_production_pac_url_accepted(url: str) -> None:
    assert pac_url_problem(url, "production") is None


def test_test_mode_may_use_loopback_but_not_link_local() -> None:
    assert pac_url_problem("http://127.0.0.1:8080/finkok", "test") is None
    assert pac_url_problem("http://localhost:8080/finkok", "test") is None
    assert pac_url_problem("http://169.254.169.254/", "test") is not None
    assert not address_allowed("169.254.169.254", "test") and address_allowed("127.0.0.1", "test")
    assert not address_allowed("127.0.0.1", "production") and address_allowed("8.8.8.8", "production")


def test_stored_setting_refuses_an_internal_production_url(engine: Engine, clock: object) -> None:
    from cryptography.fernet import Fernet

    from cfdi_cobranza.services import settings as svc

    box = SecretBox(Fernet.generate_key())
    with transaction(engine) as s, pytest.raises(ValidationError) as info:
        svc.set_pac_setting(s, box, name="finkok", env="production", user="u", password="clave", token="",
                            url="http://169.254.169.254/", actor="admin", clock=clock)  # type: ignore[arg-type]
    assert info.value.code == "PAC_URL_INVALIDA" and "https://" in info.value.message
    with transaction(engine) as s:  # the same address is fine for a test PAC on loopback
        view = svc.set_pac_setting(s, box, name="finkok", env="test", user="u", password="clave", token="",
                                   url="http://127.0.0.1:9/finkok", actor="admin", clock=clock)  # type: ignore[arg-type]
    assert view.url == "http://127.0.0.1:9/finkok"


def test_connection_to_a_refused_address_sends_nothing(tmp_path: Path) -> None:
    # A public name could resolve to an internal address: the transport checks the address
    # the socket reached and writes nothing there (the fake records no request).
    with FinkokFake(folder=tmp_path / "fake-sat") as fake:
        transport = HttpTransport(retry=RetryPolicy(attempts=1, backoff=0.0),
                                  allow_address=lambda a: address_allowed(a, "production"))
        with pytest.raises(AddressNotAllowedError):
            transport.request("POST", fake.url + "/servicios/soap/stamp.wsdl", body=PASSWORD.encode())
        assert fake.requests == []
        # Through the Finkok adapter the refusal is a PacError ("PAC no disponible"), still nothing sent.
        from cfdi_cobranza.pac.finkok import FinkokPac

        pac = FinkokPac(USER, PASSWORD, base_url=fake.url, recover_delay=0.0,
                        transport=HttpTransport(retry=RetryPolicy(attempts=1, backoff=0.0),
                                                allow_address=lambda a: address_allowed(a, "production")))
        with pytest.raises(PacError):
            pac.stamp(StampRequest(b"<x/>", "rep-1"))
        assert fake.requests == []
