"""Receipts validation and application planning (pure domain)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from cfdi_cobranza.domain.findings import Severity
from cfdi_cobranza.domain.payments import (
    ApplicationRequest,
    OpenDocument,
    PaymentFunds,
    ReceiptInput,
    compute_equivalence,
    consumption_in_payment_currency,
    plan_application,
    plan_oldest_first,
    receipt_findings,
    validate_receipt,
    validate_settlement,
)
from cfdi_cobranza.domain.rfc import is_valid as is_valid_rfc
from cfdi_cobranza.errors import ConflictError, ValidationError

D = Decimal


def receipt(**kw: object) -> ReceiptInput:
    base: dict[str, object] = {
        "customer": "C1", "company": "E1", "fecha_pago": datetime(2024, 3, 10, 11, 30),
        "forma_pago": "03", "moneda": "MXN", "monto": "1000.00",
    }
    base.update(kw)
    return ReceiptInput(**base)  # type: ignore[arg-type]


def doc(uuid: str = "AAAAAAAA-0000-0000-0000-000000000001", *, customer: str = "C1",
        moneda: str = "MXN", total: str = "11600.00", saldo: str | None = None,
        fecha: datetime = datetime(2024, 1, 15), vencimiento: date | None = None,
        metodo: str = "PPD", previas: int = 0, folio: str = "1", cancelado: bool = False
        ) -> OpenDocument:
    return OpenDocument(uuid=uuid, serie="A", folio=folio, customer=customer, moneda=moneda,
                        total=D(total), saldo=D(saldo or total), fecha=fecha,
                        vencimiento=vencimiento, metodo_pago=metodo,
                        num_parcialidades_previas=previas, cancelado=cancelado)


def funds(monto: str, moneda: str = "MXN", tc: str = "1", consumido: str = "0",
          fecha: datetime = datetime(2024, 1, 20)) -> PaymentFunds:
    return PaymentFunds("C1", moneda, D(monto), D(tc), fecha, D(consumido))


def code_of(exc: pytest.ExceptionInfo[BaseException]) -> str:
    return str(getattr(exc.value, "code", ""))


# ------------------------------------------------------------------ receipts


def test_valid_receipt_is_normalised() -> None:
    r = validate_receipt(receipt(monto="1000.00", cta_ordenante="0121 8000 "
                                 "4567 8901 23", rfc_emisor_cta_ord="bbv-830831-lj2",
                                 num_operacion=" 123 "))
    assert r.monto == D("1000.00") and r.tipo_cambio == D(1)
    assert r.cta_ordenante == "012180004567890123"
    assert r.rfc_emisor_cta_ord == "BBV830831LJ2"
    assert r.num_operacion == "123"
    assert r.fecha_pago == datetime(2024, 3, 10, 11, 30)


def test_date_only_gets_noon() -> None:
    r = validate_receipt(receipt(fecha_pago=date(2024, 3, 10)))
    assert r.fecha_pago == datetime(2024, 3, 10, 12, 0, 0)


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"monto": "0"}, "MONTO_INVALIDO"),
        ({"monto": "-5.00"}, "MONTO_INVALIDO"),
        ({"monto": "abc"}, "MONTO_INVALIDO"),
        ({"monto": "10.001"}, "DECIMALES_EXCEDIDOS"),
        ({"moneda": "JPY", "monto": "100.5", "tipo_cambio": "0.12"}, "DECIMALES_EXCEDIDOS"),
        ({"moneda": "ZZZ"}, "MONEDA_DESCONOCIDA"),
        ({"moneda": "XXX"}, "MONEDA_DESCONOCIDA"),
        ({"forma_pago": "42"}, "FORMA_PAGO_INVALIDA"),
        ({"forma_pago": "98"}, "FORMA_PAGO_INVALIDA"),
        ({"forma_pago": "99"}, "FORMA_PAGO_99"),
        ({"moneda": "USD"}, "TIPO_CAMBIO_REQUERIDO"),
        ({"moneda": "USD", "tipo_cambio": "0"}, "TIPO_CAMBIO_INVALIDO"),
        ({"moneda": "USD", "tipo_cambio": "17.1234567"}, "DECIMALES_EXCEDIDOS"),
        ({"tipo_cambio": "17.00"}, "TIPO_CAMBIO_INVALIDO"),
        ({"cta_ordenante": "12345"}, "CUENTA_INVALIDA"),
        ({"cta_beneficiario": "ABC"}, "CUENTA_INVALIDA"),
        ({"forma_pago": "04", "cta_ordenante": "0123456789"}, "CUENTA_INVALIDA"),
        ({"forma_pago": "01", "cta_ordenante": "0123456789"}, "CAMPO_NO_PERMITIDO"),
        ({"forma_pago": "01", "rfc_emisor_cta_ord": "BBV830831LJ2"}, "CAMPO_NO_PERMITIDO"),
        ({"forma_pago": "06", "cta_beneficiario": "0123456789"}, "CAMPO_NO_PERMITIDO"),
        ({"forma_pago": "05", "nom_banco_ord_ext": "BANK OF X"}, "CAMPO_NO_PERMITIDO"),
        ({"rfc_emisor_cta_ord": "BBV83083"}, "RFC_INVALIDO"),
        ({"rfc_emisor_cta_ben": "BBV831331LJ2"}, "RFC_INVALIDO"),
        ({"rfc_emisor_cta_ord": "XEXX010101000"}, "CAMPO_REQUERIDO"),
        ({"customer": " "}, "CAMPO_REQUERIDO"),
    ],
)
def test_receipt_refusals(kw: dict[str, object], code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_receipt(receipt(**kw))
    assert exc.value.code == code
    assert exc.value.message  # Spanish text for the user


def test_account_patterns_per_form_accepted() -> None:
    # 03 transfer: CLABE 18 digits; 04 credit card: 16 digits; 02 cheque: 11 digits.
    assert validate_receipt(receipt(cta_ordenante="012180004567890123",
                                    cta_beneficiario="0123456789")).cta_beneficiario
    assert validate_receipt(receipt(forma_pago="04", cta_ordenante="4152313412345678"))
    assert validate_receipt(receipt(forma_pago="02", cta_ordenante="01234567890"))
    assert validate_receipt(receipt(rfc_emisor_cta_ord="XEXX010101000",
                                    nom_banco_ord_ext="BANK OF AMERICA"))


@pytest.mark.parametrize("forma", ["05", "06"])
@pytest.mark.parametrize("banco", [None, "BANK OF X"])
def test_foreign_bank_refused_once_where_the_form_forbids_its_name(forma: str, banco: str | None) -> None:
    # CRP20223 wants NomBancoOrdExt with XEXX010101000; c_FormaPago forbids it for 05 and
    # 06: one finding refusing the foreign bank, never "missing" and then "not allowed".
    _r, findings = receipt_findings(receipt(forma_pago=forma, rfc_emisor_cta_ord="XEXX010101000",
                                            nom_banco_ord_ext=banco))
    assert [(f.code, f.location) for f in findings] == [
        ("BANCO_EXTRANJERO_NO_PERMITIDO", "rfc_emisor_cta_ord")]
    assert f"forma de pago {forma}" in findings[0].message
    assert "no se admite un banco ordenante extranjero" in findings[0].message


def test_a_form_without_bank_fields_never_asks_for_the_foreign_bank() -> None:
    _r, findings = receipt_findings(receipt(forma_pago="01", rfc_emisor_cta_ord="XEXX010101000"))
    assert [(f.code, f.location) for f in findings] == [("CAMPO_NO_PERMITIDO", "rfc_emisor_cta_ord")]


def test_bank_findings_in_document_order_within_each_kind() -> None:
    _r, findings = receipt_findings(receipt(forma_pago="01", nom_banco_ord_ext="X",
                                            cta_ordenante="12345678901",
                                            cta_beneficiario="0123456789"))
    assert [f.location for f in findings] == ["nom_banco_ord_ext", "cta_ordenante", "cta_beneficiario"]
    with pytest.raises(ValidationError) as exc:
        validate_receipt(receipt(forma_pago="01", nom_banco_ord_ext="X", cta_ordenante="12345678901"))
    assert exc.value.details["campo"] == "nom_banco_ord_ext"
    _r, findings = receipt_findings(receipt(cta_ordenante="123", rfc_emisor_cta_ord="XEXX010101000",
                                            rfc_emisor_cta_ben="BBV831331LJ2", cta_beneficiario="1"))
    assert [(f.code, f.location) for f in findings] == [
        ("RFC_INVALIDO", "rfc_emisor_cta_ben"), ("CUENTA_INVALIDA", "cta_ordenante"),
        ("CUENTA_INVALIDA", "cta_beneficiario"), ("CAMPO_REQUERIDO", "nom_banco_ord_ext")]


def test_all_findings_are_collected() -> None:
    r, findings = receipt_findings(receipt(monto="0", forma_pago="99", moneda="ZZZ"))
    assert r is None
    assert {f.code for f in findings} >= {"MONTO_INVALIDO", "FORMA_PAGO_99", "MONEDA_DESCONOCIDA"}
    with pytest.raises(ValidationError) as exc:
        validate_receipt(receipt(monto="0", forma_pago="99"))
    assert "FORMA_PAGO_99" in exc.value.details["errores"]


def test_foreign_receipt_keeps_rate_and_mxn_value() -> None:
    r = validate_receipt(receipt(moneda="USD", monto="1160.00", tipo_cambio="17.2345"))
    assert r.tipo_cambio == D("17.2345")
    assert r.monto_mxn == D("19992.02")


@pytest.mark.parametrize(
    ("rfc", "ok"),
    [("ABC010101AB1", True), ("GOMJ800101AB3", True), ("XAXX010101000", True),
     ("XEXX010101000", True), ("ABC0101011AB", False), ("GOMJ801301AB3", False),
     ("ABCD01010", False)],
)
def test_rfc_pattern(rfc: str, ok: bool) -> None:
    assert is_valid_rfc(rfc) is ok


def test_settlement_combines_forms_and_refuses_mixed_customers() -> None:
    s = validate_settlement([receipt(forma_pago="01", monto="500.00"),
                             receipt(forma_pago="03", monto="1500.00"),
                             receipt(forma_pago="04", moneda="USD", monto="10.00",
                                     tipo_cambio="17.00")])
    assert len(s.receipts) == 3
    assert s.total_mxn == D("2170.00")
    with pytest.raises(ValidationError) as exc:
        validate_settlement([receipt(), receipt(customer="C2")])
    assert exc.value.code == "LIQUIDACION_MIXTA"
    with pytest.raises(ValidationError):
        validate_settlement([])


# ------------------------------------------------------------------ equivalence


def test_equivalence_examples() -> None:
    # USD invoice paid in MXN at 17.2345 (pagos20-rules §8b).
    assert compute_equivalence("USD", "MXN", D("17.2345"), D(1)) == D("0.0580231512")
    assert compute_equivalence("MXN", "USD", None, D("17.2345")) == D("17.2345000000")
    assert compute_equivalence("USD", "USD", None, None) == D(1)
    # EUR invoice paid in USD: EUR per USD = 17.20 / 18.90.
    assert compute_equivalence("EUR", "USD", D("18.90"), D("17.20")) == D("0.9100529101")
    with pytest.raises(ConflictError) as exc:
        compute_equivalence("EUR", "MXN", None, D(1))
    assert exc.value.code == "MONEDA_SIN_EQUIVALENCIA"


# ------------------------------------------------------------------ application


def test_three_instalments() -> None:
    d = doc(total="11600.00")
    expected = [("5000.00", "11600.00", "6600.00"), ("4000.00", "6600.00", "2600.00"),
                ("2600.00", "2600.00", "0.00")]
    for i, (paid, ant, insoluto) in enumerate(expected, start=1):
        plan = plan_application(funds(paid), [(d, paid, None)])
        (line,) = plan.lines
        assert line.num_parcialidad == i
        assert line.imp_saldo_ant == D(ant)
        assert line.imp_pagado == D(paid)
        assert line.imp_saldo_insoluto == D(insoluto)
        assert line.importe_moneda_pago == D(paid)
        assert line.equivalencia_dr == D(1)
        assert line.requiere_rep
        d = d.after(line)
    assert d.saldo == 0 and d.num_parcialidades_previas == 3


def test_counts_payments_from_other_systems() -> None:
    d = doc(total="4640.00", saldo="2600.00", previas=1)
    (line,) = plan_application(funds("2600.00"), [(d, "2600.00", None)]).lines
    assert line.num_parcialidad == 2 and line.imp_saldo_ant == D("2600.00")


def test_one_payment_many_invoices() -> None:
    a = doc("A", total="11600.00", folio="1")
    b = doc("B", total="5800.00", folio="2")
    c = doc("C", total="4640.00", saldo="2600.00", previas=1, folio="3")
    plan = plan_application(funds("20000.00"), [ApplicationRequest(a, "11600.00"),
                                                 ApplicationRequest(b, "5800.00"),
                                                 ApplicationRequest(c, "2600.00")])
    assert [x.num_parcialidad for x in plan.lines] == [1, 1, 2]
    assert plan.consumido == D("20000.00") and plan.remanente == 0
    assert all(x.imp_saldo_insoluto == 0 for x in plan.lines)


def test_usd_invoice_paid_in_mxn() -> None:
    d = doc(moneda="USD", total="1160.00")
    plan = plan_application(funds("19992.02"), [(d, "1160.00", None)],
                            tipos_cambio={"USD": D("17.2345")})
    (line,) = plan.lines
    assert line.equivalencia_dr == D("0.0580231512")
    assert line.imp_pagado == D("1160.00") and line.imp_saldo_insoluto == 0
    # Half-up consumption, not ceiling: the exact 19992.02 payment covers it.
    assert line.importe_moneda_pago == D("19992.02")
    assert plan.remanente == 0


def test_usd_invoice_without_rate_refused() -> None:
    d = doc(moneda="USD", total="1160.00")
    with pytest.raises(ConflictError) as exc:
        plan_application(funds("19992.02"), [(d, "1160.00", None)])
    assert exc.value.code == "MONEDA_SIN_EQUIVALENCIA"


def test_mxn_invoice_paid_in_usd_never_short_by_a_cent() -> None:
    d = doc(total="1000.00")
    # 58.02 USD x 17.2345 = 999.95 MXN: not enough for 1000.00; the SAT's lower limit
    # (CRP20276) needs 58.03, so the planner consumes 58.03 and refuses 58.02.
    assert consumption_in_payment_currency(D("1000.00"), "MXN", D("17.2345"), "USD") == D("58.03")
    with pytest.raises(ConflictError) as exc:
        plan_application(funds("58.02", "USD", "17.2345"), [(d, "1000.00", None)])
    assert exc.value.code == "EXCEDE_PAGO"
    plan = plan_application(funds("58.03", "USD", "17.2345"), [(d, "1000.00", None)])
    assert plan.lines[0].equivalencia_dr == D("17.2345000000")
    assert plan.lines[0].importe_moneda_pago == D("58.03") and plan.remanente == 0


def test_equivalence_override() -> None:
    d = doc(total="1000.00")
    # The bank converted 58.02 USD into exactly 1000.00 MXN: 1000 / 58.02 per USD.
    plan = plan_application(funds("58.02", "USD", "17.2345"),
                            [(d, "1000.00", "17.2354360565")])
    assert plan.lines[0].equivalencia_dr == D("17.2354360565")
    assert plan.lines[0].importe_moneda_pago == D("58.02")
    with pytest.raises(ValidationError) as exc:
        plan_application(funds("1000.00"), [(d, "1000.00", "1.5")])
    assert exc.value.code == "EQUIVALENCIA_INVALIDA"
    with pytest.raises(ValidationError) as exc:
        plan_application(funds("58.02", "USD", "17.2345"), [(d, "1000.00", "-2")])
    assert exc.value.code == "EQUIVALENCIA_INVALIDA"


def test_consumption_sum_never_exceeds_payment_for_many_lines() -> None:
    # Nine MXN invoices paid from one USD payment: each line respects the SAT lower limit.
    docs = [doc(f"D{i}", total=f"{100 + i}.33", folio=str(i)) for i in range(9)]
    eq = D("17.2345")
    total = sum(consumption_in_payment_currency(x.saldo, "MXN", eq, "USD") for x in docs)
    plan = plan_application(funds(str(total), "USD", "17.2345"),
                            [(x, str(x.saldo), None) for x in docs])
    assert plan.consumido == total and plan.remanente == 0
    lower = sum((x.saldo - D("0.005")) / (eq + D("0.00000000005")) for x in docs)
    assert total >= lower


@pytest.mark.parametrize(
    ("factory", "amount", "code", "exc_type"),
    [
        (lambda: doc(), "11600.01", "EXCEDE_SALDO", ConflictError),
        (lambda: doc(customer="C2"), "10.00", "DOCUMENTO_OTRO_CLIENTE", ConflictError),
        (lambda: doc(cancelado=True), "10.00", "DOCUMENTO_CANCELADO", ConflictError),
        (lambda: doc(saldo="0.00"), "10.00", "DOCUMENTO_SIN_SALDO", ConflictError),
        (lambda: doc(previas=999), "10.00", "PARCIALIDAD_EXCEDIDA", ConflictError),
        (lambda: doc(), "0", "MONTO_INVALIDO", ValidationError),
        (lambda: doc(), "-1.00", "MONTO_INVALIDO", ValidationError),
        (lambda: doc(), "1.005", "DECIMALES_EXCEDIDOS", ValidationError),
        (lambda: doc(), "x", "MONTO_INVALIDO", ValidationError),
    ],
)
def test_application_refusals(factory: object, amount: str, code: str, exc_type: type) -> None:
    d = factory()  # type: ignore[operator]
    with pytest.raises(exc_type) as exc:
        plan_application(funds("20000.00"), [(d, amount, None)])
    assert code_of(exc) == code


def test_over_application_is_all_or_nothing() -> None:
    a, b = doc("A", total="600.00"), doc("B", total="600.00", folio="2")
    with pytest.raises(ConflictError) as exc:
        plan_application(funds("1000.00"), [(a, "600.00", None), (b, "600.00", None)])
    assert exc.value.code == "EXCEDE_PAGO"
    # Earlier consumption of the same payment counts.
    with pytest.raises(ConflictError):
        plan_application(funds("1000.00", consumido="500.00"), [(a, "600.00", None)])
    with pytest.raises(ValidationError) as dup:
        plan_application(funds("1000.00"), [(a, "100.00", None), (a, "100.00", None)])
    assert dup.value.code == "DOCUMENTO_DUPLICADO"
    with pytest.raises(ValidationError):
        plan_application(funds("1000.00"), [])


def test_oldest_first_and_saldo_a_favor() -> None:
    newest = doc("N", total="300.00", fecha=datetime(2024, 3, 1), vencimiento=date(2024, 3, 31),
                 folio="3")
    oldest = doc("O", total="500.00", fecha=datetime(2024, 1, 1), vencimiento=date(2024, 1, 31),
                 folio="1")
    middle = doc("M", total="400.00", fecha=datetime(2024, 2, 1), vencimiento=date(2024, 2, 29),
                 folio="2")
    other = doc("X", total="50.00", customer="C2", fecha=datetime(2023, 1, 1))
    plan = plan_oldest_first(funds("700.00", fecha=datetime(2024, 4, 1)),
                             [newest, other, middle, oldest])
    assert [(x.uuid, x.imp_pagado, x.imp_saldo_insoluto) for x in plan.lines] == [
        ("O", D("500.00"), D("0.00")), ("M", D("200.00"), D("200.00"))]
    assert plan.remanente == 0
    plan = plan_oldest_first(funds("1500.00", fecha=datetime(2024, 4, 1)),
                             [newest, middle, oldest])
    assert plan.consumido == D("1200.00") and plan.remanente == D("300.00")


def test_oldest_first_mixed_currency_and_missing_rate() -> None:
    usd = doc("U", moneda="USD", total="100.00", fecha=datetime(2024, 1, 1))
    eur = doc("E", moneda="EUR", total="100.00", fecha=datetime(2024, 1, 2), folio="2")
    mxn = doc("M", total="5000.00", fecha=datetime(2024, 1, 3), folio="3")
    plan = plan_oldest_first(funds("2000.00"), [mxn, eur, usd], tipos_cambio={"USD": D("17.00")})
    assert [x.uuid for x in plan.lines] == ["U", "M"]
    assert plan.lines[0].importe_moneda_pago == D("1700.00")
    assert plan.lines[1].imp_pagado == D("300.00")
    assert plan.remanente == 0
    assert any(a.code == "MONEDA_SIN_EQUIVALENCIA" for a in plan.avisos)
    # Partial foreign: what is left pays as much of the USD invoice as fits.
    plan = plan_oldest_first(funds("1000.00"), [usd], tipos_cambio={"USD": D("17.2345")})
    (line,) = plan.lines
    assert line.importe_moneda_pago <= D("1000.00")
    assert line.imp_pagado == D("58.02")


def test_pue_flags() -> None:
    same_month = doc(metodo="PUE", fecha=datetime(2024, 1, 5))
    plan = plan_application(funds("100.00", fecha=datetime(2024, 1, 30)),
                            [(same_month, "100.00", None)])
    assert not plan.requiere_rep
    assert [a.code for a in plan.avisos] == ["PUE_NO_REQUIERE_REP"]
    late = plan_application(funds("100.00", fecha=datetime(2024, 2, 1)),
                            [(same_month, "100.00", None)])
    assert {a.code for a in late.avisos} == {"PUE_NO_REQUIERE_REP", "PUE_PAGO_TARDIO"}
    assert all(a.severity is Severity.WARNING for a in late.avisos)
    ppd = plan_application(funds("100.00"), [(doc(), "100.00", None)])
    assert ppd.requiere_rep and ppd.avisos == ()
