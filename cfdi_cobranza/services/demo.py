"""Demo data: a small but realistic portfolio, imported through the real import path.

Invoices are generated and signed with the SAT's test CSD (EKU9003173C9) and stamped
by the local sandbox (sin validez fiscal), then imported exactly as a user's files
would be, so the demo exercises verification, balances and due dates. Dates are
relative to today so every aging bucket has documents.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select

from cfdi_cobranza.cfdi.factory import (
    IVA16,
    RET_ISR10,
    RET_IVA_2_3,
    CfdiFactory,
    GeneratedCfdi,
    Line,
    PaidDoc,
    Receptor,
)
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Document
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.importing import Importer

DEMO_CUSTOMERS = [
    Receptor("CAC070627H79", "COMERCIALIZADORA DEL ALTIPLANO", "601", "20000", "G03"),
    Receptor("DME980512KJ3", "DISTRIBUIDORA MEDICA DEL BAJIO", "601", "37000", "G03"),
    Receptor("FOMJ8106119D6", "JUAN FLORES MARTINEZ", "612", "64000", "G03"),
    Receptor("IAT150302QW1", "INDUSTRIAS ACEROS DE TAMAULIPAS", "601", "89000", "G01"),
    Receptor("LOGR7704213A2", "ROSA LOPEZ GARCIA", "612", "44100", "G03"),
    Receptor("SCO1203078N5", "SERVICIOS CONTABLES DE OCCIDENTE", "601", "45050", "G03"),
    Receptor("TNO160830RT4", "TRANSPORTES DEL NORTE OCCIDENTAL", "601", "80000", "G03"),
    Receptor("VMA111111AB7", "VINOS Y MAS DE AGUASCALIENTES", "601", "20010", "G01"),
]
# Days before today and terms, chosen so that every aging bucket has documents.
DEMO_AGES = [3, 10, 25, 40, 48, 65, 80, 95, 120, 150]


def seed_demo(engine: Engine, settings: Settings, *, clock: Clock = system_clock, seed: int = 7) -> dict[str, Any]:
    with transaction(engine) as session:
        if session.scalar(select(func.count(Document.id))):
            return {"resumen": "La base ya tiene documentos: no se cargaron datos de demostración.", "creados": 0}
    rng = random.Random(seed)
    now = clock().astimezone().replace(tzinfo=None, microsecond=0)
    factory = CfdiFactory(settings.instance_path / "sandbox", clock=lambda: now)
    docs: list[GeneratedCfdi] = []
    folio = 100
    for ci, customer in enumerate(DEMO_CUSTOMERS):
        for age in DEMO_AGES[ci % 3 :: 2]:
            folio += 1
            fecha = now - timedelta(days=age, hours=rng.randint(0, 6))
            amount = Decimal(rng.randint(1500, 90000)) + Decimal(rng.choice(["0.00", "0.50", "0.99", "0.25"]))
            taxes = (IVA16, RET_ISR10, RET_IVA_2_3) if customer.regimen == "601" and ci % 4 == 3 else (IVA16,)
            usd = ci == 3 and age < 60
            docs.append(factory.invoice(
                [Line(amount, descripcion="Servicio de mantenimiento industrial", taxes=taxes)],
                receptor=customer, serie="A", folio=str(folio), fecha=fecha,
                moneda="USD" if usd else "MXN", tipo_cambio=Decimal("17.2345") if usd else None,
                metodo="PUE" if ci == 4 else "PPD", forma="03" if ci == 4 else "99",
                condiciones=rng.choice([None, "Crédito 30 días", "Crédito 15 días", "NETO 45"]),
            ))
    # A credit note and a complement issued by "another system", so balances show them.
    first, second = docs[0], docs[3]
    docs.append(factory.credit_note(first.uuid, [Line(Decimal("500.00"), descripcion="Bonificación")],
                                    receptor=DEMO_CUSTOMERS[0], folio="9001", fecha=now - timedelta(days=2)))
    half = (second.total / 2).quantize(Decimal("0.01"))
    docs.append(factory.payment([PaidDoc(second.uuid, 1, second.total, half, iva=IVA16)],
                                receptor=DEMO_CUSTOMERS[0], folio="8001", fecha_pago=now - timedelta(days=1)))
    importer = Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir])
    result = importer.import_candidates(Candidate(f"demo-{i:03d}.xml", d.xml) for i, d in enumerate(docs))
    s = result.summary
    return {
        "resumen": f"Datos de demostración: {s['imported']} CFDI importados para {len(DEMO_CUSTOMERS)} clientes "
        "(timbrados en sandbox, sin validez fiscal).",
        "creados": s["imported"],
        "rechazados": [r.to_dict() for r in result.results if r.status != "imported"],
    }
