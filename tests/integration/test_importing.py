"""The import service end to end: outcomes, balances, order independence, atomicity."""

from __future__ import annotations

import io
import itertools
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cfdi_cobranza.cfdi.factory import CfdiFactory, Line, PaidDoc
from cfdi_cobranza.cfdi.sources import Candidate, iter_paths, iter_upload
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Company, Credit, Customer, Document, DocumentTax
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import ledger
from cfdi_cobranza.services.importing import Importer

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> CfdiFactory:
    counter = itertools.count(1)
    import uuid

    return CfdiFactory(
        tmp_path_factory.mktemp("sandbox"),
        uuid_source=lambda: uuid.UUID(int=next(counter) + 0xABCDEF00000),
        clock=lambda: datetime(2026, 10, 1, 12, 0, 0),
    )


def _importer(engine, settings: Settings, factory: CfdiFactory, clock) -> Importer:
    return Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir])


def _cands(*docs) -> list[Candidate]:
    return [Candidate(name=f"f{i}.xml", data=d.xml) for i, d in enumerate(docs)]


def _saldo(engine, uuid: str) -> Decimal:
    with transaction(engine) as s:
        return s.scalar(select(Document.saldo).where(Document.uuid == uuid))


def test_invoice_imports_with_everything_extracted(engine, settings, factory, clock):
    inv = factory.invoice(lines=[Line(Decimal("1000.00")), Line(Decimal("500.00"), cantidad=Decimal("2"))],
                          folio="77", condiciones="Crédito 45 días", fecha=datetime(2026, 10, 1, 10, 0))
    result = _importer(engine, settings, factory, clock).import_candidates(_cands(inv))
    assert [r.status for r in result.results] == ["imported"], result.to_dict()
    assert result.results[0].sello_sat == "verificado"
    assert result.companies_registered == ["EKU9003173C9"]
    with transaction(engine) as s:
        doc = s.scalar(select(Document))
        assert doc.uuid == inv.uuid
        assert doc.total == Decimal("2320.00")
        assert doc.saldo == doc.total
        assert doc.subtotal == Decimal("2000.00")
        assert doc.metodo_pago == "PPD"
        assert doc.vencimiento.isoformat() == "2026-11-15"  # 45 days from CondicionesDePago
        assert doc.xml == inv.xml  # original bytes kept, never re-serialised
        assert len(doc.concepts) == 2
        taxes = s.scalars(select(DocumentTax).where(DocumentTax.concept_idx.is_(None))).all()
        assert [(t.impuesto, t.base, t.importe) for t in taxes] == [("002", Decimal("2000.00"), Decimal("320.00"))]
        customer = s.scalar(select(Customer))
        assert (customer.rfc, customer.regimen_fiscal, customer.codigo_postal) == ("URE180429TM6", "601", "86991")


def test_same_uuid_twice_is_a_duplicate_and_changes_nothing(engine, settings, factory, clock):
    inv = factory.invoice()
    imp = _importer(engine, settings, factory, clock)
    imp.import_candidates(_cands(inv))
    again = imp.import_candidates(_cands(inv))
    assert [r.status for r in again.results] == ["duplicate"]
    assert again.results[0].code == "DUPLICADO"
    with transaction(engine) as s:
        assert s.scalar(select(func.count(Document.id))) == 1


def test_bad_file_in_a_batch_spoils_nothing(engine, settings, factory, clock):
    a, b = factory.invoice(folio="1"), factory.invoice(folio="2")
    tampered = a.xml.replace(b'Total="1160.00"', b'Total="1.00"')
    assert tampered != a.xml
    cands = [Candidate("a.xml", a.xml), Candidate("bad.xml", tampered), Candidate("trunc.xml", b.xml[:200]),
             Candidate("b.xml", b.xml)]
    result = _importer(engine, settings, factory, clock).import_candidates(cands)
    assert [r.status for r in result.results] == ["imported", "refused", "refused", "imported"]
    assert result.results[1].code == "SELLO_INVALIDO"
    assert result.results[2].code == "XML_MAL_FORMADO"
    assert not result.ok
    with transaction(engine) as s:
        assert s.scalar(select(func.count(Document.id))) == 2


def test_tampered_total_is_refused_with_seal_error(engine, settings, factory, clock):
    a = factory.invoice(folio="9")
    tampered = a.xml.replace(b'Total="1160.00"', b'Total="1.00"')
    result = _importer(engine, settings, factory, clock).import_candidates([Candidate("bad.xml", tampered)])
    assert result.results[0].status == "refused"
    assert result.results[0].code == "SELLO_INVALIDO"
    with transaction(engine) as s:
        assert s.scalar(select(func.count(Document.id))) == 0
        assert s.scalar(select(func.count(Company.id))) == 0


