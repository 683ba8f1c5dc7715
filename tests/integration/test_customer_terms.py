"""A customer's credit term, set with its credit conditions, dates the invoices imported afterwards."""

from __future__ import annotations

import itertools
import uuid as uuidlib
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from cfdi_cobranza.cfdi.factory import CfdiFactory, Line
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.db.models import Document
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services.collections import set_conditions
from cfdi_cobranza.services.importing import Importer


def test_term_from_conditions_and_from_condiciones_de_pago(engine, settings, clock, tmp_path):
    counter = itertools.count(1)
    factory = CfdiFactory(tmp_path / "sb", uuid_source=lambda: uuidlib.UUID(int=next(counter) + 0x7E4D0000),
                          clock=lambda: datetime(2026, 10, 1, 12, 0))
    importer = Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir])
    first = factory.invoice([Line(Decimal("100.00"))], folio="1", fecha=datetime(2026, 10, 1, 9, 0))
    importer.import_candidates([Candidate("1.xml", first.xml)])
    with transaction(engine) as s:
        set_conditions(s, "URE180429TM6", actor="ana", plazo_maximo_dias=45, clock=clock)
    later = factory.invoice([Line(Decimal("100.00"))], folio="2", fecha=datetime(2026, 10, 2, 9, 0))
    stated = factory.invoice([Line(Decimal("100.00"))], folio="3", fecha=datetime(2026, 10, 3, 9, 0),
                             condiciones="NETO 15")
    importer.import_candidates([Candidate("2.xml", later.xml), Candidate("3.xml", stated.xml)])
    with transaction(engine) as s:
        due = dict(s.execute(select(Document.folio, Document.vencimiento)).all())
    assert due == {"1": date(2026, 10, 31),   # default 30 days
                   "2": date(2026, 11, 16),   # the customer's 45 days
                   "3": date(2026, 10, 18)}   # CondicionesDePago states 15 days
