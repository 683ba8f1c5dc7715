"""Sending a REP that ``issuing.prepare`` saved as ``enviando``: stamp, store, recover, retry.

The PAC is called outside any transaction with the very bytes and idempotency key that
were committed. Then, re-checked under the REP's row lock:

- stamped: the stamped XML (evidence, with its SHA-256) saved as ``timbrado``; a REP
  another sender stored meanwhile with the same UUID is answered as it is, one with
  another UUID is reported as a conflict in its place (a run goes on);
- refused by the PAC, or PAC unreachable on a first send (the transport connects before
  sending a byte: nothing left): the REP is deleted and its folio given back when it is
  still the last one taken; otherwise it stays as ``rechazado`` with the reason, so a
  folio gap always has its row. Its applications are pending again;
- no answer after sending: it stays ``enviando``; ``retry`` sends the same bytes with the
  same key and the PAC answers with the stamp it already made, so nothing is stamped twice;
- PAC unreachable on a retry: it stays ``enviando`` too, since the first send may have
  been stamped. A REP that may have reached the PAC is never deleted.

A REP already settled by another sender (a concurrent retry) is never dropped or moved.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import FolioSequence, Rep
from cfdi_cobranza.domain.findings import Finding
from cfdi_cobranza.domain.states import RepStatus
from cfdi_cobranza.errors import CobranzaError, PacError
from cfdi_cobranza.pac.base import (
    PAC_NO_DISPONIBLE,
    StampOutcome,
    StampRequest,
    StampResult,
    stamp_all,
)
from cfdi_cobranza.services.mail.outbox import queue_stamped_reps
from cfdi_cobranza.services.stamping.issuing import Prepared
from cfdi_cobranza.services.stamping.results import IssueResult, RepRefused, pac_finding, refused

if TYPE_CHECKING:
    from cfdi_cobranza.services.stamping import Stamper

# Failures after the request left: the PAC may have stamped, so the REP stays in flight
# and ``retry`` asks again with the same bytes and key.
AMBIGUOUS_CODES = {"PAC_SIN_RESPUESTA", "PAC_RESPUESTA_INVALIDA"}


def send(stamper: Stamper, prepared: Prepared, *, again: bool = False) -> IssueResult:
    """Stamp one prepared REP and store the stamp; ``RepRefused`` when the PAC refused it.
    ``again``: a retry, whose earlier send may have reached the PAC."""
    try:
        stamped = stamper.pac_of(prepared.company_id).stamp(prepared.request)
    except PacError as exc:
        return pac_failed(stamper, prepared.rep_id, exc, again=again)
    with stamper.session() as session, session.begin():
        return store(session, stamper, {prepared.rep_id: stamped})[prepared.rep_id]


def send_batch(stamper: Stamper,
               batch: Sequence[tuple[Prepared, str]]) -> tuple[dict[int, IssueResult], PacError | None]:
    """Stamp the REPs of a run one after the other, store their stamps in one transaction,
    and return the result of each (by REP id) and the error if the PAC could not be
    reached: then the REPs not sent are dropped, last folio first, so their folios go
    back (unless a later one was taken meanwhile: see ``pac_failed``). Each REP comes
    with what a refusal's message starts with."""
    prepared = [p for p, _prefix in batch]
    prefixes = {p.rep_id: prefix for p, prefix in batch}
    outcomes = _stamp_by_pac(stamper, prepared)
    stamped: dict[int, StampResult] = {}
    done: dict[int, IssueResult] = {}
    unsent: list[int] = []
    down: PacError | None = None
    for p, outcome in zip(prepared, outcomes, strict=True):
        if isinstance(outcome, StampResult):
            stamped[p.rep_id] = outcome
        elif outcome is None or outcome.code == PAC_NO_DISPONIBLE:
            down = down or outcome
            unsent.append(p.rep_id)
        else:
            done[p.rep_id] = _failed(stamper, p.rep_id, outcome, prefixes[p.rep_id])
    if stamped:
        with stamper.session() as session, session.begin():
            done.update(store(session, stamper, stamped))
    for rep_id in reversed(unsent):
        assert down is not None
        done[rep_id] = _failed(stamper, rep_id, down, prefixes[rep_id])
    return done, down


