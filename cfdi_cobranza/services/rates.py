"""Exchange rates per date and currency, with their source: Banxico's SIE API or a CSV file.

``dof_rate`` answers the SAT's rule for ``TipoCambioP`` (docs/pagos20-decisions.md): the
rate the DOF publishes for the payment date, i.e. the FIX of the banking day before its
publication. Registering a foreign-currency payment without a rate takes it; reports take
it for their as-of date.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import AuditEntry
from cfdi_cobranza.db.models.sat import BanxicoSetting, ExchangeRate
from cfdi_cobranza.domain import fx
from cfdi_cobranza.errors import ConfigurationError, ValidationError
from cfdi_cobranza.sat import banxico, readonly_http
from cfdi_cobranza.sat.banxico import RatePoint
from cfdi_cobranza.sat.readonly_http import ReadPolicy
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services.clock import Clock, system_clock

TOKEN_ENV = "COBRANZA_BANXICO_TOKEN"
MAX_RANGE_DAYS = 366 * 5

Fetcher = Callable[[str, date, date], list[RatePoint]]  # (moneda, desde, hasta)


@dataclass(frozen=True)
class StoreResult:
    fuente: str
    nuevos: int
    cambiados: int
    sin_cambio: int
    desde: date | None
    hasta: date | None

    def to_dict(self) -> dict[str, Any]:
        return {"fuente": self.fuente, "nuevos": self.nuevos, "cambiados": self.cambiados,
                "sin_cambio": self.sin_cambio, "desde": self.desde.isoformat() if self.desde else None,
                "hasta": self.hasta.isoformat() if self.hasta else None}


def store(session: Session, points: Sequence[RatePoint], *, fuente: str, actor: str = "sistema",
          clock: Clock = system_clock) -> StoreResult:
    """Upsert by (moneda, fecha); idempotent: storing the same points again changes nothing."""
    now = clock()
    new = changed = same = 0
    if points:
        lo, hi = min(p.fecha for p in points), max(p.fecha for p in points)
        existing = {(r.moneda, r.fecha): r for r in session.scalars(
            select(ExchangeRate).where(ExchangeRate.fecha >= lo, ExchangeRate.fecha <= hi))}
        for p in points:
            row = existing.get((p.moneda, p.fecha))
            if row is None:
                row = ExchangeRate(fecha=p.fecha, moneda=p.moneda, tipo_cambio=p.tipo_cambio, fuente=fuente[:40],
                                   updated_at=now)
                session.add(row)
                existing[(p.moneda, p.fecha)] = row
                new += 1
            elif row.tipo_cambio != p.tipo_cambio:
                row.tipo_cambio, row.fuente, row.updated_at = p.tipo_cambio, fuente[:40], now
                changed += 1
            else:
                same += 1
    result = StoreResult(fuente, new, changed, same, min((p.fecha for p in points), default=None),
                         max((p.fecha for p in points), default=None))
    session.add(AuditEntry(at=now, actor=actor, action="tipos_de_cambio", entity="exchange_rate", entity_id=None,
                           detail=json.dumps(result.to_dict(), ensure_ascii=False)))
    session.flush()
    return result


def banxico_token(session: Session, box: SecretBox, *, environ: Mapping[str, str] | None = None) -> str:
    """``COBRANZA_BANXICO_TOKEN``, else the token saved in Configuración."""
    env = os.environ if environ is None else environ
    token = (env.get(TOKEN_ENV) or "").strip()
    if not token:
        row = session.get(BanxicoSetting, 1)
        if row is not None:
            token = box.open(row.token_sealed).decode("utf-8")
    if not token:
        raise ConfigurationError(f"Falta el token del SIE de Banxico: guárdelo en Configuración o defina {TOKEN_ENV}.",
                                 code="BANXICO_TOKEN_REQUERIDO")
    return token


def has_banxico_token(session: Session) -> bool:
    return session.get(BanxicoSetting, 1) is not None


def set_banxico_token(session: Session, token: str, box: SecretBox, *, actor: str,
                      clock: Clock = system_clock) -> None:
    """Save (sealed) or, with an empty ``token``, forget the SIE token; audited without it."""
    token = token.strip()
    if token and (len(token) < 20 or len(token) > 200 or not token.isalnum()):
        raise ValidationError("El token del SIE de Banxico son 64 caracteres hexadecimales.", code="BANXICO_TOKEN_INVALIDO")
    row = session.get(BanxicoSetting, 1)
    if not token:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(BanxicoSetting(id=1, token_sealed=box.seal(token.encode()), updated_at=clock(), updated_by=actor))
    else:
        row.token_sealed, row.updated_at, row.updated_by = box.seal(token.encode()), clock(), actor
    session.add(AuditEntry(at=clock(), actor=actor, action="token_banxico", entity="banxico_setting", entity_id="1",
                           detail=json.dumps({"guardado": bool(token)})))


def update_range(session: Session, fetch: Fetcher, desde: date, hasta: date, *, monedas: Sequence[str] = ("USD",),
                 actor: str = "sistema", clock: Clock = system_clock) -> list[StoreResult]:
    if hasta < desde:
        raise ValidationError("La fecha final es anterior a la inicial.", code="RANGO_INVALIDO")
    if (hasta - desde).days > MAX_RANGE_DAYS:
        raise ValidationError("El rango no puede pasar de cinco años.", code="RANGO_INVALIDO")
    out = []
    for moneda in monedas:
        points = fetch(moneda, desde, hasta)
        out.append(store(session, points, fuente=f"banxico:{banxico.SERIES[moneda]}", actor=actor, clock=clock))
    return out


def default_range(session: Session, today: date) -> tuple[date, date]:
    """From the day after the newest stored rate (at most 30 days back) up to today: a cron
    run asks only for what is missing."""
    newest = session.scalar(select(ExchangeRate.fecha).order_by(ExchangeRate.fecha.desc()).limit(1))
    start = today - timedelta(days=30)
    if newest is not None and newest >= start:
        start = newest - timedelta(days=3)  # Banxico may publish the last days late
    return start, today


def import_file(session: Session, data: bytes, *, source: str, actor: str = "sistema",
                clock: Clock = system_clock) -> StoreResult:
    points = banxico.parse_csv(data)
    return store(session, points, fuente=f"archivo:{source}"[:40], actor=actor, clock=clock)


@dataclass(frozen=True)
class RateRow:
    fecha: date
    moneda: str
    tipo_cambio: Decimal
    fuente: str

    def to_dict(self) -> dict[str, Any]:
        return {"fecha": self.fecha.isoformat(), "moneda": self.moneda, "tipo_cambio": format(self.tipo_cambio, "f"),
                "fuente": self.fuente}


def rates_marker(session: Session) -> tuple[Any, ...]:
    """Changes whenever a stored exchange rate is added or updated (``rates update``, the
    daily job): a read cache of reports converted to MXN keys on it (the rates table is
    not a ledger table, so it bumps no ledger version)."""
    row = session.execute(select(func.count(ExchangeRate.id), func.max(ExchangeRate.updated_at))).first()
    return tuple(row) if row is not None else ()


def list_rates(session: Session, *, moneda: str | None = None, desde: date | None = None,
               hasta: date | None = None) -> list[RateRow]:
    stmt = select(ExchangeRate).order_by(ExchangeRate.fecha.desc(), ExchangeRate.moneda)
    if moneda:
        stmt = stmt.where(ExchangeRate.moneda == moneda.upper())
    if desde:
        stmt = stmt.where(ExchangeRate.fecha >= desde)
    if hasta:
        stmt = stmt.where(ExchangeRate.fecha <= hasta)
    return [RateRow(r.fecha, r.moneda, _plain(r.tipo_cambio), r.fuente) for r in session.scalars(stmt)]


@dataclass(frozen=True)
class DofRate:
    tipo_cambio: Decimal
    fecha_fix: date  # date of determination of the FIX used
    fuente: str


def _plain(value: Decimal) -> Decimal:
    """The stored rate without the column's trailing zeros (19.1500000000 -> 19.15)."""
    return Decimal(format(value.normalize(), "f"))


