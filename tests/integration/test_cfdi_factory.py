"""Generated documents have correct amounts and pass XSD (full SAT schema) and both seals."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from decimal import Decimal
from itertools import count
from pathlib import Path
from uuid import UUID

import pytest

from cfdi_cobranza.cfdi import schema
from cfdi_cobranza.cfdi.factory import (
    IVA0,
    IVA8,
    IVA16,
    IVA_EXENTO,
    RET_ISR10,
    RET_IVA_2_3,
    CfdiFactory,
    Line,
    PaidDoc,
    Receptor,
    ieps,
)
from cfdi_cobranza.cfdi.loader import load_cfdi
from cfdi_cobranza.cfdi.parser import parse_xml
from cfdi_cobranza.cfdi.timbre import ensure_sandbox_certificate


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox-pac")


@pytest.fixture(scope="module")
def factory(sandbox: Path) -> CfdiFactory:
    seq = count(1)
    return CfdiFactory(
        sandbox,
        uuid_source=lambda: UUID(int=next(seq)),
        clock=lambda: datetime(2025, 3, 10, 9, 30, 0),
    )


def _load(xml: bytes, sandbox: Path):  # type: ignore[no-untyped-def]
    schema.validate_full_sat(parse_xml(xml))  # the SAT's own schema agrees
    loaded = load_cfdi(xml, extra_cert_dirs=[sandbox])
    assert loaded.sello_ok and loaded.sello_sat == "verificado"
    return loaded.record


MIXED = [
    Line(Decimal("1234.56"), cantidad=Decimal("3"), taxes=(IVA16, RET_ISR10, RET_IVA_2_3)),
    Line(Decimal("99.99"), taxes=(IVA8,)),
    Line(Decimal("50"), taxes=(IVA_EXENTO,)),
    Line(Decimal("10"), descuento=Decimal("1.00"), taxes=(IVA0, ieps("0.265000"))),
    Line(Decimal("5"), objeto_imp="01"),
    Line(Decimal("7"), objeto_imp="03"),
]


@pytest.mark.parametrize("version", ["4.0", "3.3"])
def test_invoice_amounts(factory: CfdiFactory, sandbox: Path, version: str) -> None:
    gen = factory.invoice(MIXED, version=version, folio="77", condiciones="30 días")
    rec = _load(gen.xml, sandbox)
    assert rec.version == version
    assert rec.uuid == gen.uuid
    assert rec.fecha == datetime(2025, 3, 10, 9, 30, 0)
    assert rec.emisor.rfc == "EKU9003173C9"
    assert rec.emisor.nombre == "ESCUELA KEMPER URGATE SA DE CV"
    # 3703.68 + 99.99 + 50 + 10 + 5 + 7
    assert rec.subtotal == Decimal("3875.67")
    assert rec.descuento == Decimal("1.00")
    first = rec.concepts[0]
    assert first.importe == Decimal("3703.68")
    iva, isr, ret_iva = first.taxes
    assert iva.importe == Decimal("592.59")  # 3703.68 * 0.16 = 592.5888
    assert isr.importe == Decimal("370.37")
    assert ret_iva.importe == Decimal("395.06")  # 3703.68 * 0.106667 = 395.0582
    # IVA16 592.59 + IVA8 8.00 + IVA0 0 + IEPS 9*0.265=2.385->2.39
    assert rec.total_traslados == Decimal("602.98")
    assert rec.total_retenciones == Decimal("765.43")
    assert rec.total == Decimal("3875.67") - Decimal("1.00") + Decimal("602.98") - Decimal("765.43")
    assert rec.condiciones_de_pago == "30 días"


def test_foreign_currency(factory: CfdiFactory, sandbox: Path) -> None:
    gen = factory.invoice(moneda="USD", tipo_cambio=Decimal("17.250000"), metodo="PUE", forma="03")
    rec = _load(gen.xml, sandbox)
    assert rec.moneda == "USD"
    assert rec.tipo_cambio == Decimal("17.250000")
    assert rec.total == Decimal("1160.00")


def test_credit_note_related(factory: CfdiFactory, sandbox: Path) -> None:
    invoice = factory.invoice()
    note = factory.credit_note(invoice.uuid)
    rec = _load(note.xml, sandbox)
    assert rec.tipo == "E"
    assert rec.related[0].tipo_relacion == "01"
    assert rec.related[0].uuids == (invoice.uuid,)
    assert rec.total == Decimal("116.00")


def test_payment_complement(factory: CfdiFactory, sandbox: Path) -> None:
    a, b = factory.invoice(), factory.invoice()
    gen = factory.payment(
        [
            (a.uuid, 1, Decimal("1160.00"), Decimal("500.00")),
            PaidDoc(b.uuid, 2, Decimal("1160.00"), Decimal("1160.00"), iva=IVA16),
        ],
        num_operacion="REF123",
    )
    rec = _load(gen.xml, sandbox)
    assert rec.tipo == "P" and rec.pagos_version == "2.0"
    (pago,) = rec.payments
    assert pago.monto == Decimal("1660.00")
    assert [d.imp_saldo_insoluto for d in pago.documents] == [Decimal("660.00"), Decimal("0.00")]
    dr_tax = pago.documents[1].taxes[0]
    assert dr_tax.base == Decimal("1000.000000")
    assert dr_tax.importe == Decimal("160.000000")


def test_custom_receptor(factory: CfdiFactory, sandbox: Path) -> None:
    rec = _load(
        factory.invoice(
            receptor=Receptor("XAXX010101000", "PUBLICO EN GENERAL", "616", "42501", "S01")
        ).xml,
        sandbox,
    )
    assert rec.receptor.uso_cfdi == "S01"


def test_sandbox_certificate_is_reused_and_private(sandbox: Path) -> None:
    cert1, _ = ensure_sandbox_certificate(sandbox)
    cert2, _ = ensure_sandbox_certificate(sandbox)
    assert cert1.der == cert2.der
    assert len(cert1.no_certificado) == 20 and cert1.no_certificado.startswith("99999")
    assert "SIN VALIDEZ FISCAL" in cert1.name
    mode = stat.S_IMODE(os.stat(sandbox / "sandbox-sat.password").st_mode)
    assert mode == 0o600


def test_generation_speed(factory: CfdiFactory) -> None:
    import time

    start = time.perf_counter()
    for _ in range(50):
        factory.invoice()
    per_doc = (time.perf_counter() - start) / 50
    assert per_doc < 0.02  # 10,000 documents well under a minute needs < 6 ms
