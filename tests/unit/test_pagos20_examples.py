"""The six worked examples (a-f) of the Pagos 2.0 rules, reproduced to the cent."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

import pytest

from cfdi_cobranza.domain import pagos20 as p
from cfdi_cobranza.errors import ConflictError

FECHA = datetime(2026, 3, 10, 12, 0, 0)


def iva16(base: str, importe: str) -> p.InvoiceTax:
    return p.InvoiceTax("traslado", p.IVA, p.TASA, D("0.160000"), D(base), D(importe))


def invoice(uuid: str, total: str, *taxes: p.InvoiceTax, moneda: str = "MXN") -> p.Invoice:
    return p.Invoice(
        uuid=uuid,
        moneda=moneda,
        total=D(total),
        taxes=taxes,
        objeto_imp="02" if taxes else "01",
        folio=uuid[:4],
    )


def pay(monto: str, moneda: str = "MXN", tc: str | None = None) -> p.PaymentInput:
    return p.PaymentInput(
        fecha_pago=FECHA,
        forma_de_pago_p="03",
        moneda_p=moneda,
        monto=D(monto),
        tipo_cambio_p=None if tc is None else D(tc),
    )


def single(pago_input: p.PaymentInput, *apps: p.Application, rates=None) -> p.Complemento:
    return p.build_complement([p.PaymentGroup(pago_input, apps, rates)])


UUID_A = "5BD612EA-DB91-441D-BF85-37F442796EC1"
UUID_B = "6CE723FB-EC02-452E-8A96-48A553807FD2"
UUID_C = "7DF834AC-FD13-463F-9B07-59B664918AE3"


def test_example_a_three_instalments_mxn() -> None:
    inv = invoice(UUID_A, "11600.00", iva16("10000.00", "1600.00"))
    expected = [
        ("11600.00", "5000.00", "6600.00", "4310.34", "689.66"),
        ("6600.00", "4000.00", "2600.00", "3448.28", "551.72"),
        ("2600.00", "2600.00", "0.00", "2241.38", "358.62"),
    ]
    state = p.InvoiceState.first(inv)
    bases, importes = D(0), D(0)
    for n, (saldo_ant, pagado, insoluto, base, importe) in enumerate(expected, start=1):
        comp = single(pay(pagado), p.Application(inv, D(pagado), state))
        docto = comp.pagos[0].doctos[0]
        assert docto.num_parcialidad == n
        assert docto.imp_saldo_ant == D(saldo_ant)
        assert docto.imp_pagado == D(pagado)
        assert docto.imp_saldo_insoluto == D(insoluto)
        assert docto.equivalencia_dr == 1
        (tax,) = docto.traslados
        assert (tax.base, tax.importe) == (D(base), D(importe))
        assert comp.totales.total_traslados_base_iva16 == D(base)
        assert comp.totales.total_traslados_impuesto_iva16 == D(importe)
        assert comp.totales.monto_total_pagos == D(pagado)
        bases += tax.base
        importes += tax.importe or 0
        assert docto.state_after is not None
        state = docto.state_after
    assert bases == D("10000.00")
    assert importes == D("1600.00")


def test_example_a_in_one_complement_of_three_payments() -> None:
    inv = invoice(UUID_A, "11600.00", iva16("10000.00", "1600.00"))
    groups = [
        p.PaymentGroup(pay(m), (p.Application(inv, D(m)),)) for m in ("5000.00", "4000.00", "2600.00")
    ]
    comp = p.build_complement(groups)
    doctos = [pg.doctos[0] for pg in comp.pagos]
    assert [d.num_parcialidad for d in doctos] == [1, 2, 3]
    assert [d.imp_saldo_insoluto for d in doctos] == [D("6600.00"), D("2600.00"), D("0.00")]
    assert [d.traslados[0].importe for d in doctos] == [D("689.66"), D("551.72"), D("358.62")]
    assert comp.totales.total_traslados_base_iva16 == D("10000.00")
    assert comp.totales.total_traslados_impuesto_iva16 == D("1600.00")
    assert comp.totales.monto_total_pagos == D("11600.00")


def test_example_b_usd_invoice_paid_in_mxn() -> None:
    inv = invoice(UUID_A, "1160.00", iva16("1000.00", "160.00"), moneda="USD")
    comp = single(pay("19992.02"), p.Application(inv, D("1160.00")), rates={"USD": D("17.2345")})
    pago = comp.pagos[0]
    assert pago.moneda_p == "MXN"
    assert pago.tipo_cambio_p == 1
    assert pago.monto == D("19992.02")
    docto = pago.doctos[0]
    assert docto.moneda_dr == "USD"
    assert docto.equivalencia_dr == D("0.0580231512")
    assert docto.imp_pagado == D("1160.00")
    assert (docto.traslados[0].base, docto.traslados[0].importe) == (D("1000.00"), D("160.00"))
    assert comp.totales.monto_total_pagos == D("19992.02")
    assert comp.totales.total_traslados_base_iva16 == D("17234.50")
    assert comp.totales.total_traslados_impuesto_iva16 == D("2757.52")


def test_example_b_usd_invoice_paid_in_usd() -> None:
    inv = invoice(UUID_A, "1160.00", iva16("1000.00", "160.00"), moneda="USD")
    comp = single(pay("1160.00", "USD", "17.2345"), p.Application(inv, D("1160.00")))
    pago = comp.pagos[0]
    assert (pago.moneda_p, pago.tipo_cambio_p, pago.monto) == ("USD", D("17.2345"), D("1160.00"))
    assert pago.doctos[0].equivalencia_dr == 1
    assert comp.totales.monto_total_pagos == D("19992.02")
    assert comp.totales.total_traslados_base_iva16 == D("17234.50")
    assert comp.totales.total_traslados_impuesto_iva16 == D("2757.52")


def test_example_c_one_payment_three_invoices() -> None:
    a = invoice(UUID_A, "11600.00", iva16("10000.00", "1600.00"))
    b = invoice(UUID_B, "5800.00", iva16("5000.00", "800.00"))
    c = invoice(UUID_C, "4640.00", iva16("4000.00", "640.00"))
    c_state = p.InvoiceState(1, D("2600.00"), D("2040.00"))
    comp = single(
        pay("20000.00"),
        p.Application(a, D("11600.00")),
        p.Application(b, D("5800.00")),
        p.Application(c, D("2600.00"), c_state),
    )
    pago = comp.pagos[0]
    da, db, dc = pago.doctos
    assert (da.num_parcialidad, da.imp_saldo_ant, da.imp_saldo_insoluto) == (1, D("11600.00"), 0)
    assert (db.num_parcialidad, db.imp_saldo_ant, db.imp_saldo_insoluto) == (1, D("5800.00"), 0)
    assert (dc.num_parcialidad, dc.imp_saldo_ant, dc.imp_pagado) == (2, D("2600.00"), D("2600.00"))
    assert dc.imp_saldo_insoluto == 0
    assert sum(d.imp_pagado for d in pago.doctos) == pago.monto == D("20000.00")
    (tp,) = pago.traslados_p
    assert (tp.base, tp.importe) == (D("17241.38"), D("2758.62"))
    assert comp.totales.total_traslados_base_iva16 == D("17241.38")
    assert comp.totales.total_traslados_impuesto_iva16 == D("2758.62")


def test_example_d_retentions_paid_in_full() -> None:
    inv = invoice(
        UUID_A,
        "14672.08",
        iva16("15390.30", "2462.45"),
        p.InvoiceTax("retencion", p.ISR, p.TASA, D("0.100000"), D("15390.30"), D("1539.03")),
        p.InvoiceTax("retencion", p.IVA, p.TASA, D("0.106667"), D("15390.30"), D("1641.64")),
    )
    comp = single(pay("14672.08"), p.Application(inv, D("14672.08")))
    docto = comp.pagos[0].doctos[0]
    rets = {t.impuesto: t.importe for t in docto.retenciones}
    assert rets == {p.ISR: D("1539.03"), p.IVA: D("1641.64")}
    assert [(t.base, t.importe) for t in docto.traslados] == [(D("15390.30"), D("2462.45"))]
    t = comp.totales
    assert t.total_retenciones_isr == D("1539.03")
    assert t.total_retenciones_iva == D("1641.64")
    assert t.total_retenciones_ieps is None
    assert t.total_traslados_base_iva16 == D("15390.30")
    assert t.total_traslados_impuesto_iva16 == D("2462.45")
    assert t.monto_total_pagos == D("14672.08")


def test_example_e_exempt_and_iva16_half_paid() -> None:
    inv = invoice(
        UUID_A,
        "1660.00",
        iva16("1000.00", "160.00"),
        p.InvoiceTax("traslado", p.IVA, p.EXENTO, None, D("500.00"), None),
    )
    comp = single(pay("830.00"), p.Application(inv, D("830.00")))
    docto = comp.pagos[0].doctos[0]
    iva, exento = docto.traslados
    assert (iva.tipo_factor, iva.base, iva.importe) == (p.TASA, D("500.00"), D("80.00"))
    assert (exento.tipo_factor, exento.base, exento.importe) == (p.EXENTO, D("250.00"), None)
    assert exento.tasa_o_cuota is None
    assert comp.totales.total_traslados_base_iva_exento == D("250.00")
    assert comp.totales.total_traslados_base_iva16 == D("500.00")
    assert comp.totales.total_traslados_impuesto_iva16 == D("80.00")


def test_example_f_no_taxes() -> None:
    inv = invoice(UUID_A, "5000.00")
    comp = single(pay("5000.00"), p.Application(inv, D("5000.00")))
    pago = comp.pagos[0]
    docto = pago.doctos[0]
    assert docto.objeto_imp_dr == "01"
    assert docto.impuestos == ()
    assert pago.traslados_p == () and pago.retenciones_p == ()
    assert comp.totales == p.Totales(monto_total_pagos=D("5000.00"))


def test_overapplication_is_refused_before_the_pac() -> None:
    inv = invoice(UUID_A, "11600.00", iva16("10000.00", "1600.00"))
    with pytest.raises(ConflictError) as info:
        single(pay("1000.00"), p.Application(inv, D("1000.01")))
    assert info.value.code == "CRP20217"
    with pytest.raises(ConflictError) as info:
        single(pay("20000.00"), p.Application(inv, D("11600.01")))
    assert info.value.code == "CRP20244"


def test_foreign_currency_margin_crp20276() -> None:
    inv = invoice(UUID_A, "1160.00", iva16("1000.00", "160.00"), moneda="USD")
    # 1160 USD at 17.2345 is 19992.02 MXN: one cent less is still within the rounding margin
    single(pay("19992.01"), p.Application(inv, D("1160.00")), rates={"USD": D("17.2345")})
    with pytest.raises(ConflictError) as info:
        single(pay("19900.00"), p.Application(inv, D("1160.00")), rates={"USD": D("17.2345")})
    assert info.value.code == "CRP20276"


def test_invoice_from_record_uses_document_traslados_and_concept_retenciones() -> None:
    from cfdi_cobranza.domain.cfdi import CfdiRecord, Concept, Party, Stamp, TaxLine

    tasa = D("0.160000")
    c1 = Concept("80101500", D(1), "E48", "Servicio", D("10000.00"), D("10000.00"), None, "02", (
        TaxLine("traslado", p.IVA, p.TASA, tasa, D("10000.00"), D("1600.00")),
        TaxLine("retencion", p.ISR, p.TASA, D("0.100000"), D("10000.00"), D("1000.00")),
    ))
    c2 = Concept("80101500", D(1), "E48", "Otro", D("5390.30"), D("5390.30"), None, "02", (
        TaxLine("traslado", p.IVA, p.TASA, tasa, D("5390.30"), D("862.45")),
        TaxLine("retencion", p.ISR, p.TASA, D("0.100000"), D("5390.30"), D("539.03")),
    ))
    c3 = Concept("80101500", D(1), "E48", "Sin objeto", D("100.00"), D("100.00"), None, "01")
    record = CfdiRecord(
        version="4.0", tipo="I", uuid="5bd612ea-db91-441d-bf85-37f442796ec1", serie="F",
        folio="9", fecha=FECHA, emisor=Party("EKU9003173C9", "E", "601"),
        receptor=Party("URE180429TM6", "R", "601"), moneda="MXN", tipo_cambio=None,
        subtotal=D("15490.30"), descuento=None, total=D("16413.72"), metodo_pago="PPD",
        forma_pago="99", condiciones_de_pago=None, lugar_expedicion="42501",
        exportacion="01", no_certificado=None,
        stamp=Stamp("5BD612EA-DB91-441D-BF85-37F442796EC1", FECHA, None, "1", "s", "s", "1.1"),
        concepts=(c1, c2, c3),
        taxes=(
            TaxLine("traslado", p.IVA, p.TASA, tasa, D("15390.30"), D("2462.45")),
            TaxLine("retencion", p.ISR, None, None, None, D("1539.03")),
        ),
    )
    inv = p.invoice_from_record(record)
    assert inv.uuid == "5BD612EA-DB91-441D-BF85-37F442796EC1"
    assert inv.objeto_imp == "02"
    assert [(t.kind, t.impuesto, t.base, t.importe) for t in inv.taxes] == [
        ("traslado", p.IVA, D("15390.30"), D("2462.45")),
        ("retencion", p.ISR, D("15390.30"), D("1539.03")),
    ]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"forma_de_pago_p": "99"}, "CRP20212"),
        ({"moneda_p": "XXX"}, "CRP20213"),
        ({"moneda_p": "USD"}, "CRP20214"),
        ({"monto": D("1.001")}, "CRP20219"),
        ({"forma_de_pago_p": "01", "cta_ordenante": "1234567890"}, "CRP20224"),
        ({"cta_ordenante": "12"}, "CRP20225"),
        ({"forma_de_pago_p": "01", "rfc_emisor_cta_ben": "BBA830831LJ2"}, "CRP20227"),
        ({"rfc_emisor_cta_ord": "XEXX010101000"}, "CRP20223"),
        ({"tipo_cad_pago": "01"}, "CRP20230"),
    ],
)
def test_payment_fields_are_refused_with_the_sat_code(changes: dict, code: str) -> None:
    from dataclasses import replace

    from cfdi_cobranza.errors import ValidationError

    inv = invoice(UUID_A, "11600.00", iva16("10000.00", "1600.00"))
    payment = replace(pay("1000.00"), **changes)
    with pytest.raises(ValidationError) as info:
        single(payment, p.Application(inv, D("1000.00")))
    assert info.value.code == code
    assert info.value.message  # Spanish text for the user
