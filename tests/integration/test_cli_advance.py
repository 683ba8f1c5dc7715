"""The CLI for payments received before their invoice: the warning with its code when
applying, the flag in ``payments`` and ``rep pending``, the REP refused until
``payment confirm-advance`` (audited), an anticipo refused with nothing written."""

from __future__ import annotations

import itertools
import json
import uuid as uuidlib
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cfdi_cobranza.cfdi.factory import CfdiFactory, Line
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.cli.main import main
from cfdi_cobranza.db.models import AuditEntry, Credit, Rep
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.payments import ReceiptInput
from cfdi_cobranza.services import payments as pay
from cfdi_cobranza.services.importing import Importer

CUSTOMER = "URE180429TM6"


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    counter = itertools.count(1)
    return CfdiFactory(tmp_path_factory.mktemp("sb"), uuid_source=lambda: uuidlib.UUID(int=next(counter) + 0xADF0000),
                       clock=lambda: datetime(2026, 10, 1, 12, 0))


@pytest.fixture
def invoice(engine, settings, factory, clock):
    """One 1,160.00 MXN PPD invoice of URE180429TM6 issued 2026-09-01."""
    doc = factory.invoice([Line(Decimal("1000.00"))], folio="1", fecha=datetime(2026, 9, 1, 10, 0))
    res = Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir]).import_candidates(
        [Candidate("F1", doc.xml)])
    assert res.ok, res.to_dict()
    return doc.uuid


@pytest.fixture
def db(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("COBRANZA_INSTANCE", str(tmp_path / "instance"))
    return ["--db", engine.url.render_as_string(hide_password=False)]


def run(capsys, argv):
    code = main(argv)
    return code, capsys.readouterr().out


def run_json(capsys, argv):
    code, out = run(capsys, [*argv, "--json"])
    return code, json.loads(out)


def payment(engine, when):
    with transaction(engine) as s:
        st = pay.register_settlement(s, [ReceiptInput(CUSTOMER, "", when, "03", "MXN", "1160.00")], actor="t")
        return st.payments[0].id


def test_cli_flags_confirms_and_refuses_the_rep_until_confirmed(engine, invoice, db, capsys):
    pid = payment(engine, datetime(2026, 8, 28, 12, 0))
    code, out = run(capsys, [*db, "payment", "apply", str(pid), "--invoice", f"{invoice}=1160.00"])
    assert code == 0 and "Aviso [PAGO_ANTERIOR_A_FACTURA]" in out and "28/08/2026" in out
    with transaction(engine) as s:
        assert s.scalar(select(Credit.advance_pending).where(Credit.payment_id == pid)) is True

    code, data = run_json(capsys, [*db, "payments"])
    assert code == 0 and data["payments"][0]["aplicaciones"][0]["pago_anterior"] == "por_confirmar"
    code, out = run(capsys, [*db, "payments"])
    assert f"REP en espera de confirmación: {pid}" in out
    code, data = run_json(capsys, [*db, "rep", "pending", "--as-of", "2026-09-02"])
    assert code == 0 and data["pending"][0]["por_confirmar"] == 1
    code, out = run(capsys, [*db, "rep", "pending", "--as-of", "2026-09-02"])
    assert "su REP no se emite hasta confirmarlos" in out

    code, data = run_json(capsys, [*db, "rep", "issue", str(pid)])
    assert code != 0 and data["error"]["code"] == "PAGO_ANTERIOR_SIN_CONFIRMAR", data
    assert f"cobranza payment confirm-advance {pid}" in data["error"]["message"]
    code, data = run_json(capsys, [*db, "rep", "issue", "--all-pending"])
    assert [f["code"] for f in data["results"][0]["findings"]] == ["PAGO_ANTERIOR_SIN_CONFIRMAR"]
    with transaction(engine) as s:
        assert s.scalar(select(func.count(Rep.id))) == 0

    code, out = run(capsys, [*db, "payment", "confirm-advance", str(pid), "--user", "ana", "--note", "pedido 77"])
    assert code == 0 and "Confirmadas 1 aplicaciones" in out
    with transaction(engine) as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "confirmar_pago_anterior"))
        assert entry is not None and entry.actor == "ana" and "pedido 77" in entry.detail
    code, data = run_json(capsys, [*db, "payments"])
    assert data["payments"][0]["aplicaciones"][0]["pago_anterior"] == "confirmado"
    assert data["payments"][0]["aplicaciones"][0]["confirmado_por"] == "ana"
    code, data = run_json(capsys, [*db, "payment", "confirm-advance", str(pid)])
    assert code != 0 and data["error"]["code"] == "SIN_PAGO_ANTERIOR_POR_CONFIRMAR"


def test_cli_refuses_an_anticipo_and_keeps_the_money(engine, invoice, db, capsys):
    pid = payment(engine, datetime(2026, 7, 30, 12, 0))  # REP deadline 2026-08-05, invoice 2026-09-01
    code, data = run_json(capsys, [*db, "payment", "apply", str(pid), "--invoice", f"{invoice}=1160.00"])
    assert code != 0 and data["error"]["code"] == "ANTICIPO_REQUERIDO"
    code, data = run_json(capsys, [*db, "payment", "apply", str(pid), "--oldest-first"])
    assert code == 0 and data["lines"] == [] and data["saldo_a_favor"] == "1160.00"
    assert [w["code"] for w in data["warnings"]] == ["ANTICIPO_REQUERIDO"]
    with transaction(engine) as s:
        assert s.scalar(select(func.count(Credit.id))) == 0