def dof_rate(session: Session, moneda: str, day: date) -> DofRate | None:
    """The DOF rate of ``day`` for ``moneda`` from the stored series (``None`` if not stored)."""
    rows = session.scalars(select(ExchangeRate).where(
        ExchangeRate.moneda == moneda.upper(), ExchangeRate.fecha >= day - timedelta(days=20),
        ExchangeRate.fecha <= day + timedelta(days=10))).all()
    found = fx.dof_rate([(r.fecha, r.tipo_cambio) for r in rows], day)
    if found is None:
        return None
    fuente = next(r.fuente for r in rows if r.fecha == found[0])
    return DofRate(_plain(found[1]), found[0], fuente)


URL_ENV = "COBRANZA_BANXICO_URL"


def banxico_fetcher(token: str, base_url: str | None = None, *, policy: ReadPolicy | None = None) -> Fetcher:
    """Banxico's SIE API over our transport (``COBRANZA_BANXICO_URL`` overrides its address)."""
    policy = policy or ReadPolicy()
    transport = readonly_http.transport_for(policy)
    base = base_url or os.environ.get(URL_ENV) or banxico.BASE_URL

    def fetch(moneda: str, desde: date, hasta: date) -> list[RatePoint]:
        return banxico.fetch_series(transport, token, moneda, desde, hasta, base_url=base, policy=policy)

    return fetch
