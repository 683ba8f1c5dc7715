"""SQLAlchemy models, one module per area; importing this package registers them all."""

from cfdi_cobranza.db.models.base import Base
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
from cfdi_cobranza.db.models.payments import AuditEntry, BankMovement, CashBox, Payment, Settlement

__all__ = [
    "AuditEntry",
    "BankMovement",
    "CashBox",
    "Payment",
    "Settlement",
    "Base",
    "Company",
    "Credit",
    "Customer",
    "Document",
    "DocumentConcept",
    "DocumentRelation",
    "DocumentTax",
    "ExternalPayment",
    "ImportLog",
]
