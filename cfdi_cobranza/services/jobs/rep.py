"""Automatic REP: each company's policy, the jobs that issue REPs, and the scheduler's tick.

The jobs only call the stamping services (``services.stamping``): a REP is built, saved
signed as ``enviando`` and sent by them, and one that may have reached the PAC is sent
again with the same bytes and idempotency key (``sending.send(..., again=True)``), so a
job run twice after a crash recovers the first stamp instead of making a second.

- ``rep.pago`` (policy ``al-aplicar``): the REP of one payment, queued by the payment
  service in the same transaction that applied it (``after_apply``).
- ``rep.politica`` (``diario`` / ``mensual``): a company's pending REPs for one day,
  queued by ``tick`` under the key ``rep.politica:<company>:<day>`` (once per day).
- ``rep.pendientes``: «Emitir pendientes» from the web or ``rep issue --all-pending
  --background``, with progress.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Credit, Payment, Rep, RepLine
from cfdi_cobranza.db.session import session_factory, transaction
from cfdi_cobranza.domain.jobs import RepMode
from cfdi_cobranza.domain.states import RepStatus
from cfdi_cobranza.errors import CobranzaError, NotFoundError
from cfdi_cobranza.pac.base import Pac, StampRequest, StampResult
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import stamping
from cfdi_cobranza.services.jobs import JobContext, RetryLater, Runtime, job_kind
from cfdi_cobranza.services.settings import company_pacs, pac_for
from cfdi_cobranza.services.stamping import sending
from cfdi_cobranza.services.stamping.issuing import Prepared
from cfdi_cobranza.services.stamping.queries import uncovered_credits

MEXICO = ZoneInfo("America/Mexico_City")
CHUNK = 25  # REPs per progress step of a run
# A PAC that refused the connection (or its rate limit) is asked again after these
# pauses within the same attempt; then the job goes back to the queue (retry_delay).
PAC_PAUSES = (0.5, 2.0)


PAC_CONCURRENCY = int(os.environ.get("COBRANZA_PAC_CONCURRENCY", "8"))
_pac_slots: dict[str, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


class BoundedPac:
    """A PAC account used by at most ``COBRANZA_PAC_CONCURRENCY`` stamps at once in
    this worker process (its threads share the slots); everything else passes through."""

    def __init__(self, pac: Pac, account: str, slots: int = PAC_CONCURRENCY) -> None:
        self.pac = pac
        with _slots_lock:
            self.slots = _pac_slots.setdefault(account, threading.BoundedSemaphore(max(1, slots)))

    def stamp(self, request: StampRequest) -> StampResult:
        with self.slots:
            return self.pac.stamp(request)

    def recover(self, request: StampRequest) -> StampResult | None:
        with self.slots:
            return self.pac.recover(request)

    def __getattr__(self, name: str) -> Any:
        if name == "stamp_batch":  # one at a time through ``stamp``, within the slots
            raise AttributeError(name)
        return getattr(self.pac, name)


def default_stamper(runtime: Runtime) -> stamping.Stamper:
    """The Stamper a worker uses: the instance's PAC and secret box."""
    if runtime.instance_path is None:
        raise NotFoundError("El trabajador no tiene carpeta de instancia (COBRANZA_INSTANCE).",
                            code="INSTANCIA_NO_CONFIGURADA")
    box = SecretBox.for_instance(runtime.instance_path)
    with transaction(runtime.engine) as session:
        pac = pac_for(session, box, runtime.instance_path)
        own = company_pacs(session, box, runtime.instance_path)  # companies with a PAC account of their own

    def bounded(p: Pac) -> Pac:  # one set of slots per PAC account
        return BoundedPac(p, f"{getattr(p, 'name', 'pac')}:{getattr(p, 'user', '') or ''}")

    return stamping.Stamper(runtime.engine, bounded(pac), box, clock=runtime.clock, actor="tareas",
                            deadline_day=Settings.from_env().rep_deadline_day,
                            company_pacs={cid: bounded(p) for cid, p in own.items()})


