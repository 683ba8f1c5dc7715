"""Issue, stamp, cancel and substitute payment complements (REP).

The flow for one REP, built so that a failure never leaves anything half-done and a
retry never stamps twice, in three parts a reader can take one at a time:

1. ``issuing``: in one transaction, read its inputs, compute, sign and validate the REP;
   only once it passed take its folio and save it as ``enviando`` with the signed bytes
   and a fixed idempotency key. A refused REP writes nothing and takes no folio.
2. ``sending``: call the PAC with those bytes and that key, outside any transaction,
   then store the stamp in a second transaction (or record what the PAC's error means).
3. ``cancelling``: cancel a stamped REP, issuing its replacement first for motive 01.

``queries`` answers what the CLI, the web and the API ask about REPs; ``results`` holds
what these services return. ``Stamper`` ties them to one database, PAC and secret box.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.orm import Session

from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import AuditEntry, Company, CompanyCsd, Rep
from cfdi_cobranza.db.scope import limit_to_companies
from cfdi_cobranza.db.session import session_factory
from cfdi_cobranza.domain.findings import Finding
from cfdi_cobranza.domain.states import LIVE_REP_STATUSES, RepStatus
from cfdi_cobranza.errors import CertificateError, CobranzaError, ConflictError, PacError
from cfdi_cobranza.pac.base import Pac
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import settings as app_settings
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.stamping import cancelling, sending
from cfdi_cobranza.services.stamping.issuing import (
    InvoiceCache,
    LoadedCsd,
    Prepared,
    Signed,
    open_csd,
    prepare,
    read_inputs,
    register_csd,
    save,
)
from cfdi_cobranza.services.stamping.queries import (
    LateRep,
    PendingPayment,
    deadline_for,
    find_rep,
    late_reps,
    list_reps,
    pending,
    rep_dict,
    rep_files,
    reps_with_customers,
)
from cfdi_cobranza.services.stamping.results import (
    CancelResult,
    IssueResult,
    RepRefused,
    pac_finding,
    refused,
)

__all__ = [
    "CancelResult", "Finding", "IssueResult", "LateRep", "PendingPayment", "RepRefused", "Stamper",
    "configured_stamper", "deadline_for", "find_rep", "late_reps", "list_reps", "pending", "register_csd", "rep_dict",
    "rep_files", "reps_with_customers",
]

MEXICO = ZoneInfo("America/Mexico_City")
_INSERT_AUDIT = insert(cast(Table, AuditEntry.__table__))


@dataclass
class Stamper:
    """Issues, sends and cancels REPs for one database with one PAC and one secret box."""

    engine: Engine
    pac: Pac
    box: SecretBox
    clock: Clock = system_clock
    deadline_day: int = 5
    actor: str = "sistema"
    now_local: Callable[[], datetime] | None = None
    # Companies the caller may see (a limited web user): the others' payments and REPs do not exist.
    company_ids: tuple[int, ...] | None = None
    # Companies with a PAC account of their own (``services.settings.company_pacs``); the rest use ``pac``.
    company_pacs: Mapping[int, Pac] = field(default_factory=dict)

    # Opened once per Stamper (unsealing and loading the key costs ~35 ms), per CSD and day.
    _csds: dict[tuple[int, bytes, date], LoadedCsd] = field(default_factory=dict, repr=False)
    invoices: InvoiceCache = field(default_factory=dict, repr=False)

    # -- what the parts share ------------------------------------------------------------
    def session(self) -> Session:
        session = session_factory(self.engine)()
        limit_to_companies(session, self.company_ids)
        return session

    def pac_of(self, company_id: int | None) -> Pac:
        """The PAC that stamps and cancels the REPs of ``company_id``."""
        if company_id is None:
            return self.pac
        return self.company_pacs.get(company_id, self.pac)

    def local(self) -> datetime:
        """Now in Mexico City, as the REP's Fecha is written."""
        if self.now_local is not None:
            return self.now_local()
        return self.clock().astimezone(MEXICO).replace(tzinfo=None, microsecond=0)

    def csd(self, company: Company, row: CompanyCsd | None) -> LoadedCsd:
        """``row``, the company's active CSD, opened (``CertificateError`` when it has none)."""
        if row is None:
            raise CertificateError(
                f"La empresa {company.rfc} no tiene CSD registrado: use «cobranza company csd --rfc {company.rfc} "
                "--cer ARCHIVO.cer --key ARCHIVO.key».", code="CSD_NO_REGISTRADO")
        today = self.local().date()
        key = (company.id, row.key_sealed, today)
        if key not in self._csds:
            self._csds[key] = open_csd(row, company, self.box, today=today)
        return self._csds[key]

    def audit(self, session: Session, action: str, details: dict[int, dict[str, Any]]) -> None:
        """One audit entry per REP id in ``details`` (one statement for all, none for none)."""
        if not details:
            return
        at = self.clock()
        session.execute(_INSERT_AUDIT, [{"at": at, "actor": self.actor, "action": action, "entity": "rep",
                                         "entity_id": str(rep_id),
                                         "detail": json.dumps(detail, ensure_ascii=False, default=str)}
                                        for rep_id, detail in details.items()])

    # -- issuing -------------------------------------------------------------------------
    def issue(self, payment_ids: Sequence[int], *, replaces: Rep | None = None,
              credit_ids: Sequence[int] | None = None) -> IssueResult:
        """One REP covering ``payment_ids`` (all of one customer and company); the REP it
        ``replaces`` becomes ``sustituyendo`` in the same transaction (see ``cancelling``)."""
        with self.session() as session, session.begin():
            if replaces is not None:  # locked first: one replacement at a time, and only one
                old = session.get(Rep, replaces.id, with_for_update=True)
                assert old is not None
                old.status = RepStatus(old.status).check_move(RepStatus.SUSTITUYENDO)
                if session.scalar(select(Rep.id).where(Rep.replaces_id == old.id,
                                                       Rep.status.in_(LIVE_REP_STATUSES))) is not None:
                    raise ConflictError("Este REP ya tiene un sustituto vigente; solicite de nuevo la cancelación "
                                        "para reutilizarlo.", code="REP_SUSTITUTO_VIGENTE")
            (inputs,) = read_inputs(session, [payment_ids], credit_ids=credit_ids)
            (prepared,) = save(session, self, [prepare(session, self, inputs, replaces=replaces)])
        return sending.send(self, prepared)

    def issue_each(self, payment_ids: Sequence[int]) -> list[IssueResult]:
        """One REP per payment (a month-end run); see ``issue_many``."""
        return self.issue_many([[pid] for pid in payment_ids], label="Pago")

    def issue_all_pending(self, *, monthly: bool = False) -> list[IssueResult]:
        with self.session() as session:
            pend = pending(session, today=self.local().date(), deadline_day=self.deadline_day)
        # One REP per customer record and company and month (generic RFCs are many customers).
        groups: dict[tuple[int, int, str], list[int]] = defaultdict(list)
        for p in pend:
            key = (p.customer_id, p.company_id, p.fecha_pago.strftime("%Y-%m")) if monthly else (p.payment_id, 0, "")
            groups[key].append(p.payment_id)
        return self.issue_many(list(groups.values()))

    def issue_many(self, groups: Sequence[Sequence[int]], *, chunk: int = 50,
                   label: str = "Pagos") -> list[IssueResult]:
        """One REP per group of payment ids, results in order; a plain loop over chunks.

        In one transaction per chunk, its inputs are read at once, its REPs prepared one
        after the other (each exactly as ``issue`` does: a group that cannot be issued
        takes no folio; it is reported in its place and the others go on) and saved
        together; then they are sent one after the other and their stamps stored in a
        second transaction. Once the PAC cannot be reached, the REPs not yet sent are
        dropped (their folios given back, as ``sending`` says) and the groups left are
        not attempted.
        """
        results: list[IssueResult] = []
        down: PacError | None = None
        for start in range(0, len(groups), max(1, chunk)):
            part = [list(ids) for ids in groups[start:start + max(1, chunk)]]
            prefixes = [f"{label} {', '.join(map(str, ids))}: " for ids in part]
            if down is not None:
                not_tried = RepRefused(f"No se intentó: no se pudo contactar al PAC. {down.message}",
                                       [pac_finding(down)], code=down.code)
                results.extend(refused(not_tried, prefix) for prefix in prefixes)
                continue
            outcomes: list[Signed | IssueResult] = []
            covered: set[int] = set()  # a payment in two groups is covered by the first REP
            with self.session() as session, session.begin():
                for inputs, prefix in zip(read_inputs(session, part), prefixes, strict=True):
                    try:
                        signed = prepare(session, self, inputs.without(covered))
                    except CobranzaError as exc:
                        outcomes.append(refused(exc, prefix))
                    else:
                        covered.update(c.id for c in signed.credits)
                        outcomes.append(signed)
                saved = iter(save(session, self, [o for o in outcomes if isinstance(o, Signed)]))
            prepared = [next(saved) if isinstance(o, Signed) else o for o in outcomes]
            done, down = sending.send_batch(self, [(o, prefix) for o, prefix in zip(prepared, prefixes, strict=True)
                                                   if isinstance(o, Prepared)])
            results.extend(done[o.rep_id] if isinstance(o, Prepared) else o for o in prepared)
        return results

    # -- sending and cancelling ----------------------------------------------------------
    def retry(self) -> list[IssueResult]:
        """Send again every REP left in ``enviando`` (same bytes, same key: never twice),
        then end the substitutions a crash interrupted (``cancelling.resume_interrupted``)."""
        return sending.retry(self) + cancelling.resume_interrupted(self)

    def cancel(self, uuid: str, motivo: str, *, replace: bool = False) -> CancelResult:
        """Cancel a stamped REP; motive 01 first issues its replacement (TipoRelacion 04)."""
        return cancelling.cancel(self, uuid, motivo, replace=replace)



def configured_stamper(engine: Engine, settings: Settings, *, actor: str, clock: Clock = system_clock,
                       company_ids: tuple[int, ...] | None = None) -> Stamper:
    """The Stamper the CLI, the web and the API use: the PAC of ``services.settings.pac_for``
    (environment, else Configuración, else the sandbox), each company's own PAC account
    where it has one, the instance's secret box. Call with no open transaction on
    ``engine`` (SQLite: the settings are read in their own)."""
    box = SecretBox.for_instance(settings.instance_path)
    with session_factory(engine)() as session, session.begin():
        pac = app_settings.pac_for(session, box, settings.instance_path)
        own = app_settings.company_pacs(session, box, settings.instance_path)
    return Stamper(engine, pac, box, clock=clock, actor=actor, deadline_day=settings.rep_deadline_day,
                   company_ids=company_ids, company_pacs=own)
