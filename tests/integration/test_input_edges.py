"""Extreme values at the edges (issue 14): dates far in the future, odd exchange rates and
terms, unwritable output paths, text with NUL bytes. Each is refused with its own Spanish
message and code, and a date stored before this check existed crashes no report."""

from __future__ import annotations

import itertools
import json
import uuid as uuidlib
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from cfdi_cobranza.bank.statements import RowProblem, parse_bank_date
from cfdi_cobranza.cfdi.factory import CfdiFactory, Line
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.cli.main import main
from cfdi_cobranza.db.models import Payment
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.payments import ReceiptInput
from cfdi_cobranza.services import payments as pay
from cfdi_cobranza.services import stamping
from cfdi_cobranza.services.importing import Importer

CUSTOMER = "URE180429TM6"


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    counter = itertools.count(1)
    return CfdiFactory(tmp_path_factory.mktemp("sb"), uuid_source=lambda: uuidlib.UUID(int=next(counter) + 0x14ED0000),
                       clock=lambda: datetime(2026, 10, 1, 12, 0))


@pytest.fixture
def ledger(engine, settings, factory, clock):
    """One MXN and one USD PPD invoice of URE180429TM6."""
    docs = {
        "MXN": factory.invoice([Line(Decimal("1000.00"))], folio="1", fecha=datetime(2026, 9, 1, 10, 0)),
        "USD": factory.invoice([Line(Decimal("100.00"))], folio="2", moneda="USD", tipo_cambio=Decimal("17.2345"),
                               fecha=datetime(2026, 9, 2, 10, 0)),
    }
    res = Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir]).import_candidates(
        Candidate(k, d.xml) for k, d in docs.items())
    assert res.ok, res.to_dict()
    return {k: d.uuid for k, d in docs.items()}


@pytest.fixture
def db(engine, tmp_path, monkeypatch):
    """``--db URL`` of the test database for the CLI."""
    monkeypatch.setenv("COBRANZA_INSTANCE", str(tmp_path / "instance"))
    return ["--db", engine.url.render_as_string(hide_password=False)]


def run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys, argv):
    code, out, _err = run(capsys, [*argv, "--json"])
    return code, json.loads(out)


def payment(engine, amount="500.00", currency="MXN", rate=None, *, when=datetime(2026, 10, 10, 12, 0)):
    with transaction(engine) as s:
        st = pay.register_settlement(s, [ReceiptInput(CUSTOMER, "", when, "03", currency, amount, rate)], actor="t")
        return st.payments[0].id


# --------------------------------------------------------------------------- dates


def test_cli_refuses_a_payment_dated_9999(engine, ledger, db, capsys):
    code, data = run_json(capsys, [*db, "payment", "add", "--customer", CUSTOMER, "--date", "9999-12-31",
                                   "--amount", "100.00", "--form", "03"])
    assert code == 1 and data["error"]["code"] == "FECHA_FUERA_DE_RANGO", data
    assert "31/12/2999" in data["error"]["message"]
    with transaction(engine) as s:
        assert s.scalar(select(Payment.id)) is None


@pytest.mark.parametrize("text", ["31/12/9999", "9999-12-31", "01/01/1800"])
def test_bank_row_dated_outside_the_window_is_refused(text):
    with pytest.raises(RowProblem) as info:
        parse_bank_date(text)
    assert info.value.code == "FECHA_FUERA_DE_RANGO"


def test_service_refuses_the_date_for_every_entry_point(engine, ledger):
    from cfdi_cobranza.errors import ValidationError

    with pytest.raises(ValidationError) as info:
        payment(engine, when=datetime(9999, 12, 31, 12, 0))
    assert info.value.code == "FECHA_FUERA_DE_RANGO"


def test_a_stored_payment_of_9999_breaks_no_rep_question(engine, ledger, db, capsys):
    """A payment saved with 9999-12-31 before the check existed: the REP deadline
    (5th of the next month) has no year 10000; the pending list must still answer."""
    pid = payment(engine)
    with transaction(engine) as s:
        pay.apply_oldest_first(s, pid, actor="t")
        s.execute(update(Payment).where(Payment.id == pid).values(fecha_pago=datetime(9999, 12, 31, 12, 0)))
    with transaction(engine) as s:
        rows = stamping.pending(s, today=date(2026, 11, 20))
    assert [r.deadline for r in rows] == [date.max]
    code, data = run_json(capsys, [*db, "rep", "pending", "--as-of", "2026-11-20"])
    assert code == 0 and data["pending"][0]["deadline"] == "9999-12-31"
    code, data = run_json(capsys, [*db, "report", "aging", "--as-of", "2026-11-20"])
    assert code == 0, data


