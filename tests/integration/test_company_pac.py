"""Each company can stamp with its own PAC account (accounting firms: one installation,
many client companies). The company's account (Finkok, against the loopback fake that
speaks its SOAP protocol) stamps its REPs; the installation's PAC is not called."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from fakes.finkok import PASSWORD, USER, FinkokFake
from sqlalchemy import Engine, select
from test_rep_examples import LOCAL_NOW, Book

from cfdi_cobranza.cfdi.factory import Line
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Company, Rep
from cfdi_cobranza.db.models.settings import CompanyPacSetting
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import NotFoundError
from cfdi_cobranza.pac.base import StampRequest, StampResult
from cfdi_cobranza.services.settings import (
    clear_company_pac,
    company_pacs,
    get_pac_setting,
    set_pac_setting,
)
from cfdi_cobranza.services.stamping import Stamper

D = Decimal


class _MustNotBeCalled:
    name = "instalacion"
    is_sandbox = True

    def stamp(self, request: StampRequest) -> StampResult:
        raise AssertionError("the installation's PAC stamped a REP of a company with its own account")

    def recover(self, request: StampRequest) -> StampResult | None:
        raise AssertionError("recover on the installation's PAC")


def test_a_company_stamps_with_its_own_account(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    book = Book.open(engine, settings, tmp_path)
    uuids = book.invoices(F1=[Line(D("1000.00"))])
    pid = book.pay("500.00")
    book.apply(pid, [(uuids["F1"], "500.00")])
    with FinkokFake(folder=tmp_path / "fake-sat") as fake, transaction(engine) as s:
        view = set_pac_setting(s, book.box, name="finkok", env="test", user=USER, password=PASSWORD, token=None,
                               url=fake.url, actor="pruebas", company_rfc="eku9003173c9")
        assert view.stored and view.name == "finkok" and view.password_set
        assert get_pac_setting(s).stored is False  # the installation's own setting is untouched
        row = s.scalar(select(CompanyPacSetting))
        assert row is not None and PASSWORD.encode() not in (row.password_sealed or b"") and PASSWORD not in repr(row)
        own = company_pacs(s, book.box, settings.instance_path, environ={})
        company_id = s.scalar(select(Company.id).where(Company.rfc == "EKU9003173C9"))
        assert set(own) == {company_id}
        s.commit()
        stamper = Stamper(engine, _MustNotBeCalled(), book.box, clock=book.clock, now_local=lambda: LOCAL_NOW,
                          company_pacs=own)
        result = stamper.issue([pid])
        assert result.status == "timbrado", result.to_dict()
        assert "stamp" in fake.calls, "the company's Finkok account was not used"
    with transaction(engine) as s:
        rep = s.scalar(select(Rep))
        assert rep is not None and rep.pac == "finkok" and not rep.sandbox


def test_the_environment_still_wins_and_the_account_can_be_removed(engine: Engine, settings: Settings,
                                                                   tmp_path: Path) -> None:
    book = Book.open(engine, settings, tmp_path)
    book.invoices(F1=[Line(D("1000.00"))])
    with transaction(engine) as s:
        set_pac_setting(s, book.box, name="sw", env="test", user=None, password=None, token="tok-123",
                        url=None, actor="pruebas", company_rfc="EKU9003173C9")
        assert company_pacs(s, book.box, settings.instance_path, environ={"COBRANZA_PAC": "sandbox"}) == {}
        assert clear_company_pac(s, "EKU9003173C9", actor="pruebas") is True
        assert company_pacs(s, book.box, settings.instance_path, environ={}) == {}
        assert get_pac_setting(s, company_rfc="EKU9003173C9").stored is False
        with pytest.raises(NotFoundError):
            set_pac_setting(s, book.box, name="sandbox", env="test", user=None, password=None, token=None,
                            url=None, actor="pruebas", company_rfc="XAXX010101000")
