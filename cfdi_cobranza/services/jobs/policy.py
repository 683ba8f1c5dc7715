"""Each company's automatic-REP policy, and queuing the REP jobs (``services.jobs.rep``).

Light on purpose: the payment service calls ``after_apply`` in every application, and
the scheduler's ``tick`` runs every half minute; neither loads the stamping services.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Company, Payment
from cfdi_cobranza.db.models.jobs import RepPolicy
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.jobs import REP_MODE_LABELS, Policy, RepMode
from cfdi_cobranza.errors import NotFoundError
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.jobs import enqueue
from cfdi_cobranza.services.users import record_audit

MEXICO = ZoneInfo("America/Mexico_City")


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class CompanyPolicy:
    company_id: int
    rfc: str
    nombre: str | None
    policy: Policy
    stored: bool  # False: the default

    def to_dict(self) -> dict[str, Any]:
        return {"rfc": self.rfc, "nombre": self.nombre, "mode": str(self.policy.mode), "hora": self.policy.hora,
                "dia": self.policy.dia, "descripcion": self.policy.describe(), "predeterminada": not self.stored}

    @property
    def label(self) -> str:
        return REP_MODE_LABELS[self.policy.mode]


def policies(session: Session) -> list[CompanyPolicy]:
    """Every company's REP policy (the default for those never set)."""
    stored = {p.company_id: p for p in session.scalars(select(RepPolicy))}
    out = []
    for c in session.scalars(select(Company).order_by(Company.rfc)):
        row = stored.get(c.id)
        pol = Policy(RepMode(row.mode), row.hora, row.dia) if row else Policy()
        out.append(CompanyPolicy(c.id, c.rfc, c.nombre, pol, row is not None))
    return out


def policy_of(session: Session, company_id: int) -> Policy:
    row = session.get(RepPolicy, company_id)
    return Policy(RepMode(row.mode), row.hora, row.dia) if row else Policy()


def set_policy(session: Session, rfc: str, mode: str, hora: str | None = None, dia: int | str | None = None, *,
               actor: str = "sistema", clock: Clock = system_clock) -> CompanyPolicy:
    """Set a company's REP policy (``ValidationError`` for a bad mode, hour or day)."""
    company = session.scalar(select(Company).where(Company.rfc == rfc.strip().upper()))
    if company is None:
        raise NotFoundError(f"No hay ninguna empresa con RFC {rfc}.", code="EMPRESA_NO_ENCONTRADA")
    pol = Policy.parse(mode, hora, dia)
    row = session.get(RepPolicy, company.id, with_for_update=True)
    if row is None:
        row = RepPolicy(company_id=company.id)
        session.add(row)
    row.mode, row.hora, row.dia, row.updated_at, row.updated_by = pol.mode, pol.hora, pol.dia, clock(), actor
    session.flush()
    record_audit(session, actor, "politica_rep", "company", company.rfc, pol.describe(), clock=clock)
    return CompanyPolicy(company.id, company.rfc, company.nombre, pol, True)


# --------------------------------------------------------------------------- queuing


def after_apply(session: Session, payment: Payment, credit_ids: Sequence[int], requires_rep: bool, *,
                actor: str, clock: Clock) -> int | None:
    """Called by the payment service in the transaction that applied ``payment``: under
    ``al-aplicar`` queue its REP (one per payment; the key names the applications, so
    applying more of the payment later queues another). The job's id, or None."""
    if not requires_rep or not credit_ids or policy_of(session, payment.company_id).mode != RepMode.AL_APLICAR:
        return None
    job = enqueue(session, "rep.pago", {"payment_id": payment.id},
                  key=f"rep.pago:{payment.id}:{max(credit_ids)}", label=f"REP del pago {payment.id}",
                  actor=actor, clock=clock)
    return job.id


def local_now(clock: Clock) -> datetime:
    return clock().astimezone(MEXICO).replace(tzinfo=None)


def tick(engine: Engine, *, clock: Clock = system_clock) -> list[int]:
    """The scheduler's beat: queue each company's policy run that is due now (once per
    company and day: the key holds the day). Returns the ids of the runs (old or new)."""
    now = local_now(clock)
    ids = []
    with transaction(engine) as session:
        for cp in policies(session):
            day = cp.policy.run_due(now)
            if day is None:
                continue
            job = enqueue(session, "rep.politica", {"company_id": cp.company_id, "day": day.isoformat(),
                                                     "mode": str(cp.policy.mode)},
                          key=f"rep.politica:{cp.company_id}:{day.isoformat()}",
                          label=f"REP {REP_MODE_LABELS[cp.policy.mode].lower()} de {cp.rfc} ({day:%d/%m/%Y})",
                          actor="programador", clock=clock)
            ids.append(job.id)
    return ids



def queue_all_pending(session: Session, *, monthly: bool, actor: str, clock: Clock = system_clock,
                      token: str | None = None, company_ids: tuple[int, ...] | None = None) -> int:
    """Queue «Emitir pendientes» (``token``: one job per click/command, so a double
    submit of the same form queues it once; ``company_ids``: only those companies', for a
    user limited to them)."""
    stamp = token or clock().strftime("%Y%m%dT%H%M%S%f")
    args: dict[str, Any] = {"monthly": monthly}
    if company_ids is not None:
        args["company_ids"] = list(company_ids)
    job = enqueue(session, "rep.pendientes", args, key=f"rep.pendientes:{stamp}",
                  label="Emitir REP pendientes" + (" (mensual)" if monthly else ""), actor=actor, clock=clock)
    return job.id

