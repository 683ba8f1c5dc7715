"""Cancelling a stamped REP; motive 01 first issues and stamps its replacement
(TipoRelacion 04), which the cancellation then cites (FolioSustitucion)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from cfdi_cobranza.db.models import Company, Customer, Rep
from cfdi_cobranza.domain.findings import Finding
from cfdi_cobranza.domain.states import LIVE_REP_STATUSES, RepStatus
from cfdi_cobranza.errors import ConflictError, PacError, ValidationError
from cfdi_cobranza.pac.base import CancelRequest
from cfdi_cobranza.services.stamping.issuing import active_csds
from cfdi_cobranza.services.stamping.queries import find_rep
from cfdi_cobranza.services.stamping.results import (
    CancelResult,
    IssueResult,
    RepRefused,
    pac_finding,
)

if TYPE_CHECKING:
    from cfdi_cobranza.services.stamping import Stamper


def _check_motive(motivo: str, replace: bool) -> None:
    if motivo not in ("01", "02", "03", "04"):
        raise ValidationError("El motivo de cancelación debe ser 01, 02, 03 o 04.", code="CANCELACION_MOTIVO_INVALIDO")
    if motivo == "01" and not replace:
        raise ValidationError("El motivo 01 exige sustituir el REP: use --replace.", code="CANCELACION_SIN_SUSTITUTO")
    if replace and motivo != "01":
        raise ValidationError("Solo el motivo 01 lleva un REP sustituto.", code="CANCELACION_FOLIO_SUSTITUCION")


def _back_to_stamped(stamper: Stamper, rep_id: int) -> None:
    """The REP back to ``timbrado`` if it is still ``sustituyendo``."""
    with stamper.session() as session, session.begin():
        rep = session.get(Rep, rep_id, with_for_update=True)
        assert rep is not None
        if rep.status == RepStatus.SUSTITUYENDO:
            rep.status = RepStatus(rep.status).check_move(RepStatus.TIMBRADO)


def resume_interrupted(stamper: Stamper) -> list[IssueResult]:
    """REPs left ``sustituyendo`` by a cancellation that stopped half-way (a crash while
    sending the replacement) go back to ``timbrado`` once no replacement of theirs is in
    flight (``enviando``); a stamped replacement is reused when the cancellation is asked
    again. A REP is marked ``sustituyendo`` in the transaction that saves its replacement
    (``Stamper.issue``), so one without a replacement in flight is never mid-substitution."""
    in_flight = select(Rep.replaces_id).where(Rep.status == RepStatus.ENVIANDO, Rep.replaces_id.is_not(None))
    with stamper.session() as session, session.begin():
        reps = session.scalars(select(Rep).where(Rep.status == RepStatus.SUSTITUYENDO, Rep.id.not_in(in_flight))
                               .order_by(Rep.id).with_for_update()).all()
        for rep in reps:
            rep.status = RepStatus(rep.status).check_move(RepStatus.TIMBRADO)
        stamper.audit(session, "sustitucion_interrumpida", {rep.id: {"uuid": rep.uuid} for rep in reps})
        return [IssueResult(rep.id, RepStatus.TIMBRADO, rep.uuid, rep.serie, rep.folio, rep.sandbox,
                            message="La sustitución se interrumpió; el REP sigue timbrado (vigente). Solicite "
                                    "de nuevo la cancelación si aún procede.") for rep in reps]


def _replacement(stamper: Stamper, old: Rep, payment_ids: list[int], credit_ids: list[int]) -> IssueResult:
    """The stamped replacement of ``old``. One stamped by an earlier attempt whose
    cancellation failed is reused: another would leave two live REPs for one payment."""
    with stamper.session() as session:
        earlier = session.scalar(select(Rep).where(Rep.replaces_id == old.id, Rep.status.in_(LIVE_REP_STATUSES)))
        if earlier is not None and earlier.status == RepStatus.ENVIANDO:
            raise RepRefused(f"El REP sustituto (folio {earlier.folio}) quedó en envío: ejecute «cobranza rep "
                             "retry» y solicite de nuevo la cancelación.", code="SUSTITUTO_NO_TIMBRADO")
        if earlier is not None:
            return IssueResult(earlier.id, RepStatus(earlier.status), earlier.uuid, earlier.serie, earlier.folio,
                               earlier.sandbox)
    try:  # ``issue`` marks ``old`` sustituyendo with its replacement's row
        replacement = stamper.issue(payment_ids, replaces=old, credit_ids=credit_ids)
    finally:
        _back_to_stamped(stamper, old.id)  # unless ``rep retry`` did (``resume_interrupted``)
    if replacement.status != RepStatus.TIMBRADO:
        raise RepRefused("El REP sustituto no quedó timbrado; no se canceló el original.",
                         replacement.findings, code="SUSTITUTO_NO_TIMBRADO")
    return replacement


def cancel(stamper: Stamper, uuid: str, motivo: str, *, replace: bool = False) -> CancelResult:
    """Cancel a stamped REP; motive 01 first issues its replacement."""
    _check_motive(motivo, replace)
    with stamper.session() as session:
        old = find_rep(session, uuid)
        if old.status != RepStatus.TIMBRADO:
            raise ConflictError(f"El REP {old.uuid} está {old.status}; solo se cancela uno timbrado.",
                                code="REP_NO_CANCELABLE")
        company = session.get(Company, old.company_id)
        customer = session.get(Customer, old.customer_id)
        assert company is not None and customer is not None and old.uuid is not None
        csd = stamper.csd(company, active_csds(session, [company.id]).get(company.id))
        credit_ids = [line.credit_id for line in old.lines]
        payment_ids = sorted({line.payment_id for line in old.lines})
    replacement = _replacement(stamper, old, payment_ids, credit_ids) if replace else None
    request = CancelRequest(uuid=old.uuid, rfc_emisor=company.rfc, rfc_receptor=customer.rfc, total="0",
                            motivo=motivo, folio_sustitucion=replacement.uuid if replacement else None,
                            csd=csd.credentials)
    try:
        result = stamper.pac_of(company.id).cancel(request)
    except PacError as exc:
        note = (f" El sustituto {replacement.uuid} ya está timbrado; al reintentar la cancelación se "
                "reutilizará." if replacement else "")
        raise RepRefused(f"El PAC/SAT rechazó la cancelación: [{exc.code}] {exc.message}.{note}",
                         [pac_finding(exc)], code="CANCELACION_RECHAZADA") from exc
    with stamper.session() as session, session.begin():
        rep = session.get(Rep, old.id, with_for_update=True)
        assert rep is not None
        rep.cancel_motivo = motivo
        rep.cancel_folio_sustitucion = replacement.uuid if replacement else None
        rep.cancel_acuse = result.acuse
        rep.cancel_message = (result.message or "")[:500] or None
        if result.status == "cancelado":
            rep.status = RepStatus(rep.status).check_move(RepStatus.SUSTITUIDO if replacement else RepStatus.CANCELADO)
            rep.cancelled_at = stamper.clock()
        elif result.status == "en_proceso":
            rep.status = RepStatus(rep.status).check_move(RepStatus.CANCELACION_SOLICITADA)
        stamper.audit(session, "cancelar_rep", {rep.id: {"uuid": rep.uuid, "motivo": motivo,
                                                         "resultado": result.status,
                                                         "sustituto": rep.cancel_folio_sustitucion}})
        status = RepStatus(rep.status)
    if result.status == "rechazado":
        raise RepRefused(f"El PAC/SAT rechazó la cancelación: [{result.code}] {result.message}",
                         [Finding(result.code or "PAC", result.message or "", "PAC")],
                         code="CANCELACION_RECHAZADA")
    return CancelResult(old.uuid, status, motivo, replacement)
