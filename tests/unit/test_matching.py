"""Deposit-to-invoice matching on crafted cases: scores, reasons, bounded subsets."""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal

from cfdi_cobranza.domain.matching import (
    PTS_CUENTA,
    PTS_MONTO_EXACTO,
    PTS_RFC,
    CustomerProfile,
    Deposit,
    Matcher,
    subset_sums_matching,
    suggest,
)
from cfdi_cobranza.domain.payments import OpenDocument, PaymentFunds, plan_application

D = Decimal


def doc(uuid: str, customer: str, saldo: str, *, serie: str = "A", folio: str = "1",
        moneda: str = "MXN", fecha: date = date(2024, 1, 10)) -> OpenDocument:
    return OpenDocument(uuid=uuid, serie=serie, folio=folio, customer=customer, moneda=moneda,
                        total=D(saldo), saldo=D(saldo), fecha=datetime.combine(fecha,
                                                                              datetime.min.time()),
                        vencimiento=None, metodo_pago="PPD")


ACME = CustomerProfile("ACME", "ACM010101AB1", "ACME INDUSTRIAL SA DE CV",
                       ("012180004567890123",),
                       ((date(2023, 10, 15), D("5000.00")), (date(2023, 11, 15), D("5000.00")),
                        (date(2023, 12, 16), D("5000.00"))))
BETA = CustomerProfile("BETA", "BET020202CD2", "BETA COMERCIAL SA DE CV", ("65501234567",))
GAMA = CustomerProfile("GAMA", "GAMJ800101AB3", "JUAN GARCIA MORA", ())

DOCS = [
    doc("11111111-AAAA-4000-8000-000000000001", "ACME", "11600.00", folio="1001",
        fecha=date(2024, 1, 5)),
    doc("22222222-AAAA-4000-8000-000000000002", "ACME", "5800.00", folio="1002",
        fecha=date(2024, 1, 20)),
    doc("33333333-AAAA-4000-8000-000000000003", "ACME", "2320.00", folio="1003",
        fecha=date(2024, 2, 1)),
    doc("44444444-BBBB-4000-8000-000000000004", "BETA", "5800.00", serie="F", folio="2001"),
    doc("55555555-BBBB-4000-8000-000000000005", "BETA", "9999.99", serie="F", folio="2002"),
    doc("66666666-CCCC-4000-8000-000000000006", "GAMA", "1160.00", moneda="USD",
        serie="B", folio="3001"),
]
RATES = {"USD": D("17.2345")}


def matcher() -> Matcher:
    return Matcher([ACME, BETA, GAMA], DOCS, tipos_cambio=RATES)


def dep(importe: str, descripcion: str = "", referencia: str = "", **kw: object) -> Deposit:
    return Deposit("X", date(2024, 3, 1), D(importe), str(kw.pop("moneda", "MXN")), descripcion,
                   referencia, **kw)  # type: ignore[arg-type]


def test_rfc_account_and_exact_amount_score_high() -> None:
    (best, *_rest) = matcher().suggest(dep(
        "11600.00", "SPEI RECIBIDO RFC ACM010101AB1 CTA 012180004567890123"))
    assert best.customer == "ACME"
    assert [a.doc.folio for a in best.aplicaciones] == ["1001"]
    assert best.codes[:3] == ("RFC_EN_DESCRIPCION", "CUENTA_CONOCIDA", "MONTO_EXACTO")
    assert best.score == PTS_RFC + 10 + PTS_MONTO_EXACTO
    assert best.score >= 80
    assert all(r.mensaje and r.mensaje[0].isupper() for r in best.razones)


def test_known_account_inside_a_clabe() -> None:
    # BETA's 11-digit account appears inside the CLABE of the SPEI line.
    best = matcher().suggest(dep("9999.99", "SPEI 014180655012345678 PAGO"))[0]
    assert best.customer == "BETA"
    assert best.codes == ("CUENTA_CONOCIDA", "MONTO_EXACTO")
    assert best.score == PTS_CUENTA + PTS_MONTO_EXACTO


