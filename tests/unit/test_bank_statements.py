"""Bank statement parsers: presets, generic CSV, per-row errors and fingerprints."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from cfdi_cobranza.bank.statements import (
    ColumnMapping,
    RowProblem,
    fingerprint,
    new_movements,
    parse_bank_amount,
    parse_bank_date,
    parse_banorte,
    parse_bbva,
    parse_csv,
    parse_santander,
    parse_statement,
    payer_hints,
)
from cfdi_cobranza.errors import ValidationError

DATA = Path(__file__).resolve().parent.parent / "data" / "bank"
D = Decimal


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_bbva_text_export() -> None:
    r = parse_bbva(read("bbva_movimientos.txt"))  # Windows-1252, CRLF
    assert r.banco == "BBVA" and r.cuenta == "0123456789"
    assert [(m.fecha, m.importe, m.moneda) for m in r.depositos] == [
        (date(2024, 3, 1), D("11600.00"), "MXN"),
        (date(2024, 3, 4), D("5000.00"), "MXN"),
        (date(2024, 3, 4), D("5000.00"), "MXN"),
    ]
    first = r.depositos[0]
    assert first.referencia == "F-1001"
    assert first.rfc_ordenante == "ACM010101AB1"
    assert r.cargos_omitidos == 2
    assert [(e.fila, e.code) for e in r.errores] == [(10, "FILA_INCOMPLETA"),
                                                   (11, "FECHA_INVALIDA")]
    assert r.errores[0].mensaje.startswith("Fila 10:")


def test_identical_same_day_rows_get_distinct_stable_fingerprints() -> None:
    r = parse_bbva(read("bbva_movimientos.txt"))
    twins = r.depositos[1:]
    assert [m.ocurrencia for m in twins] == [0, 1]
    assert twins[0].huella != twins[1].huella
    again = parse_bbva(read("bbva_movimientos.txt"))
    assert again.huellas == r.huellas
    fresh, repeated = new_movements(again, r.huellas)
    assert fresh == [] and len(repeated) == 3


def test_reimport_of_overlapping_statement_only_adds_new_rows() -> None:
    text = read("santander.csv").decode("utf-8")
    first = parse_santander(text)
    extra = text + '65501234567,13/03/2024,08:00,7890,ABONO TRANSF SPEI,+,"750.00",' \
                   '"28,199.75",555,NUEVO\n'
    second = parse_santander(extra)
    fresh, repeated = new_movements(second, first.huellas)
    assert [m.importe for m in fresh] == [D("750.00")]
    assert len(repeated) == len(first.depositos)


def test_banorte_csv_reads_payer_rfc_and_account_from_description() -> None:
    r = parse_banorte(read("banorte.csv"))
    assert r.banco == "BANORTE" and r.cuenta == "0456789012"
    assert [m.importe for m in r.depositos] == [D("23200.00"), D("1234.56"), D("4640.00")]
    spei = r.depositos[0]
    assert spei.rfc_ordenante == "XYZ020202CD2"
    assert spei.cuenta_ordenante == "012180004567890123"
    assert spei.referencia == "A1002"
    assert r.depositos[2].rfc_ordenante == "GOMJ800101AB3"
    assert r.cargos_omitidos == 1
    assert [(e.fila, e.code) for e in r.errores] == [(5, "IMPORTE_INVALIDO")]
    deposit = spei.to_deposit()
    assert deposit.id == spei.huella and deposit.rfc_ordenante == "XYZ020202CD2"


def test_santander_csv_signs_and_concepto() -> None:
    r = parse_santander(read("santander.csv"))
    assert r.banco == "SANTANDER"
    assert [(m.fecha, m.importe) for m in r.depositos] == [
        (date(2024, 3, 11), D("5800.00")), (date(2024, 3, 12), D("1000.00"))]
    assert "PAGO F 1003 ACME" in r.depositos[0].descripcion
    assert r.cargos_omitidos == 1
    assert [e.code for e in r.errores] == ["TIPO_MOVIMIENTO_INVALIDO"]


def test_generic_csv_with_mapping() -> None:
    mapping = ColumnMapping(fecha="fecha", descripcion="concepto", referencia="ref",
                            importe="importe", moneda="moneda", formato_fecha="iso")
    r = parse_csv(read("generico.csv"), mapping, banco="hsbc", cuenta="123")
    assert r.banco == "HSBC"
    assert [(m.importe, m.moneda, m.referencia) for m in r.depositos] == [
        (D("2500.00"), "USD", "INV-77"), (D("1160.00"), "USD", "INV-78")]
    assert r.cargos_omitidos == 1
    assert [e.code for e in r.errores] == ["MONEDA_DESCONOCIDA"]


def test_generic_csv_by_index_with_abono_cargo_and_no_header() -> None:
    text = "01/02/2024,DEP A,R1,,100.50\n02/02/2024,CARGO,R2,20.00,\n03/02/2024,MALO,R3,,\n"
    mapping = ColumnMapping(fecha=0, descripcion=1, referencia=2, cargo=3, abono=4,
                            encabezado=False, formato_fecha="dmy")
    r = parse_csv(text, mapping)
    assert [(m.fila, m.importe) for m in r.depositos] == [(1, D("100.50"))]
    assert r.cargos_omitidos == 1
    assert [(e.fila, e.code) for e in r.errores] == [(3, "IMPORTE_FALTANTE")]


def test_generic_csv_missing_column_is_reported_not_raised() -> None:
    r = parse_csv("fecha,importe\n2024-01-01,5.00\n", ColumnMapping(fecha="fecha", abono="abono"))
    assert r.depositos == () and r.errores[0].code == "COLUMNA_FALTANTE"


def test_generic_csv_decimal_comma() -> None:
    text = "fecha;importe\n05/01/2024;1.234,56\n"
    r = parse_csv(text, ColumnMapping(fecha="fecha", importe="importe", separador_decimal=","))
    assert r.depositos[0].importe == D("1234.56")


@pytest.mark.parametrize(
    ("text", "value"),
    [("1,234.56", D("1234.56")), ("$1,234.56", D("1234.56")), ("-1,234.56", D("-1234.56")),
     ("(1,234.56)", D("-1234.56")), ("1234.5", D("1234.5")), ("  ", None), ("12 MXN", D("12"))],
)
def test_amounts(text: str, value: Decimal | None) -> None:
    assert parse_bank_amount(text) == value


@pytest.mark.parametrize("text", ["1,23.45", "abc", "1.2.3", "12,34"])
def test_bad_amounts(text: str) -> None:
    with pytest.raises(RowProblem) as exc:
        parse_bank_amount(text)
    assert exc.value.code == "IMPORTE_INVALIDO"


@pytest.mark.parametrize(
    ("text", "fmt", "value"),
    [("05/03/2024", "auto", date(2024, 3, 5)), ("05-03-2024", "dmy", date(2024, 3, 5)),
     ("2024-03-05", "iso", date(2024, 3, 5)), ("05/03/24", "dmy", date(2024, 3, 5)),
     ("05/03/2024 10:31:00", "auto", date(2024, 3, 5)), ("05032024", "dmy", date(2024, 3, 5))],
)
def test_dates(text: str, fmt: str, value: date) -> None:
    assert parse_bank_date(text, fmt) == value


def test_bad_date() -> None:
    with pytest.raises(RowProblem) as exc:
        parse_bank_date("2024-13-01", "iso")
    assert exc.value.code == "FECHA_INVALIDA"


def test_fingerprint_normalises_spacing_and_case() -> None:
    a = fingerprint("BBVA", "0123456789", date(2024, 3, 1), D("10.5"), "ref 1", "SPEI  recibido", 0)
    b = fingerprint("bbva", "0123-456789", date(2024, 3, 1), D("10.50"), "REF 1", "spei recibido", 0)
    c = fingerprint("BBVA", "0123456789", date(2024, 3, 1), D("10.50"), "REF 1", "SPEI RECIBIDO", 1)
    assert a == b != c


def test_payer_hints() -> None:
    assert payer_hints("SPEI RFC ABC010101AB1 CTA 012180001234567891") == (
        "ABC010101AB1", "012180001234567891")
    assert payer_hints("DEPOSITO EFECTIVO") == (None, None)


def test_parse_statement_dispatch() -> None:
    assert parse_statement(read("banorte.csv"), "Banorte").banco == "BANORTE"
    with pytest.raises(ValidationError) as exc:
        parse_statement(b"", "hsbc")
    assert exc.value.code == "FORMATO_DESCONOCIDO"
    with pytest.raises(ValidationError) as exc2:
        parse_statement(b"", "generico")
    assert exc2.value.code == "MAPEO_REQUERIDO"


def test_bbva_without_header_is_one_error() -> None:
    r = parse_bbva("nada que ver\n")
    assert r.depositos == () and r.errores[0].code == "FORMATO_DESCONOCIDO"
