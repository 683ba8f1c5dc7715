"""What the 100,000-input fuzz runs found (bench/fuzz_import.py, bench/fuzz_rep.py), one test each.

1. A sealed and stamped CFDI with an absurd amount or rate (more than a SQLite 64-bit
   scaled integer holds: Money above 9.2e12, Rate above 9.2e8) crashed the importer at
   INSERT time with OverflowError (PostgreSQL: DataError beyond NUMERIC(24, 6)) instead
   of a coded refusal.
2. ``rep validate`` on an amount with more digits than the decimal context (28)
   crashed a dozen CRP rules (``quantize`` raised InvalidOperation); the runner hid it
   as an ``INTERNO`` warning, so the REP was judged without those rules.
"""

from __future__ import annotations

import itertools
import uuid as uuidlib
from datetime import datetime
from decimal import Decimal

import pytest
from fuzz_support import reseal
from lxml import etree

from cfdi_cobranza.cfdi.factory import CfdiFactory, Line, PaidDoc
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.cfdi.validator import validate_rep
from cfdi_cobranza.domain.money import quantize
from cfdi_cobranza.services.importing import Importer


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> CfdiFactory:
    counter = itertools.count(1)
    return CfdiFactory(tmp_path_factory.mktemp("sandbox"),
                       uuid_source=lambda: uuidlib.UUID(int=next(counter) + 0xF1F1000000),
                       clock=lambda: datetime(2026, 10, 1, 12, 0, 0))


def _with(xml: bytes, factory: CfdiFactory, local: str, attr: str, value: str) -> bytes:
    root = etree.fromstring(xml)
    for el in root.iter():
        if isinstance(el.tag, str) and etree.QName(el).localname == local and el.get(attr) is not None:
            el.set(attr, value)
            break
    else:
        raise AssertionError(f"{local}@{attr} not in the document")
    import random

    data = reseal(root, factory, random.Random(0))
    assert data is not None
    return data


@pytest.mark.parametrize(("local", "attr", "value"), [
    ("Comprobante", "Total", "99999999999999.99"),        # Money above what SQLite stores
    ("Concepto", "ValorUnitario", "123456789012345678"),
    ("Comprobante", "TipoCambio", "1234567890.5"),         # Rate above what SQLite stores
])
def test_absurd_amounts_are_refused_with_a_code(engine, settings, clock, factory, local, attr, value) -> None:
    inv = factory.invoice(lines=[Line(Decimal("100.00"))], fecha=datetime(2026, 9, 1, 10, 0), moneda="USD",
                          tipo_cambio=Decimal("18.5"))
    data = _with(inv.xml, factory, local, attr, value)
    importer = Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir], environment="test")
    result = importer.import_candidates([Candidate(name="absurdo.xml", data=data)]).results[0]
    assert (result.status, result.code) == ("refused", "VALOR_INVALIDO"), result
    assert attr in (result.message or "")


def test_quantize_never_raises_for_long_finite_amounts() -> None:
    assert quantize(Decimal("1" * 40), 2) == Decimal("1" * 40 + ".00")
    assert quantize(Decimal("79228162514264337593543950336.129"), 2) == Decimal("79228162514264337593543950336.13")


def test_rep_validate_runs_every_rule_on_long_amounts(factory) -> None:
    inv = factory.invoice(lines=[Line(Decimal("100.00"))], fecha=datetime(2026, 9, 1, 10, 0))
    pay = factory.payment([PaidDoc(inv.uuid, 1, inv.total, Decimal("50.00"))],
                          fecha_pago=datetime(2026, 9, 5, 10, 0), fecha=datetime(2026, 9, 6, 10, 0))
    data = _with(pay.xml, factory, "Pago", "Monto", "1" * 40)
    findings = validate_rep(data, now=datetime(2026, 10, 1, 12, 0))
    assert [f for f in findings if f.code == "INTERNO"] == []
    assert findings  # the absurd amount is reported, by the XSD and the rules