def test_received_cfdi_is_refused_once_companies_exist(engine, settings, factory, clock):
    with transaction(engine) as s:
        ledger.add_company(s, "AAA010101AAA", "Otra", "601", "01000", clock=clock)
    inv = factory.invoice()
    result = _importer(engine, settings, factory, clock).import_candidates(_cands(inv))
    assert result.results[0].status == "refused"
    assert result.results[0].code == "CFDI_RECIBIDO"
    assert "recibido" in result.results[0].message


@pytest.mark.parametrize("order", ["invoice_first", "notes_first"])
def test_credit_note_and_complement_take_effect_in_any_order(engine, settings, factory, clock, order):
    inv = factory.invoice(lines=[Line(Decimal("10000.00"))])  # 11,600.00
    note = factory.credit_note(inv.uuid, lines=[Line(Decimal("1000.00"), descripcion="Descuento")])  # 1,160.00
    pay = factory.payment([PaidDoc(inv.uuid, 1, Decimal("10440.00"), Decimal("5000.00"))])
    docs = [inv, note, pay] if order == "invoice_first" else [pay, note, inv]
    imp = _importer(engine, settings, factory, clock)
    for d in docs:  # one batch per file, as separate uploads would be
        res = imp.import_candidates(_cands(d))
        assert res.ok, res.to_dict()
    assert _saldo(engine, inv.uuid) == Decimal("5440.00")
    assert _saldo(engine, note.uuid) == Decimal("0.00")
    with transaction(engine) as s:
        kinds = sorted(c.kind for c in s.scalars(select(Credit).where(Credit.document_id.is_not(None))))
        assert kinds == ["complemento", "nota_credito"]
        rows = ledger.list_documents(s, open_only=True)
        assert [(r.uuid, r.saldo) for r in rows] == [(inv.uuid, Decimal("5440.00"))]


def test_credit_note_larger_than_invoice_leaves_saldo_a_favor(engine, settings, factory, clock):
    inv = factory.invoice(lines=[Line(Decimal("100.00"))])  # 116.00
    note = factory.credit_note(inv.uuid, lines=[Line(Decimal("200.00"))])  # 232.00
    imp = _importer(engine, settings, factory, clock)
    imp.import_candidates(_cands(note, inv))
    assert _saldo(engine, inv.uuid) == Decimal("0.00")
    assert _saldo(engine, note.uuid) == Decimal("116.00")
    with transaction(engine) as s:
        (row,) = ledger.list_customers(s)
        assert row.saldo == {}
        assert row.saldo_a_favor == {"MXN": Decimal("116.00")}


def test_as_of_date_ignores_later_payments(engine, settings, factory, clock):
    inv = factory.invoice(lines=[Line(Decimal("1000.00"))], fecha=datetime(2026, 9, 1, 9, 0))
    pay = factory.payment([PaidDoc(inv.uuid, 1, Decimal("1160.00"), Decimal("160.00"))],
                          fecha_pago=datetime(2026, 9, 20, 12, 0))
    _importer(engine, settings, factory, clock).import_candidates(_cands(inv, pay))
    with transaction(engine) as s:
        before = ledger.list_documents(s, open_only=True, as_of=datetime(2026, 9, 10).date())
        after = ledger.list_documents(s, open_only=True)
    assert [r.saldo for r in before] == [Decimal("1160.00")]
    assert [r.saldo for r in after] == [Decimal("1000.00")]


def test_cfdi33_invoice_and_usd(engine, settings, factory, clock):
    inv33 = factory.invoice(version="3.3", folio="33")
    usd = factory.invoice(moneda="USD", tipo_cambio=Decimal("17.2345"), folio="U1")
    res = _importer(engine, settings, factory, clock).import_candidates(_cands(inv33, usd))
    assert res.ok, res.to_dict()
    with transaction(engine) as s:
        (row,) = ledger.list_customers(s)
        assert row.saldo == {"MXN": Decimal("1160.00"), "USD": Decimal("1160.00")}


def test_corpus_outcomes(engine, settings, clock):
    cands = list(iter_paths([DATA / "real"]))
    res = Importer(engine, settings, clock=clock).import_candidates(cands)
    by_name = {Path(r.file).name: r for r in res.results}
    assert by_name["cfdi40-real.xml"].status == "imported"
    assert by_name["cfdi40-real.xml"].sello_sat == "verificado"
    assert by_name["cfdi33-real.xml"].status == "imported"
    assert by_name["cfdi33-real.xml"].sello_sat == "no verificado"
    assert by_name["cfdi32-real.xml"].status == "refused"
    assert by_name["cfdi32-real.xml"].code == "VERSION_NO_SOPORTADA"