def test_amount_alone_is_ambiguous_between_customers() -> None:
    ranked = matcher().suggest(dep("5800.00", "DEPOSITO EFECTIVO"))
    assert {s.customer for s in ranked[:2]} == {"ACME", "BETA"}
    for s in ranked[:2]:
        assert "AMBIGUO" in s.codes and s.score < 60


def test_folio_in_reference_breaks_the_tie() -> None:
    best = matcher().suggest(dep("5800.00", "DEPOSITO", "F-2001"))[0]
    assert best.customer == "BETA"
    assert best.codes[:2] == ("FOLIO_EN_REFERENCIA", "MONTO_EXACTO")
    assert best.aplicaciones[0].doc.folio == "2001"


def test_uuid_fragment_in_reference() -> None:
    best = matcher().suggest(dep("2320.00", "TRANSFERENCIA", "PAGO 33333333"))[0]
    assert best.customer == "ACME"
    assert "UUID_EN_REFERENCIA" in best.codes and "MONTO_EXACTO" in best.codes


def test_subset_sum_of_open_documents() -> None:
    best = matcher().suggest(dep("17400.00", "SPEI RFC ACM010101AB1"))[0]
    assert best.customer == "ACME"
    assert "SUMA_EXACTA_SUBCONJUNTO" in best.codes
    assert sorted(a.doc.folio or "" for a in best.aplicaciones) == ["1001", "1002"]
    assert best.remanente == 0


def test_partial_payment_of_referenced_invoice() -> None:
    best = matcher().suggest(dep("3000.00", "SPEI RFC ACM010101AB1", "A1002"))[0]
    assert best.customer == "ACME"
    assert [(a.doc.folio, a.importe) for a in best.aplicaciones] == [("1002", D("3000.00"))]
    assert "PAGO_PARCIAL" in best.codes and "FOLIO_EN_REFERENCIA" in best.codes
    assert 60 <= best.score < 100


def test_wrong_reference_loses_to_identity_and_amount() -> None:
    # The reference cites BETA's invoice, but ACME's RFC and the exact amount win.
    ranked = matcher().suggest(dep("2320.00", "SPEI RFC ACM010101AB1", "F2002"))
    assert ranked[0].customer == "ACME"
    assert ranked[0].aplicaciones[0].doc.folio == "1003"
    beta = next(s for s in ranked if s.customer == "BETA")
    assert beta.score < ranked[0].score


def test_usd_invoice_paid_in_pesos_is_plannable() -> None:
    best = matcher().suggest(dep("19990.00", "SPEI JUAN GARCIA MORA"))[0]
    assert best.customer == "GAMA"
    assert "MONTO_EQUIVALENTE" in best.codes and "NOMBRE_EN_DESCRIPCION" in best.codes
    (app,) = best.aplicaciones
    assert app.importe == D("1160.00") and app.equivalencia is not None
    # The suggestion feeds straight into the application planner without over-consuming.
    funds = PaymentFunds("GAMA", "MXN", D("19990.00"), D(1), datetime(2024, 3, 1))
    plan = plan_application(funds, [(app.doc, app.importe, app.equivalencia)])
    assert plan.consumido <= D("19990.00")
    assert plan.lines[0].imp_saldo_insoluto == 0


def test_habits_add_points() -> None:
    deposit = Deposit("X", date(2024, 3, 15), D("5000.00"), "MXN", "SPEI RFC ACM010101AB1", "")
    best = matcher().suggest(deposit)[0]
    assert best.customer == "ACME"
    assert {"MONTO_HABITUAL", "DIA_HABITUAL"} <= set(best.codes)
    assert "PAGO_PARCIAL" in best.codes  # 5,000 goes oldest-first into folio 1001


def test_nothing_to_match() -> None:
    assert matcher().suggest(dep("123.45", "INTERESES GANADOS")) == []
    assert matcher().suggest(dep("0.00")) == []


