"""Demo data: a small but realistic portfolio, imported through the real import path.

Invoices are generated and signed with the SAT's test CSD (EKU9003173C9) and stamped
by the local sandbox (sin validez fiscal), then imported exactly as a user's files
would be, so the demo exercises verification, balances and due dates. Dates are
relative to today so every aging bucket has documents.
"""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    test_csd_dir,
)
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Document
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.payments import ReceiptInput
from cfdi_cobranza.pac.sandbox import SandboxPac
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import payments as pay
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.followups import add_follow_up
from cfdi_cobranza.services.importing import FileResult, Importer
from cfdi_cobranza.services.stamping import Stamper, register_csd
from cfdi_cobranza.services.users import add_user

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


@dataclass(frozen=True)
class DemoSeed:
    resumen: str  # what was loaded, for the user, with the demo passwords
    creados: int  # CFDI imported; 0 when the database already had documents
    usuarios: tuple[tuple[str, str, str], ...] | None = None  # (usuario, contraseña, rol)
    rechazados: tuple[FileResult, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"resumen": self.resumen, "creados": self.creados}
        if self.usuarios is not None:
            out["usuarios"] = [{"usuario": u, "contrasena": p, "rol": r} for u, p, r in self.usuarios]
        if self.rechazados is not None:
            out["rechazados"] = [r.to_dict() for r in self.rechazados]
        return out


def seed_demo(engine: Engine, settings: Settings, *, clock: Clock = system_clock, seed: int = 7) -> DemoSeed:
    with transaction(engine) as session:
        if session.scalar(select(func.count(Document.id))):
            return DemoSeed("La base ya tiene documentos: no se cargaron datos de demostración.", 0)
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
    # The demo is sandbox through and through: its documents carry the SAT test CSD, imported as "pruebas"
    # (sin validez fiscal) whatever PAC the server is configured with.
    importer = Importer(engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir], environment="test")
    result = importer.import_candidates(Candidate(f"demo-{i:03d}.xml", d.xml) for i, d in enumerate(docs))
    s = result.summary
    users = _demo_users(engine, settings, clock)
    payments, rep = _demo_payments_and_rep(engine, settings, clock, now)
    followups = _demo_followups(engine, clock)
    lines = [
        f"Datos de demostración: {s['imported']} CFDI importados para {len(DEMO_CUSTOMERS)} clientes "
        "(timbrados en sandbox, sin validez fiscal).",
        f"{payments} pagos registrados y aplicados; REP {rep or 'no emitido'} timbrado en el PAC sandbox "
        "(SIN VALIDEZ FISCAL).",
        f"{followups} seguimientos de cobranza (una promesa incumplida, una vigente, tareas para hoy).",
        "Usuarios de demostración (también en instance/demo-usuarios.txt):",
        *[f"  {u} / {p}  ({r})" for u, p, r in users],
    ]
    return DemoSeed("\n".join(lines), s["imported"], tuple(users),
                    tuple(r for r in result.results if r.status != "imported"))


DEMO_ROLES = [("admin", "administrador"), ("facturacion", "facturacion"), ("contabilidad", "contabilidad"),
              ("cobranza", "cobranza"), ("consulta", "consulta")]


def _demo_users(engine: Engine, settings: Settings, clock: Clock) -> list[tuple[str, str, str]]:
    """One user per role with a random password, printed once and kept in the instance folder."""
    created = []
    with transaction(engine) as session:
        for username, role in DEMO_ROLES:
            password = f"demo-{secrets.token_urlsafe(6)}-{secrets.randbelow(90) + 10}"
            add_user(session, username, password, role, f"Demo {role}", actor="demo", clock=clock)
            created.append((username, password, role))
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    path = settings.instance_path / "demo-usuarios.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.writelines(f"{u}\t{p}\t{r}\n" for u, p, r in created)
    return created


def _fixed(moment: datetime) -> Clock:
    return lambda: moment


def _demo_followups(engine: Engine, clock: Clock) -> int:
    """A short collection history, recorded in date order as the follow-up file requires."""
    base = clock()
    plan = [
        # (days ago it was recorded, customer, type, notes, promise in days from then, next task in days)
        (12, DEMO_CUSTOMERS[6], "llamada", "Tesorería promete transferencia.", 5, None),
        (6, DEMO_CUSTOMERS[3], "correo", "Se envió estado de cuenta en USD.", None, 6),
        (2, DEMO_CUSTOMERS[0], "visita", "Visita a compras; confirman pago parcial.", 6, 2),
        (0, DEMO_CUSTOMERS[5], "llamada", "Sin respuesta; volver a llamar.", None, 0),
    ]
    for days_ago, customer, kind, notes, promise_in, next_in in plan:
        at = base - timedelta(days=days_ago)
        day = at.astimezone().date()
        with transaction(engine) as session:
            add_follow_up(
                session, customer.rfc, tipo=kind, contacto="cobranza", notes=notes,
                promise_date=day + timedelta(days=promise_in) if promise_in is not None else None,
                promise_amount=Decimal("15000.00") if promise_in is not None else None,
                next_task_date=day + timedelta(days=next_in) if next_in is not None else None,
                clock=_fixed(at),
            )
    return len(plan)


def _demo_payments_and_rep(engine: Engine, settings: Settings, clock: Clock, now: datetime) -> tuple[int, str | None]:
    """A few receipts applied oldest-first, the test CSD registered and one REP stamped in the sandbox."""
    box = SecretBox.for_instance(settings.instance_path)
    certs = test_csd_dir()
    with transaction(engine) as session:
        register_csd(session, "EKU9003173C9", (certs / "EKU9003173C9.cer").read_bytes(),
                     (certs / "EKU9003173C9.key").read_bytes(), "12345678a", box, today=now.date(), clock=clock)
        pay.add_cash_box(session, "BBVA 0123", "banco", "BBVA", "012180001234567895")
        pay.add_cash_box(session, "Caja matriz", "caja")
    applied: list[int] = []
    for i, (customer, amount, form) in enumerate([(DEMO_CUSTOMERS[1], "25000.00", "03"),
                                                  (DEMO_CUSTOMERS[2], "12000.00", "02"),
                                                  (DEMO_CUSTOMERS[5], "8000.00", "03")]):
        with transaction(engine) as session:
            receipt = ReceiptInput(customer=customer.rfc, company="", fecha_pago=now - timedelta(days=3 - i),
                                   forma_pago=form, moneda="MXN", monto=amount,
                                   caja="BBVA 0123" if form == "03" else "Caja matriz")
            settlement = pay.register_settlement(session, [receipt], actor="demo", clock=clock)
            pid = settlement.payments[0].id
            pay.apply_oldest_first(session, pid, actor="demo", clock=clock)
            applied.append(pid)
    stamper = Stamper(engine, SandboxPac(str(settings.instance_path / "sandbox-pac")), box, clock=clock, actor="demo")
    result = stamper.issue([applied[0]])
    return len(applied), result.uuid