def test_every_sat_sample_gets_a_definite_outcome(sqlite_engine, settings, clock):
    cands = list(iter_paths([DATA / "sat-samples"]))
    assert len(cands) == len(list((DATA / "sat-samples").rglob("*.xml"))) >= 45
    res = Importer(sqlite_engine, settings, clock=clock).import_candidates(cands)
    assert len(res.results) == len(cands)
    for r in res.results:
        assert r.status in {"imported", "refused", "ignored"}
        if r.status == "refused":
            assert r.code and r.code != "ERROR_INTERNO" and r.message


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_package_with_hostile_members(engine, settings, factory, clock):
    a, b = factory.invoice(folio="Z1"), factory.invoice(folio="Z2")
    inner = _zip({"b.xml": b.xml})
    deeper = _zip({"inner.zip": _zip({"x.xml": b"<x/>"})})
    package = _zip({"a.xml": a.xml, "../../etc/evil.xml": a.xml, "nested.zip": inner, "deep.zip": deeper,
                    "readme.txt": b"hola"})
    cands = list(iter_upload("descarga_masiva.zip", package))
    res = _importer(engine, settings, factory, clock).import_candidates(cands)
    got = {r.file.split("!", 1)[1]: (r.status, r.code) for r in res.results}
    assert got["a.xml"] == ("imported", None)
    assert got["../../etc/evil.xml"] == ("refused", "ZIP_RUTA_INSEGURA")
    assert got["nested.zip!b.xml"] == ("imported", None)
    assert got["deep.zip!inner.zip"] == ("refused", "ZIP_ANIDADO")
    assert got["readme.txt"] == ("ignored", "NO_ES_XML")


def test_zip_bomb_is_refused_before_expanding(settings):
    bomb = _zip({"bomb.xml": b"<" + b"a" * (50 * 1024 * 1024) + b">"})
    assert len(bomb) < 200_000
    (cand,) = list(iter_upload("bomb.zip", bomb))
    assert cand.code == "ZIP_BOMBA"
    assert cand.data is None


def test_large_file_refused_without_reading(tmp_path):
    big = tmp_path / "big.xml"
    with big.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    (cand,) = list(iter_paths([big]))
    assert cand.code == "ARCHIVO_DEMASIADO_GRANDE"
    assert cand.data is None


def test_bomb_hidden_behind_incompressible_padding_is_refused():
    import os

    padding = os.urandom(3 * 1024 * 1024)  # keeps the archive-wide ratio low
    bomb = _zip({"pad.bin": padding, "bomb.xml": b"<" + b"a" * (40 * 1024 * 1024) + b">"})
    got = {c.name.split("!", 1)[1]: c.code for c in iter_upload("x.zip", bomb)}
    assert got["bomb.xml"] == "ZIP_BOMBA"


def test_invoices_imported_before_the_stored_facts_get_them_once(engine, settings, factory, clock):
    """Invoices imported before revision 0010 have no ``pagos_facts``: ``cobranza init``
    (``backfill_pagos_facts``) writes, from each stored XML, the same facts the importer
    writes now; credit notes get none; a second run writes nothing."""
    from sqlalchemy import update

    from cfdi_cobranza.cfdi.factory import IVA16, RET_ISR10, RET_IVA_2_3
    from cfdi_cobranza.services.importing import backfill_pagos_facts

    invoices = [factory.invoice(lines=[Line(Decimal("100.00") + i, taxes=taxes)], folio=f"bf{i}")
                for i, taxes in enumerate([(IVA16,), (IVA16, RET_ISR10, RET_IVA_2_3), (), (IVA16,), (IVA16,)])]
    note = factory.credit_note(invoices[0].uuid, [Line(Decimal("10.00"), taxes=(IVA16,))])
    result = _importer(engine, settings, factory, clock).import_candidates(_cands(*invoices, note))
    assert result.ok, result.to_dict()
    with transaction(engine) as s:
        imported = dict(s.execute(select(Document.uuid, Document.pagos_facts)).all())
        assert all(imported[i.uuid] for i in invoices) and imported[note.uuid] is None
        s.execute(update(Document).values(pagos_facts=None))  # as before revision 0010
    assert backfill_pagos_facts(engine, batch=2) == len(invoices)
    with transaction(engine) as s:
        assert dict(s.execute(select(Document.uuid, Document.pagos_facts)).all()) == imported
    assert backfill_pagos_facts(engine) == 0
