"""The customer's link: a read-only page for one customer, no account, signed, expiring, revocable.

The token in the URL is ``<link id>.<HMAC-SHA256 of the id, customer and expiry>`` under a
key derived from the instance's secret key (``COBRANZA_SECRET_KEY`` or ``instance/secret.key``):
the database keeps the link's row (customer, expiry, revocation), never the token, so a
copy of the database cannot open a portal. A link answers for its own customer only;
every query behind the page is filtered by that customer's id. Default life: 60 days
(``COBRANZA_LINK_DAYS``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Customer
from cfdi_cobranza.db.models.mail import CustomerLink
from cfdi_cobranza.errors import NotFoundError, ValidationError
from cfdi_cobranza.secrets import load_master_key
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.ledger import find_customer
from cfdi_cobranza.services.users import record_audit

DEFAULT_DAYS = 60
LINK_GONE = ("El enlace no es válido, expiró o fue revocado. Pida uno nuevo a su proveedor.", "ENLACE_INVALIDO")


def link_key(instance_path: str | Path) -> bytes:
    """The HMAC key of the links, derived from (never equal to) the secrets-at-rest key."""
    return hashlib.sha256(b"cfdi-cobranza customer links\x00" + load_master_key(Path(instance_path))).digest()


def default_days() -> int:
    try:
        return max(1, int(os.environ.get("COBRANZA_LINK_DAYS") or DEFAULT_DAYS))
    except ValueError:
        return DEFAULT_DAYS


def base_url() -> str:
    return (os.environ.get("COBRANZA_BASE_URL") or "http://localhost:5000").rstrip("/")


def _sig(key: bytes, link: CustomerLink) -> str:
    msg = f"{link.id}:{link.customer_id}:{int(link.expires_at.timestamp())}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode().rstrip("=")


def token_for(key: bytes, link: CustomerLink) -> str:
    return f"{link.id}.{_sig(key, link)}"


def url_for(key: bytes, link: CustomerLink) -> str:
    return f"{base_url()}/portal/{token_for(key, link)}"


@dataclass(frozen=True)
class LinkView:
    id: int
    customer_rfc: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    url: str | None = None  # only when just created

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "cliente": self.customer_rfc, "creado": self.created_at.isoformat(),
                "expira": self.expires_at.isoformat(),
                "revocado": self.revoked_at.isoformat() if self.revoked_at else None,
                "ultimo_uso": self.last_used_at.isoformat() if self.last_used_at else None, "url": self.url}


def new_link(session: Session, customer_id: int, *, actor: str, now: datetime, days: int | None = None) -> CustomerLink:
    days = default_days() if days is None else days
    if not 1 <= days <= 366:
        raise ValidationError("La vigencia del enlace va de 1 a 366 días.", code="ENLACE_VIGENCIA_INVALIDA")
    link = CustomerLink(customer_id=customer_id, created_at=now, expires_at=(now + timedelta(days=days))
                        .replace(microsecond=0), created_by=actor[:100])
    session.add(link)
    session.flush()
    return link


def create_link(session: Session, key: bytes, rfc: str, *, actor: str, days: int | None = None,
                clock: Clock = system_clock) -> LinkView:
    customer = find_customer(session, rfc)
    link = new_link(session, customer.id, actor=actor, now=clock(), days=days)
    record_audit(session, actor, "crear_enlace", "customer_link", str(link.id), customer.rfc, clock=clock)
    return LinkView(link.id, customer.rfc, link.created_at, link.expires_at, None, None, url_for(key, link))


def list_links(session: Session, rfc: str) -> list[LinkView]:
    customer = find_customer(session, rfc)
    rows = session.scalars(select(CustomerLink).where(CustomerLink.customer_id == customer.id)
                           .order_by(CustomerLink.id.desc()))
    return [LinkView(r.id, customer.rfc, r.created_at, r.expires_at, r.revoked_at, r.last_used_at) for r in rows]


def revoke_links(session: Session, rfc: str, *, link_id: int | None = None, actor: str,
                 clock: Clock = system_clock) -> int:
    """Revoke one link of the customer (``link_id``) or all of them; how many were still open."""
    customer = find_customer(session, rfc)
    query = update(CustomerLink).where(CustomerLink.customer_id == customer.id, CustomerLink.revoked_at.is_(None))
    if link_id is not None:
        if session.scalar(select(CustomerLink.id).where(CustomerLink.id == link_id,
                                                        CustomerLink.customer_id == customer.id)) is None:
            raise NotFoundError(f"El cliente {customer.rfc} no tiene el enlace {link_id}.",
                                code="ENLACE_NO_ENCONTRADO")
        query = query.where(CustomerLink.id == link_id)
    result = session.execute(query.values(revoked_at=clock()))
    count = int(getattr(result, "rowcount", 0) or 0)
    record_audit(session, actor, "revocar_enlace", "customer_link", str(link_id) if link_id else None,
                 f"{customer.rfc}: {count}", clock=clock)
    return count


def resolve(session: Session, key: bytes, token: str, *, clock: Clock = system_clock) -> Customer:
    """The customer a token opens; ``ENLACE_INVALIDO`` (one message for forged, expired and revoked)."""
    link_id, _, sig = (token or "").partition(".")
    link = session.get(CustomerLink, int(link_id)) if link_id.isdigit() and len(link_id) < 12 else None
    now = clock()
    if link is None or not hmac.compare_digest(sig.encode(), _sig(key, link).encode()) \
            or link.revoked_at is not None or link.expires_at <= now:
        raise NotFoundError(LINK_GONE[0], code=LINK_GONE[1])
    if link.last_used_at is None or (now - link.last_used_at) > timedelta(minutes=5):
        link.last_used_at = now
    customer = session.get(Customer, link.customer_id)
    if customer is None:
        raise NotFoundError(LINK_GONE[0], code=LINK_GONE[1])
    return customer
