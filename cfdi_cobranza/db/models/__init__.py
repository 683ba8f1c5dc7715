"""SQLAlchemy models, one module per area; importing this package registers them all."""

from cfdi_cobranza.db.models.base import Base
from cfdi_cobranza.db.models.collections import *  # noqa: F403  (registers the collections tables)
from cfdi_cobranza.db.models.conflicts import ImportConflict  # noqa: F401  (registers the table)
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
from cfdi_cobranza.db.models.mail import *  # noqa: F403  (registers the email tables)
from cfdi_cobranza.db.models.payments import AuditEntry, BankMovement, CashBox, Payment, Settlement
from cfdi_cobranza.db.models.reps import CompanyCsd, FolioSequence, Rep, RepLine
from cfdi_cobranza.db.models.sat import (  # noqa: F401  (registers the tables)
    BanxicoSetting,
    EfosEntry,
    ExchangeRate,
    SatStatusCheck,
)
from cfdi_cobranza.db.models.settings import CompanyPacSetting, PacSetting  # noqa: F401  (registers the tables)
from cfdi_cobranza.db.models.users import ApiToken, User, UserCompany  # noqa: F401  (registers the tables)

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
from cfdi_cobranza.db.models.sat_download import CompanyFiel, SatMetadata, SatPackage, SatRequest  # noqa: F401  (registers the SAT download tables)