def _stamp_by_pac(stamper: Stamper, prepared: Sequence[Prepared]) -> list[StampOutcome]:
    """``stamp_all`` per PAC account (companies may have their own), outcomes in ``prepared``'s order."""
    groups: dict[int, list[int]] = {}
    pacs = {}
    for i, p in enumerate(prepared):
        pac = stamper.pac_of(p.company_id)
        groups.setdefault(id(pac), []).append(i)
        pacs[id(pac)] = pac
    outcomes: list[StampOutcome] = [None] * len(prepared)
    for key, positions in groups.items():
        for i, outcome in zip(positions, stamp_all(pacs[key], [prepared[i].request for i in positions]),
                              strict=True):
            outcomes[i] = outcome
    return outcomes


def _failed(stamper: Stamper, rep_id: int, exc: PacError, prefix: str) -> IssueResult:
    try:
        return pac_failed(stamper, rep_id, exc)
    except CobranzaError as refusal:
        return refused(refusal, prefix)


def store(session: Session, stamper: Stamper, stamped: dict[int, StampResult]) -> dict[int, IssueResult]:
    """Inside ``session``'s transaction: each stamped XML saved as ``timbrado`` (see the
    module docstring for a REP another sender settled meanwhile)."""
    rows = {r.id: r for r in session.execute(
        select(Rep.id, Rep.serie, Rep.folio, Rep.sandbox, Rep.pac, Rep.status, Rep.uuid)
        .where(Rep.id.in_(list(stamped))).with_for_update())}
    now = stamper.clock()
    changes = []
    audits: dict[int, dict[str, object]] = {}
    conflicts: dict[int, dict[str, object]] = {}
    out: dict[int, IssueResult] = {}
    for rep_id, result in stamped.items():
        row = rows.get(rep_id)
        uuid = result.uuid.upper()
        if row is None or (row.status != RepStatus.ENVIANDO and row.uuid != uuid):
            # Another stamp stored, or the REP refused, meanwhile: it stands; this one is reported.
            conflicts[rep_id] = {"uuid": uuid, "guardado": row.uuid if row else None}
            text = (f"El PAC devolvió el UUID {uuid} para un REP ya {row.status if row else 'descartado'}"
                    f"{f' con el UUID {row.uuid}' if row and row.uuid else ''}; no se guardó: revise en el PAC "
                    "si ese CFDI debe cancelarse.")
            out[rep_id] = IssueResult(row.id if row else None, RepStatus(row.status if row else RepStatus.RECHAZADO),
                                      row.uuid if row else None, findings=(Finding("REP_TIMBRE_EN_CONFLICTO", text,
                                                                                   "PAC"),), message=text)
            continue
        if row.status == RepStatus.ENVIANDO:  # else the same stamp, stored by another sender: as it is
            changes.append({"id": rep_id, "status": RepStatus.TIMBRADO, "uuid": uuid, "stamped_xml": result.xml,
                            "sha256": hashlib.sha256(result.xml).hexdigest(),
                            "fecha_timbrado": result.fecha_timbrado.replace(tzinfo=None), "stamped_at": now})
            audits[rep_id] = {"uuid": uuid, "pac": row.pac, "recuperado": result.already_stamped}
        out[rep_id] = IssueResult(
            rep_id, RepStatus(row.status).check_move(RepStatus.TIMBRADO) if row.status == RepStatus.ENVIANDO
            else RepStatus(row.status), uuid, row.serie, row.folio, row.sandbox, xml=result.xml,
            message="Timbrado" + (" (SIN VALIDEZ FISCAL: PAC sandbox)." if row.sandbox else "."))
    if changes:
        session.execute(update(Rep), changes)  # by primary key, one executemany
        # The email to the customer's pagos contacts, in this same transaction (the outbox).
        queue_stamped_reps(session, list(audits), now=now, actor=stamper.actor)
    stamper.audit(session, "timbrar_rep", audits)
    stamper.audit(session, "timbre_en_conflicto", conflicts)
    return out


