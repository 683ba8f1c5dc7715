"""Email rules with no I/O: addresses, header text, templates, backoff, the SMTP URL."""

from __future__ import annotations

import pytest

from cfdi_cobranza.domain.mail import (
    ContactRole,
    MailKind,
    check_template,
    fill,
    header_text,
    normalize_email,
    parse_email_list,
    retry_delay_seconds,
)
from cfdi_cobranza.errors import ConfigurationError, ValidationError
from cfdi_cobranza.services.mail.config import parse_smtp_url, smtp_config


@pytest.mark.parametrize("good,expected", [("Ana@Cliente.COM.mx", "Ana@cliente.com.mx"),
                                           (" a.b+c@x-y.example.org ", "a.b+c@x-y.example.org")])
def test_valid_addresses_keep_the_local_part_and_lower_the_domain(good: str, expected: str) -> None:
    assert normalize_email(good) == expected


@pytest.mark.parametrize("bad", ["", "ana", "ana@", "@x.mx", "a b@x.mx", "ana@x", "ana@x..mx", "a@x.mx\nBcc: b@y.mx",
                                 "Ana <a@x.mx>", "a@-x.mx", "a" * 65 + "@x.mx", "a,b@x.mx"])
def test_invalid_addresses_are_refused_with_a_code(bad: str) -> None:
    with pytest.raises(ValidationError) as err:
        normalize_email(bad)
    assert err.value.code == "CORREO_INVALIDO"


def test_header_text_never_keeps_a_line_break() -> None:
    assert header_text("Ana\r\nBcc: x@y.mx\t\x00 Pérez") == "Ana Bcc: x@y.mx Pérez"
    assert parse_email_list("a@x.mx; B@X.MX, a@x.mx") == ["a@x.mx", "B@x.mx"]


def test_roles_receive_their_kinds() -> None:
    assert ContactRole.PAGOS.receives(MailKind.REP) and not ContactRole.PAGOS.receives(MailKind.ESTADO_CUENTA)
    assert ContactRole.COBRANZA.receives(MailKind.CARTA) and not ContactRole.COBRANZA.receives(MailKind.REP)
    assert all(ContactRole.AMBOS.receives(k) for k in MailKind)


def test_templates_refuse_unknown_fields_and_keep_the_link_for_delivery() -> None:
    with pytest.raises(ValidationError) as err:
        check_template(MailKind.REP, "REP {folo}", "x")
    assert err.value.code == "PLANTILLA_CAMPO_DESCONOCIDO"
    assert fill("{serie}-{folio} {enlace}", {"serie": "P", "folio": "7", "enlace": "no"}, keep=("enlace",)) == \
        "P-7 {enlace}"


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [retry_delay_seconds(n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert retry_delay_seconds(20) == 3600


def test_smtp_url() -> None:
    assert parse_smtp_url("smtp://u%40x:p%3Aw@mail.x.mx:2525?starttls=1") == ("mail.x.mx", 2525, "starttls", "u@x",
                                                                               "p:w")
    assert parse_smtp_url("smtps://mail.x.mx")[1:3] == (465, "ssl")
    assert parse_smtp_url("smtp://mail.x.mx?starttls=0")[1:3] == (587, "none")
    with pytest.raises(ValidationError):
        parse_smtp_url("http://mail.x.mx")
    cfg = smtp_config(None, None, {"COBRANZA_SMTP_URL": "smtp://u:secreto@mail.x.mx", "COBRANZA_SMTP_FROM": "c@x.mx"})
    assert cfg is not None and "secreto" not in repr(cfg)
    with pytest.raises(ConfigurationError) as err:
        smtp_config(None, None, {"COBRANZA_SMTP_URL": "smtp://mail.x.mx"})
    assert err.value.code == "SMTP_SIN_REMITENTE"
    assert smtp_config(None, None, {}) is None