def test_amounts_in_text_are_not_folios() -> None:
    # "1,001.00" and a date must not read as folio 1001.
    ranked = matcher().suggest(dep("50.00", "PAGO 1,001.00 DEL 10/01/2024"))
    assert all("FOLIO_EN_REFERENCIA" not in s.codes for s in ranked)


def test_documents_issued_after_the_deposit_are_ignored() -> None:
    late = doc("77777777-AAAA-4000-8000-000000000007", "ACME", "777.77", folio="1010",
               fecha=date(2024, 4, 1))
    m = Matcher([ACME], [late], tipos_cambio=RATES)
    assert m.suggest(dep("777.77", "DEPOSITO")) == []


def test_helper_function_matches_matcher() -> None:
    d = dep("11600.00", "RFC ACM010101AB1")
    assert suggest(d, [ACME, BETA, GAMA], DOCS)[0].customer == "ACME"


def test_subset_sum_bounded_and_fast() -> None:
    amounts = [100 * (i + 1) + i for i in range(20)]
    target = amounts[0] + amounts[7] + amounts[19]
    found = subset_sums_matching(amounts, target, limit=10_000)
    assert (0, 7, 19) in found
    assert all(sum(amounts[i] for i in idx) == target for idx in found)
    assert len(subset_sums_matching(amounts, target)) == 8  # capped
    assert subset_sums_matching([5, 7], 5) == []  # single items are MONTO_EXACTO, not subsets
    many = [doc(f"{i:08X}-0000-4000-8000-000000000000", "ACME", f"{1000 + i * 37}.{i:02d}",
                folio=str(5000 + i), fecha=date(2024, 1, 1)) for i in range(40)]
    m = Matcher([ACME], many)
    total = sum((d.saldo for d in many[:3]), D(0))
    started = time.perf_counter()
    best = m.suggest(dep(str(total), "RFC ACM010101AB1"))[0]
    assert time.perf_counter() - started < 1.0  # generous; the bench measures ~1 ms
    assert "SUMA_EXACTA_SUBCONJUNTO" in best.codes


def test_assign_never_settles_a_balance_twice() -> None:
    from cfdi_cobranza.domain.matching import assign

    m = matcher()
    a = Deposit("D1", date(2024, 3, 1), D("11600.00"), "MXN",
                "RFC ACM010101AB1 CTA 012180004567890123", "")
    b = Deposit("D2", date(2024, 3, 2), D("11600.00"), "MXN", "RFC ACM010101AB1", "")
    ranked = {"D1": m.suggest(a), "D2": m.suggest(b)}
    assert ranked["D1"][0].pairs == ranked["D2"][0].pairs  # both want folio 1001
    chosen = assign(ranked, min_score=0)
    assert chosen["D1"].aplicaciones[0].doc.folio == "1001"  # higher score wins
    assert "D2" not in chosen or chosen["D2"].aplicaciones[0].doc.folio != "1001"
    assert assign(ranked, min_score=101) == {}


def test_rfc_in_text_needs_a_real_date_as_in_payer_hints() -> None:
    # One finder (domain.rfc.find_in_text) for the matcher and the statement hints: an
    # RFC-shaped token dated 30 February is no RFC for either.
    from cfdi_cobranza.bank.statements import payer_hints
    from cfdi_cobranza.domain.rfc import find_in_text

    odd = CustomerProfile("ODD", "ABC010230XY1", "ODD SA", ())
    odd_doc = doc("77777777-DDDD-4000-8000-000000000007", "ODD", "11600.00", serie="Z", folio="7")
    m = Matcher([odd, ACME], [*DOCS, odd_doc], tipos_cambio=RATES)
    text = "SPEI DE ABC010230XY1 RFC ACM010101AB1"
    assert find_in_text(text) == ["ACM010101AB1"]
    assert payer_hints(text)[0] == "ACM010101AB1"
    suggestions = m.suggest(dep("11600.00", "SPEI DE ABC010230XY1"))
    assert "ODD" in {s.customer for s in suggestions}
    assert all("RFC_EN_DESCRIPCION" not in s.codes for s in suggestions)
