"""Bank statements through the database: idempotent import, suggestions, applying by threshold."""

from __future__ import annotations

import itertools
import uuid as uuidlib
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cfdi_cobranza.cfdi.factory import CfdiFactory, Line, Receptor
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.db.models import BankMovement, Document, Payment
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import banking
from cfdi_cobranza.services.importing import Importer

ACME = Receptor("ACM010101AB1", "ACME COMERCIAL", "601", "64000", "G03")


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    counter = itertools.count(1)
    return CfdiFactory(tmp_path_factory.mktemp("sb"), uuid_source=lambda: uuidlib.UUID(int=next(counter) + 0xBA4C0000),
                       clock=lambda: datetime(2024, 2, 1, 12, 0))


STATEMENT = (
    b"Fecha,Descripcion,Referencia,Abono,Cargo\n"
    b"01/03/2024,SPEI RECIBIDO ACM010101AB1 PAGO,F-1001,\"11,600.00\",\n"
    b"02/03/2024,COMISION,,,150.00\n"
    b"03/03/2024,DEPOSITO SIN REFERENCIA,,777.77,\n"
    b"04/03/2024,SPEI RECIBIDO,,ABC,\n"
)
MAPPING = banking.ColumnMapping(fecha="Fecha", descripcion="Descripcion", referencia="Referencia",
                                abono="Abono", cargo="Cargo")


def test_import_suggest_apply(engine, settings, factory, clock):
    inv = factory.invoice([Line(Decimal("10000.00"))], serie="F", folio="1001", receptor=ACME,
                          fecha=datetime(2024, 2, 1, 10, 0))
    Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir]).import_candidates(
        [Candidate("f.xml", inv.xml)])
    with transaction(engine) as s:
        first = banking.import_statement(s, STATEMENT, "generico", cuenta="0123", mapping=MAPPING, clock=clock)
    assert (first.nuevos, first.repetidos, first.cargos_omitidos) == (2, 0, 1)
    assert [e["code"] for e in first.errores] == ["IMPORTE_INVALIDO"]
    with transaction(engine) as s:
        again = banking.import_statement(s, STATEMENT, "generico", cuenta="0123", mapping=MAPPING, clock=clock)
    assert (again.nuevos, again.repetidos) == (0, 2)  # recognised, nothing duplicated
    with transaction(engine) as s:
        ranked = banking.suggest(s)
        by_amount = {m.amount: sugg for m, sugg in ranked}
        top = by_amount[Decimal("11600.00")][0]
        assert top.customer == "ACM010101AB1"
        assert {"RFC_EN_DESCRIPCION", "MONTO_EXACTO"} <= set(top.codes)
        assert top.score >= 80
        assert all(r.mensaje for r in top.razones)  # reasons are shown to the user
    with transaction(engine) as s:
        out = [o.to_dict() for o in banking.apply_above(s, 80, actor="ana", clock=clock)]
    assert [o["status"] for o in out] == ["aplicado"]
    with transaction(engine) as s:
        assert s.scalar(select(Document.saldo).where(Document.uuid == inv.uuid)) == 0
        assert s.scalar(select(func.count(Payment.id))) == 1
        statuses = sorted(s.scalars(select(BankMovement.status)))
        assert statuses == ["aplicado", "pendiente"]  # the unmatched deposit waits for a user
    with transaction(engine) as s:
        assert banking.apply_above(s, 80, actor="ana", clock=clock) == []
