"""Companies are boundaries: a session limited to some companies sees nothing else.

Accounting firms run one installation for many client companies. A user limited to
some companies (``UserCompany`` rows) gets a database session carrying those company
ids (:func:`limit_to_companies`); from then on every ORM statement the session runs
(SELECT, and ORM-enabled UPDATE and DELETE, including ``Session.get`` and lazy loads)
gets the criteria of :func:`_criteria` added by one ``do_orm_execute`` listener:

- companies, documents, payments, REPs, CSDs and folio sequences of other companies are
  invisible;
- a customer is visible when a visible company invoiced it or received a payment from
  it; its credit conditions, notes, follow-ups, debt documents, settlements, email
  contacts and customer links follow it; email messages follow their company.

So a list shows only those rows and a detail page looked up by another company's id or
UUID finds nothing and answers 404, without each query remembering to filter. A
statement run on the raw connection (``session.connection().execute``) bypasses the
ORM: such a service reads :func:`company_ids` and filters itself (the aging report
does). Sessions without a limit (the CLI, administrators, unlimited users) are untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, event, select
from sqlalchemy.orm import InstrumentedAttribute, ORMExecuteState, Session, with_loader_criteria

from cfdi_cobranza.db.models.collections import (
    CreditAuthorization,
    CreditCondition,
    CreditLimit,
    CustomerNote,
    DebtDocument,
    FollowUp,
)
from cfdi_cobranza.db.models.conflicts import ImportConflict
from cfdi_cobranza.db.models.jobs import Job
from cfdi_cobranza.db.models.ledger import Company, Customer, Document
from cfdi_cobranza.db.models.mail import (
    CompanyMailSetting,
    CustomerContact,
    CustomerLink,
    MailMessage,
)
from cfdi_cobranza.db.models.payments import BankMovement, Payment, Settlement
from cfdi_cobranza.db.models.reps import CompanyCsd, FolioSequence, Rep
from cfdi_cobranza.db.models.sat import SatStatusCheck
from cfdi_cobranza.db.models.sat_download import CompanyFiel, SatMetadata, SatRequest
from cfdi_cobranza.db.models.settings import CompanyPacSetting

SCOPE_KEY = "cobranza_company_ids"
SCOPE_USER_KEY = "cobranza_scope_user"

_BY_COMPANY = (Document, Payment, Rep, CompanyCsd, FolioSequence, CompanyMailSetting, MailMessage,
               CompanyPacSetting, CompanyFiel, SatRequest, SatMetadata)
_BY_CUSTOMER = (Settlement, CreditCondition, CreditLimit, CreditAuthorization, CustomerNote, DebtDocument,
                FollowUp, CustomerContact, CustomerLink)


def limit_to_companies(session: Session, ids: Iterable[int] | None, *,
                       username: str | Iterable[str] | None = None) -> None:
    """From now on ``session`` sees only these companies (``None``: every company).
    ``username``: the names the limited user acts under (its own; an API token's
    ``api:<name>`` too), who sees only the background jobs queued under them (a job row
    carries no company)."""
    if ids is None:
        session.info.pop(SCOPE_KEY, None)
        session.info.pop(SCOPE_USER_KEY, None)
    else:
        session.info[SCOPE_KEY] = tuple(sorted(set(ids)))
        names = [username] if isinstance(username, str) else list(username or ())
        session.info[SCOPE_USER_KEY] = tuple(names)


def company_ids(session: Session) -> tuple[int, ...] | None:
    """The companies this session is limited to, or ``None`` when it sees all of them."""
    value: tuple[int, ...] | None = session.info.get(SCOPE_KEY)
    return value


def visible_customer_ids(ids: tuple[int, ...]) -> Any:
    """Customers a visible company invoiced or was paid by (a subquery)."""
    return select(Document.customer_id).where(Document.company_id.in_(ids)).union(
        select(Payment.customer_id).where(Payment.company_id.in_(ids)))


def company_filter(column: ColumnElement[Any] | InstrumentedAttribute[Any],
                   ids: tuple[int, ...]) -> ColumnElement[bool]:
    """``column IN ids`` for Core statements that bypass the ORM criteria."""
    return column.in_(ids)


def _criteria(ids: tuple[int, ...], names: tuple[str, ...]) -> list[Any]:
    # Lambdas, so that the criteria follow aliases (``include_aliases``); ``ids`` is used
    # directly in each body so SQLAlchemy's lambda cache tracks it as a bound parameter
    # (a value hidden in a called function would be frozen into the cached SQL).
    options: list[Any] = [
        with_loader_criteria(Company, lambda cls: cls.id.in_(ids), include_aliases=True),
        with_loader_criteria(Customer, lambda cls: cls.id.in_(
            select(Document.customer_id).where(Document.company_id.in_(ids)).union(
                select(Payment.customer_id).where(Payment.company_id.in_(ids)))), include_aliases=True),
    ]
    options += [with_loader_criteria(cls, lambda c: c.company_id.in_(ids), include_aliases=True)
                for cls in _BY_COMPANY]
    options += [with_loader_criteria(cls, lambda c: c.customer_id.in_(
        select(Document.customer_id).where(Document.company_id.in_(ids)).union(
            select(Payment.customer_id).where(Payment.company_id.in_(ids)))), include_aliases=True)
        for cls in _BY_CUSTOMER]
    options.append(with_loader_criteria(Job, lambda c: c.created_by.in_(names), include_aliases=True))
    # Bank statement rows carry no company (an account's deposits are not yet tied to one):
    # a limited user sees none of them rather than every company's.
    options.append(with_loader_criteria(BankMovement, lambda c: c.id < 0, include_aliases=True))
    # Rows that name a document: visible with the document.
    options += [
        with_loader_criteria(ImportConflict, lambda c: c.uuid.in_(
            select(Document.uuid).where(Document.company_id.in_(ids))), include_aliases=True),
        with_loader_criteria(SatStatusCheck, lambda c: c.document_id.in_(
            select(Document.id).where(Document.company_id.in_(ids))), include_aliases=True),
    ]
    return options


@event.listens_for(Session, "do_orm_execute")
def _limit(state: ORMExecuteState) -> None:
    ids: tuple[int, ...] | None = state.session.info.get(SCOPE_KEY)
    if ids is None or state.is_column_load:
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(*_criteria(ids, state.session.info.get(SCOPE_USER_KEY, ())))


__all__ = ["SCOPE_KEY", "SCOPE_USER_KEY", "company_filter", "company_ids", "limit_to_companies", "visible_customer_ids"]