# --------------------------------------------------------------------------- the jobs


def _in_flight(session: Session, payment_ids: Iterable[int], company_id: int | None = None, *,
               everything: bool = False) -> list[Prepared]:
    """REPs left ``enviando`` (signed, maybe at the PAC) covering ``payment_ids`` (or,
    with ``company_id`` and no payments, all of the company's; ``everything``: all)."""
    stmt = select(Rep.id, Rep.signed_xml, Rep.idempotency_key, Rep.company_id).where(Rep.status == RepStatus.ENVIANDO)
    ids = list(payment_ids)
    if ids:
        stmt = stmt.where(Rep.id.in_(select(RepLine.rep_id).join(Credit, Credit.id == RepLine.credit_id)
                                     .where(Credit.payment_id.in_(ids))))
    elif company_id is not None:
        stmt = stmt.where(Rep.company_id == company_id)
    elif not everything:
        return []
    return [Prepared(rid, StampRequest(xml, key), cid) for rid, xml, key, cid in session.execute(stmt.order_by(Rep.id))
            if xml is not None]


def _resend(stamper: stamping.Stamper, prepared: Sequence[Prepared]) -> list[stamping.IssueResult]:
    """Send again the REPs a crashed run left in flight: same bytes, same key."""
    out = []
    for p in prepared:
        try:
            out.append(sending.send(stamper, p, again=True))
        except CobranzaError as exc:
            out.append(stamping.IssueResult(None, RepStatus.RECHAZADO, message=exc.message,
                                            findings=tuple(getattr(exc, "findings", ()))))
    return out


def _summary(results: Sequence[stamping.IssueResult]) -> dict[str, Any]:
    stamped = [r for r in results if r.status == RepStatus.TIMBRADO]
    return {"timbrados": len(stamped), "uuids": [r.uuid for r in stamped][:50],
            "no_timbrados": [{"status": str(r.status), "message": r.message,
                              "code": r.findings[0].code if r.findings else None}
                             for r in results if r.status != RepStatus.TIMBRADO][:50]}


def _raise_for(results: Sequence[stamping.IssueResult], summary: Mapping[str, Any]) -> None:
    """A run whose REPs are left in flight or were not tried because the PAC was away is
    retried later (it only picks up what is still pending); a refusal fails the job."""
    waiting = [r for r in results if r.status == RepStatus.ENVIANDO
               or (r.findings and r.findings[0].code in {"PAC_NO_DISPONIBLE", "PAC_SIN_RESPUESTA"})]
    if waiting:
        raise RetryLater(f"{len(waiting)} REP quedaron sin timbrar porque el PAC no respondió; se reintentará. "
                         f"{waiting[0].message or ''}".strip(), code="PAC_NO_DISPONIBLE")
    refused = [r for r in results if r.status != RepStatus.TIMBRADO]
    if refused:
        first = refused[0]
        code = first.findings[0].code if first.findings else "REP_NO_EMITIDO"
        raise CobranzaError(f"{len(refused)} REP no se emitieron. {first.message or ''}".strip(), code=code)