def pac_failed(stamper: Stamper, rep_id: int, exc: PacError, *, again: bool = False) -> IssueResult:
    """What the PAC's error means for the REP (see the module docstring); raises
    ``RepRefused`` once the REP is refused or dropped. ``again``: see ``send``."""
    finding = pac_finding(exc)
    unreachable = exc.code == PAC_NO_DISPONIBLE
    with stamper.session() as session, session.begin():
        rep = session.get(Rep, rep_id, with_for_update=True)
        if rep is None or rep.status != RepStatus.ENVIANDO:
            # Settled by another sender while this one waited on the PAC: that stands.
            if rep is None:
                return IssueResult(None, RepStatus.RECHAZADO, findings=(finding,), message="El REP ya está descartado.")
            return IssueResult(rep.id, RepStatus(rep.status), rep.uuid, rep.serie, rep.folio, rep.sandbox,
                               xml=rep.stamped_xml, message=f"El REP ya está {rep.status}.")
        if exc.code in AMBIGUOUS_CODES or (unreachable and again):
            stamper.audit(session, "timbrado_sin_respuesta", {rep.id: {"code": exc.code}})
            return IssueResult(rep.id, RepStatus.ENVIANDO, None, rep.serie, rep.folio, rep.sandbox, (finding,),
                               message=("No se pudo contactar al PAC" if unreachable else "El PAC no respondió")
                               + "; el REP queda en envío y se recuperará con «cobranza rep retry» sin timbrar "
                                 "dos veces.")
        stamper.audit(session, "timbrado_no_enviado" if unreachable else "rep_rechazado_pac",
                      {rep.id: {"code": exc.code, "message": exc.message, "serie": rep.serie, "folio": rep.folio}})
        if not _drop(session, rep):
            # A later folio was taken meanwhile: keep the row so the gap is explained.
            rep.status = RepStatus(rep.status).check_move(RepStatus.RECHAZADO)
            rep.findings = json.dumps([finding.to_dict()], ensure_ascii=False)
    # Raised after the transaction committed: raising inside ``session.begin()`` rolls it back.
    if unreachable:
        raise RepRefused(f"No se pudo contactar al PAC; no se envió nada. {exc.message}", [finding], code=exc.code)
    raise RepRefused(f"El PAC rechazó el REP: [{exc.code}] {exc.message}", [finding], code="PAC_RECHAZO")


def _drop(session: Session, rep: Rep) -> bool:
    """Delete a REP that never got a UUID and give its folio back, only when that folio is
    the last one taken; False (nothing done) otherwise."""
    seq = session.scalar(select(FolioSequence).where(FolioSequence.company_id == rep.company_id,
                                                     FolioSequence.serie == rep.serie).with_for_update())
    if seq is None or seq.next_folio != rep.folio + 1:
        return False
    seq.next_folio = rep.folio
    for line in list(rep.lines):
        session.delete(line)
    session.flush()
    session.delete(rep)
    return True


def retry(stamper: Stamper) -> list[IssueResult]:
    """Send again every REP left in ``enviando`` (same bytes, same key: never twice)."""
    with stamper.session() as session:
        rows = session.execute(select(Rep.id, Rep.signed_xml, Rep.idempotency_key, Rep.company_id)
                               .where(Rep.status == RepStatus.ENVIANDO).order_by(Rep.id)).all()
    out = []
    for rep_id, signed_xml, key, company_id in rows:
        assert signed_xml is not None  # saved with the row, before it was ever sent
        try:
            out.append(send(stamper, Prepared(rep_id, StampRequest(signed_xml, key), company_id), again=True))
        except CobranzaError as exc:
            with stamper.session() as session:
                kept = session.get(Rep, rep_id) is not None  # deleted when its folio was the last one
            out.append(IssueResult(rep_id if kept else None, RepStatus.RECHAZADO,
                                   findings=tuple(getattr(exc, "findings", ())), message=exc.message))
    return out
