"""Which companies a user may see (an accounting firm serving many client companies).

A user without ``UserCompany`` rows sees every company; with rows, only those: the web
and the API limit the request's session with :func:`cfdi_cobranza.db.scope.limit_to_companies`
(see that module for what "see" means). Administrators manage users and settings of
the whole installation, so they are never limited: limiting one is refused, and a
limited user promoted to administrator sees everything. API tokens act with their
creator's companies.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Company
from cfdi_cobranza.db.models.users import User, UserCompany
from cfdi_cobranza.domain import rfc as rfc_rules
from cfdi_cobranza.errors import NotFoundError, ValidationError
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.users import ADMIN_ROLE, get_user, record_audit


def allowed_company_ids(session: Session, user: User | None) -> tuple[int, ...] | None:
    """The company ids ``user`` is limited to, or ``None`` for every company."""
    if user is None or user.role == ADMIN_ROLE:
        return None
    ids = tuple(session.scalars(select(UserCompany.company_id).where(UserCompany.user_id == user.id)
                                .order_by(UserCompany.company_id)))
    return ids or None


def user_company_rfcs(session: Session, user: User) -> list[str]:
    """RFCs of the companies ``user`` is limited to (empty: all of them)."""
    return list(session.scalars(
        select(Company.rfc).join(UserCompany, UserCompany.company_id == Company.id)
        .where(UserCompany.user_id == user.id).order_by(Company.rfc)))


def set_user_companies(session: Session, username: str, rfcs: Iterable[str], *, actor: str,
                       clock: Clock = system_clock) -> list[str]:
    """Limit ``username`` to the companies ``rfcs`` (empty: every company). Audited."""
    user = get_user(session, username)
    wanted = sorted({rfc_rules.compact(r) for r in rfcs if r.strip()})
    if wanted and user.role == ADMIN_ROLE:
        raise ValidationError(
            f"«{user.username}» es administrador: los administradores ven todas las empresas. "
            "Cambie su rol antes de limitarlo a algunas.", code="ADMINISTRADOR_SIN_LIMITE")
    companies = {c.rfc: c for c in session.scalars(select(Company).where(Company.rfc.in_(wanted)))}
    unknown = [r for r in wanted if r not in companies]
    if unknown:
        raise NotFoundError(f"No existe la empresa {', '.join(unknown)}.", code="EMPRESA_NO_ENCONTRADA")
    before = user_company_rfcs(session, user)
    if before == wanted:
        return wanted
    session.execute(delete(UserCompany).where(UserCompany.user_id == user.id))
    session.add_all(UserCompany(user_id=user.id, company_id=companies[r].id) for r in wanted)
    # Pages already open must not keep showing the companies taken away.
    user.session_epoch = (user.session_epoch or 0) + 1
    record_audit(session, actor, "empresas_usuario", "usuario", user.username,
                 f"{','.join(before) or 'todas'} -> {','.join(wanted) or 'todas'}", clock=clock)
    return wanted


__all__ = ["allowed_company_ids", "set_user_companies", "user_company_rfcs"]