@job_kind("rep.pago", "REP de un pago")
def issue_for_payment(ctx: JobContext) -> Mapping[str, Any]:
    """The REP of one payment (``al-aplicar``); run twice, it stamps once."""
    payment_id = int(ctx.args["payment_id"])
    stamper = ctx.runtime.stamper()
    ctx.progress(0, 1)
    with session_factory(ctx.runtime.engine)() as session:
        if session.get(Payment, payment_id) is None:
            raise NotFoundError(f"No existe el pago {payment_id}.", code="PAGO_NO_ENCONTRADO")
        in_flight = _in_flight(session, [payment_id])
        uncovered = uncovered_credits(session, [payment_id]).get(payment_id, [])
    results = _resend(stamper, in_flight)
    for pause in (*PAC_PAUSES, None) if uncovered else ():
        try:
            results.append(stamper.issue([payment_id]))
            break
        except CobranzaError as exc:
            if exc.code == "PAC_NO_DISPONIBLE" and pause is not None:
                time.sleep(pause)  # nothing was sent and the folio went back: try again shortly
                continue
            results.append(stamping.IssueResult(None, RepStatus.RECHAZADO, message=exc.message,
                                                findings=tuple(getattr(exc, "findings", ()))
                                                or (stamping.Finding(exc.code, exc.message, "PAC"),)))
    summary = _summary(results)
    _raise_for(results, summary)
    ctx.progress(1, 1)
    return summary if results else {"timbrados": 0, "mensaje": "El pago ya tenía su REP."}


def _run_groups(ctx: JobContext, stamper: stamping.Stamper, in_flight: Sequence[Prepared],
                groups: Sequence[Sequence[int]]) -> Mapping[str, Any]:
    total = len(in_flight) + len(groups)
    ctx.progress(0, total)
    results = _resend(stamper, in_flight)
    done = len(results)
    ctx.progress(done, total)
    for start in range(0, len(groups), CHUNK):
        part = groups[start:start + CHUNK]
        results.extend(stamper.issue_many(part))
        done += len(part)
        ctx.progress(done, total)
    summary = _summary(results)
    _raise_for(results, summary)
    return summary


def _pending_groups(session: Session, stamper: stamping.Stamper, *, company_id: int | None, monthly: bool,
                    before: date | None = None, company_ids: Sequence[int] | None = None) -> list[list[int]]:
    pend = stamping.pending(session, today=stamper.local().date(), deadline_day=stamper.deadline_day)
    groups: dict[tuple[int, int, str], list[int]] = defaultdict(list)
    for p in pend:
        if company_id is not None and p.company_id != company_id:
            continue
        if company_ids is not None and p.company_id not in company_ids:
            continue  # queued by a user limited to some companies
        if before is not None and p.fecha_pago.date() >= before:
            continue
        key = (p.customer_id, p.company_id, p.fecha_pago.strftime("%Y-%m")) if monthly else (p.payment_id, 0, "")
        groups[key].append(p.payment_id)
    return list(groups.values())


@job_kind("rep.politica", "REP programados de una empresa")
def policy_run(ctx: JobContext) -> Mapping[str, Any]:
    """A company's ``diario`` run (one REP per pending payment) or ``mensual`` run (one
    REP per customer and month, for the months before ``day``'s)."""
    company_id, day, mode = int(ctx.args["company_id"]), date.fromisoformat(ctx.args["day"]), ctx.args["mode"]
    stamper = ctx.runtime.stamper()
    monthly = mode == RepMode.MENSUAL
    with session_factory(ctx.runtime.engine)() as session:
        in_flight = _in_flight(session, [], company_id)
        groups = _pending_groups(session, stamper, company_id=company_id, monthly=monthly,
                                 before=day.replace(day=1) if monthly else None)
    return _run_groups(ctx, stamper, in_flight, groups)


@job_kind("rep.pendientes", "Emitir REP pendientes")
def all_pending(ctx: JobContext) -> Mapping[str, Any]:
    """Every pending REP of every company (``monthly``: one per customer and month), or of
    the companies of the user who queued it (``company_ids``: a user limited to some)."""
    stamper = ctx.runtime.stamper()
    only = ctx.args.get("company_ids")
    with session_factory(ctx.runtime.engine)() as session:
        in_flight = [p for p in _in_flight(session, [], None, everything=True)
                     if only is None or p.company_id in only]
        groups = _pending_groups(session, stamper, company_id=None, monthly=bool(ctx.args.get("monthly")),
                                 company_ids=only)
    return _run_groups(ctx, stamper, in_flight, groups)