def test_date_arithmetic_holds_at_the_calendar_edges():
    from cfdi_cobranza.domain.period import Granularity, add_days, day_of_next_month, period_of
    from cfdi_cobranza.domain.terms import due_date

    assert stamping.deadline_for(date(9999, 12, 31)) == date.max
    assert stamping.deadline_for(date(2026, 12, 10)) == date(2027, 1, 5)
    assert day_of_next_month(date(2026, 1, 31), 5) == date(2026, 2, 5)
    assert add_days(date(9999, 12, 1), 90) == date.max and add_days(date(1, 1, 5), -30) == date.min
    assert due_date(date(9999, 12, 1), None, 10**6, 30) == date.max
    assert period_of(date(9999, 12, 31), Granularity.MES).fin == date(9999, 12, 31)
    assert period_of(date(9999, 12, 31), Granularity.SEMANA).fin == date.max


# --------------------------------------------------------------------------- rates, terms, output paths


@pytest.mark.parametrize("rate", ["USD=NaN", "USD=Infinity", "USD=1e-30", "USD=sNaN", "USD=0", "USD=1E+999999"])
def test_payment_apply_rate_validated_like_report(engine, ledger, db, capsys, rate):
    pid = payment(engine)
    code, data = run_json(capsys, [*db, "payment", "apply", str(pid), "--invoice", f"{ledger['USD']}=10.00",
                                   "--rate", rate])
    assert code == 1 and data["error"]["code"] == "TIPO_CAMBIO_INVALIDO", data
    code, data = run_json(capsys, [*db, "report", "aging", "--rate", rate])
    assert code == 1 and data["error"]["code"] == "TIPO_CAMBIO_INVALIDO", data


@pytest.mark.parametrize("rate", ["NaN", "Infinity", "1e-30", "-1", "0"])
def test_payment_add_rate_is_refused(engine, ledger, db, capsys, rate):
    code, data = run_json(capsys, [*db, "payment", "add", "--customer", CUSTOMER, "--date", "2026-11-10",
                                   "--amount", "10.00", "--form", "03", "--currency", "USD", "--rate", rate])
    assert code == 1 and data["error"]["code"] == "TIPO_CAMBIO_INVALIDO", data


@pytest.mark.parametrize("term", ["99999999999999999999", "-1", "100000"])
def test_customer_term_out_of_range(engine, ledger, db, capsys, term):
    code, _out, err = run(capsys, [*db, "customer", "set", CUSTOMER, "--term", term])
    assert code == 1 and "PLAZO_INVALIDO" in err and "Traceback" not in err, err
    code, data = run_json(capsys, [*db, "customer", "show", CUSTOMER])
    assert code == 0 and 0 <= data["condiciones"]["plazo_maximo_dias"] <= 3650, data


def test_report_to_an_unwritable_path_is_a_user_error(engine, ledger, db, capsys, tmp_path):
    for target in ("/proc/self/mem", str(tmp_path / "no-such-dir" / "aging.csv")):
        code, data = run_json(capsys, [*db, "report", "aging", "--format", "csv", "--out", target])
        assert code == 1 and data["error"]["code"] == "SALIDA_NO_ESCRIBIBLE", data
        assert "No se pudo escribir" in data["error"]["message"]


# --------------------------------------------------------------------------- bank rows


def test_bank_rows_with_nul_or_a_far_date_are_refused_one_by_one():
    from pathlib import Path

    from cfdi_cobranza.bank.statements import parse_statement

    data = (Path(__file__).resolve().parents[1] / "data" / "bank" / "banorte.csv").read_bytes()
    lines = data.split(b"\n")
    lines[1] = lines[1].replace(b"SPEI RECIBIDO DE", b"SPEI\x00RECIBIDO DE")
    lines[3] = lines[3].replace(b"07/03/2024", b"31/12/9999")
    result = parse_statement(b"\n".join(lines), "banorte")
    codes = {e.fila: e.code for e in result.errores}
    assert sorted(codes.values()) == ["CARACTER_NULO", "FECHA_FUERA_DE_RANGO", "IMPORTE_INVALIDO"], codes
    assert all("\x00" not in m.descripcion for m in result.depositos)


def test_an_id_too_big_for_the_database_is_bad_input(engine, ledger, db, capsys):
    code, data = run_json(capsys, [*db, "payment", "apply", "99999999999999999999", "--oldest-first"])
    assert code == 1 and data["error"]["code"] == "VALOR_FUERA_DE_RANGO", data
