"""Payment forms allowed per customer ("within the commercial conditions"): a receipt in
another form is refused, or needs an authorization used once, per the control level; the
credit check says the same. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from test_rep_examples import CUSTOMER, Book

from cfdi_cobranza.cfdi.factory import Line
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Payment
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.credit import CreditConditions, DecisionLevel, payment_form_reason
from cfdi_cobranza.errors import ConflictError, ValidationError
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services import users as users_service

D = Decimal
RFC = CUSTOMER.rfc


@pytest.fixture
def book(engine: Engine, settings: Settings, tmp_path: Path) -> Book:
    b = Book.open(engine, settings, tmp_path)
    b.invoices(F1=[Line(D("10000.00"))])
    with transaction(engine) as s:
        users_service.add_user(s, "jefa", "clave-jefa-123", "cobranza", hash_method="pbkdf2:sha256:1000")
    return b


def _forms(book: Book, formas: str, control: str) -> None:
    with transaction(book.engine) as s:
        view = credit.set_conditions(s, RFC, actor="pruebas", formas_permitidas=formas, nivel_control=control,
                                     clock=book.clock)
        assert view.to_dict()["formas_permitidas"] == sorted(f.strip() for f in formas.split(","))


def _payments(book: Book) -> int:
    with transaction(book.engine) as s:
        return int(s.scalar(select(func.count()).select_from(Payment)) or 0)


def test_the_rule_maps_the_control_level():
    conditions = CreditConditions(limites={}, plazo_maximo_dias=30, formas_permitidas=frozenset({"01", "03"}))
    assert payment_form_reason(conditions, "03") is None
    reason = payment_form_reason(conditions, "02")
    assert reason is not None and reason.code == "FORMA_PAGO_NO_PERMITIDA"
    assert reason.nivel is DecisionLevel.SOLICITUD_AUTORIZACION and "02 - Cheque nominativo" in reason.mensaje
    assert payment_form_reason(CreditConditions(limites={}, plazo_maximo_dias=30), "02") is None
    with pytest.raises(ValidationError) as err:
        CreditConditions(limites={}, plazo_maximo_dias=30, formas_permitidas=frozenset({"77"}))
    assert err.value.code == "FORMA_PAGO_INVALIDA"


def test_restrictive_refuses_another_form_and_stores_nothing(book: Book):
    _forms(book, "01,03", "restrictivo")
    with pytest.raises(ConflictError) as err:
        book.pay("500.00", form="02")
    assert err.value.code == "FORMA_PAGO_NO_PERMITIDA" and "Cheque nominativo" in err.value.message
    assert _payments(book) == 0
    book.pay("500.00", form="03")
    assert _payments(book) == 1


def test_warning_level_lets_it_through(book: Book):
    _forms(book, "03", "advertencia")
    book.pay("500.00", form="02")
    assert _payments(book) == 1


def test_authorization_level_needs_one_authorization_used_once(book: Book):
    _forms(book, "03", "autorizacion")
    with pytest.raises(ConflictError) as err:
        book.pay("500.00", form="02")
    assert err.value.code == "FORMA_PAGO_REQUIERE_AUTORIZACION"
    with transaction(book.engine) as s:
        check = credit.check_credit(s, RFC, D("500.00"), tipo="cobro", forma_pago="02", clock=book.clock)
        assert "FORMA_PAGO_NO_PERMITIDA" in check.decision.codes
        assert check.decision.nivel is DecisionLevel.SOLICITUD_AUTORIZACION
        request = credit.request_authorization(s, RFC, D("600.00"), actor="caja", tipo="cobro", forma_pago="02",
                                               clock=book.clock)
    with pytest.raises(ConflictError):  # pending is not authorized
        book.pay("500.00", form="02")
    with transaction(book.engine) as s:
        credit.decide_authorization(s, request.id, grant=True, username="jefa", clock=book.clock)
    with pytest.raises(ConflictError):  # authorized for 600.00, not more
        book.pay("700.00", form="02")
    book.pay("500.00", form="02")
    with transaction(book.engine) as s:
        used = credit.list_authorizations(s, rfc=RFC)[0].to_dict()
    assert used["usada"] is True and used["forma_pago"] == "02"
    with pytest.raises(ConflictError) as err:  # used up: the next cheque needs its own
        book.pay("100.00", form="02")
    assert err.value.code == "FORMA_PAGO_REQUIERE_AUTORIZACION"
    assert _payments(book) == 1


def test_cli_sets_and_clears_the_allowed_forms(book: Book, capsys):
    from cfdi_cobranza.cli.main import main

    url = book.engine.url.render_as_string(hide_password=False)
    assert main(["--db", url, "customer", "set", RFC, "--allowed-forms", "3, 01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["condiciones"]["formas_permitidas"] == ["01", "03"]
    assert main(["--db", url, "credit", "check", "--customer", RFC, "--amount", "10", "--operation", "cobro",
                 "--form", "02", "--json"]) == 0
    assert "FORMA_PAGO_NO_PERMITIDA" in {r["code"] for r in json.loads(capsys.readouterr().out)["razones"]}
    assert main(["--db", url, "customer", "set", RFC, "--allowed-forms", "todas", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["condiciones"]["formas_permitidas"] is None


def test_cli_gives_each_part_of_a_settlement_its_own_box(book: Book, capsys):
    from cfdi_cobranza.cli.main import main
    from cfdi_cobranza.db.models import CashBox

    url = book.engine.url.render_as_string(hide_password=False)
    for name, kind in (("Caja chica", "caja"), ("Banorte 1234", "banco")):
        assert main(["--db", url, "box", "add", name, "--kind", kind]) == 0
    capsys.readouterr()
    args = ["--db", url, "payment", "add", "--customer", RFC, "--date", "2026-10-15",
            "--amount", "100.00", "--form", "01", "--box", "Caja chica",
            "--amount", "200.00", "--form", "03", "--box", "Banorte 1234", "--json"]
    assert main(args) == 0
    ids = json.loads(capsys.readouterr().out)["payment_ids"]
    with transaction(book.engine) as s:
        boxes = {p.forma_pago: s.get(CashBox, p.cash_box_id).name for p in (s.get(Payment, i) for i in ids)}
    assert boxes == {"01": "Caja chica", "03": "Banorte 1234"}
    # Two parts, three boxes: a usage error, nothing stored.
    assert main([*args[:-1], "--box", "Caja chica", "--json"]) == 2
    assert _payments(book) == 2
