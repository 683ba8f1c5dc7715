"""SQLAlchemy models, one module per area; importing this package registers them all."""

from cfdi_cobranza.db.models.base import Base
from cfdi_cobranza.db.models.collections import *  # noqa: F403  (registers the collections tables)
from cfdi_cobranza.db.models.ledger import (
    Company,
    Credit,
    Customer,
    Document,
    DocumentConcept,
    DocumentRelation,
    DocumentTax,
    ExternalPayment,
    ImportLog,
)
from cfdi_cobranza.db.models.ledger_version import LedgerVersion  # noqa: F401  (registers the table)
from cfdi_cobranza.db.models.payments import AuditEntry, BankMovement, CashBox, Payment, Settlement
from cfdi_cobranza.db.models.reps import CompanyCsd, FolioSequence, Rep, RepLine
from cfdi_cobranza.db.models.settings import PacSetting  # noqa: F401  (registers the table)
from cfdi_cobranza.db.models.users import ApiToken, User  # noqa: F401  (registers the tables)

__all__ = [
    "AuditEntry",
    "BankMovement",
    "Base",
    "CashBox",
    "Company",
    "CompanyCsd",
    "Credit",
    "Customer",
    "Document",
    "DocumentConcept",
    "DocumentRelation",
    "DocumentTax",
    "ExternalPayment",
    "FolioSequence",
    "ImportLog",
    "Payment",
    "Rep",
    "RepLine",
    "Settlement",
]
from cfdi_cobranza.db.models.jobs import Job, RepPolicy  # noqa: F401  (registers the job tables)
