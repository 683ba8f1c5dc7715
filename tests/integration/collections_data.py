"""A generated portfolio for the collections tests, imported through the real import path.

Every invoice is due exactly ``days`` before the fecha de corte (CondicionesDePago
"Crédito 30 días" from a date 30 days before the due date), so each bucket boundary
(day 0, 1, 30, 31, 60, 61, 90, 91) is hit exactly. Alongside, the test keeps its own
record of what it generated (totals, what each credit note and complement applies and
when): the independent computation the SQL reports are checked against.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from cfdi_cobranza.cfdi.factory import IVA16, CfdiFactory, GeneratedCfdi, Line, PaidDoc, Receptor
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.domain.receivables import Application, ApplicationKind, Receivable
from cfdi_cobranza.services.importing import Importer

AS_OF = date(2026, 10, 31)
USD_RATE = Decimal("17.5000")
CUSTOMERS = [
    Receptor("CAC070627H79", "COMERCIALIZADORA DEL ALTIPLANO", "601", "20000", "G03"),
    Receptor("DME980512KJ3", "DISTRIBUIDORA MEDICA DEL BAJIO", "601", "37000", "G03"),
    Receptor("FOMJ8106119D6", "JUAN FLORES MARTINEZ", "612", "64000", "G03"),
]
BOUNDARY_DAYS = [-10, 0, 1, 30, 31, 60, 61, 90, 91, 150]


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour, 0))


@dataclass
class Generated:
    docs: list[Receivable] = field(default_factory=list)
    applications: list[Application] = field(default_factory=list)
    files: list[GeneratedCfdi] = field(default_factory=list)
    invoices: dict[str, GeneratedCfdi] = field(default_factory=dict)  # label -> invoice

    def candidates(self) -> list[Candidate]:
        return [Candidate(f"c{i:03d}.xml", f.xml) for i, f in enumerate(self.files)]


def make_factory(sandbox_dir, seed: int = 0) -> CfdiFactory:  # type: ignore[no-untyped-def]
    counter = itertools.count(1)
    return CfdiFactory(sandbox_dir, uuid_source=lambda: uuid.UUID(int=next(counter) + 0xC0B0000 + seed * 10**6),
                       clock=lambda: datetime(2026, 10, 1, 12, 0, 0))


def generate(factory: CfdiFactory) -> Generated:
    g = Generated()
    folio = itertools.count(1)
    for ci, cust in enumerate(CUSTOMERS):
        for days in BOUNDARY_DAYS:
            due = AS_OF - timedelta(days=days)
            fecha = _at(due - timedelta(days=30), 9 + ci)
            usd = ci == 1 and days in (0, 31, 91)
            amount = Decimal(1000 + 37 * days + 311 * ci) + Decimal("0.25")
            number = str(next(folio))
            inv = factory.invoice([Line(amount)], receptor=cust, folio=number, fecha=fecha,
                                  moneda="USD" if usd else "MXN", tipo_cambio=USD_RATE if usd else None,
                                  condiciones="Crédito 30 días")
            g.files.append(inv)
            label = f"{cust.rfc}:{days}"
            g.invoices[label] = inv
            g.docs.append(Receivable(inv.uuid, cust.rfc, cust.nombre, "USD" if usd else "MXN", inv.total,
                                     fecha.date(), due, referencia=f"A-{number}", empresa=factory.issuer.rfc))
    # Partial payments through imported complements (before and after the fecha de corte).
    for label, pagado, when in [
        ("CAC070627H79:31", Decimal("500.00"), AS_OF - timedelta(days=3)),
        ("CAC070627H79:91", Decimal("200.10"), AS_OF - timedelta(days=40)),
        ("CAC070627H79:1", Decimal("300.00"), AS_OF + timedelta(days=2)),  # after: still owed at AS_OF
        ("FOMJ8106119D6:60", Decimal("1000.00"), AS_OF),  # on the fecha de corte: counts
        ("FOMJ8106119D6:150", None, AS_OF - timedelta(days=5)),  # paid in full: out of the aging
    ]:
        inv = g.invoices[label]
        amount = pagado if pagado is not None else inv.total
        rfc = label.split(":")[0]
        receptor = next(c for c in CUSTOMERS if c.rfc == rfc)
        pay = factory.payment([PaidDoc(inv.uuid, 1, inv.total, amount, iva=IVA16)], receptor=receptor,
                              fecha_pago=_at(when, 12), folio=str(next(folio)))
        g.files.append(pay)
        g.applications.append(Application(inv.uuid, when, amount, ApplicationKind.PAGO))
    # Credit notes (one after the fecha de corte).
    for label, base, when in [
        ("DME980512KJ3:30", Decimal("100.00"), AS_OF - timedelta(days=10)),
        ("FOMJ8106119D6:-10", Decimal("250.00"), AS_OF + timedelta(days=1)),
    ]:
        inv = g.invoices[label]
        rfc = label.split(":")[0]
        receptor = next(c for c in CUSTOMERS if c.rfc == rfc)
        note = factory.credit_note(inv.uuid, [Line(base, descripcion="Bonificación")], receptor=receptor,
                                   folio=str(next(folio)), fecha=_at(when, 11))
        g.files.append(note)
        g.applications.append(Application(inv.uuid, when, note.total, ApplicationKind.NOTA_CREDITO))
    return g


def import_all(engine, settings, factory: CfdiFactory, generated: Generated, clock) -> None:  # type: ignore[no-untyped-def]
    importer = Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir])
    result = importer.import_candidates(generated.candidates())
    assert result.ok and result.summary["imported"] == len(generated.files), result.to_dict()
