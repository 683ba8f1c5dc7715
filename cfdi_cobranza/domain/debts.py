"""Debt document types (cheque, pagaré, voucher ...) as data, checked against one rule.

A type is configurable (its name, whether it may be post-dated, the states it uses and
the moves it allows among them) but never wider than ``DebtStatus``'s table in
``domain/states.py``: a type's move must be a move ``TRANSITIONS[DebtStatus]`` allows,
so ``check_move`` stays the one rule and a type can only narrow it.

Also here: which payment forms (c_FormaPago) stand for an instrument and which type
it is, and the post-dated rule (en cartera until its date).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from cfdi_cobranza.domain.receivables import Application, ApplicationKind, Receivable
from cfdi_cobranza.domain.states import TRANSITIONS, DebtStatus
from cfdi_cobranza.errors import ConflictError, ValidationError

# A receipt paid with one of these forms is backed by an instrument of that type.
FORM_TYPES: Mapping[str, str] = {"02": "cheque", "04": "tarjeta", "28": "tarjeta"}
# Moves that mean the money reached (or is on its way to) the bank: not before the cash date.
CASHING = frozenset({DebtStatus.DEPOSITADO, DebtStatus.COBRADO})


@dataclass(frozen=True, slots=True)
class DebtType:
    code: str
    nombre: str
    posfechable: bool
    estados: tuple[DebtStatus, ...]
    transiciones: Mapping[DebtStatus, frozenset[DebtStatus]]

    def check_move(self, old: DebtStatus, new: DebtStatus) -> DebtStatus:
        """``new`` when the state table and this type both allow it; else ``ConflictError``."""
        old.check_move(new)
        if new not in self.transiciones.get(old, frozenset()):
            raise ConflictError(
                f"Un {self.nombre.lower()} {old.etiqueta.lower()} no puede pasar a {new.etiqueta.lower()} "
                f"(no está permitido en su tipo).", code="TRANSICION_INVALIDA")
        return new

    def moves_from(self, old: DebtStatus) -> tuple[DebtStatus, ...]:
        allowed = self.transiciones.get(old, frozenset())
        return tuple(s for s in DebtStatus if s in allowed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "nombre": self.nombre, "posfechable": self.posfechable,
            "estados": [s.value for s in self.estados],
            "transiciones": {s.value: [m.value for m in self.moves_from(s)] for s in self.estados},
        }


def _state(value: str) -> DebtStatus:
    try:
        return DebtStatus(value.strip().lower())
    except ValueError:
        options = ", ".join(s.value for s in DebtStatus)
        raise ValidationError(f"Estado desconocido: {value!r}. Opciones: {options}.", code="ESTADO_INVALIDO") from None


def debt_type(code: str, nombre: str, posfechable: bool, estados: Iterable[str] | None = None,
              transiciones: Mapping[str, Iterable[str]] | None = None) -> DebtType:
    """A validated type. Without ``estados`` it uses every state; without ``transiciones``
    every move of the state table among its states."""
    code = code.strip().lower()
    if not code or len(code) > 12 or not code.replace("_", "").isalnum():
        raise ValidationError("La clave del tipo lleva de 1 a 12 letras, números o guiones bajos.",
                              code="TIPO_DOCUMENTO_INVALIDO")
    nombre = nombre.strip()
    if not nombre or len(nombre) > 60:
        raise ValidationError("El nombre del tipo lleva de 1 a 60 caracteres.", code="TIPO_DOCUMENTO_INVALIDO")
    chosen = {_state(s) for s in estados} if estados is not None else set(DebtStatus)
    if DebtStatus.EN_CARTERA not in chosen:
        raise ValidationError("Todo tipo de documento empieza en cartera: incluya en_cartera.",
                              code="ESTADOS_INVALIDOS")
    table = TRANSITIONS[DebtStatus]
    moves: dict[DebtStatus, frozenset[DebtStatus]] = {}
    if transiciones is None:
        for s in chosen:
            moves[s] = frozenset(DebtStatus(m) for m in table[s] if m in chosen)
    else:
        for old_text, news in transiciones.items():
            old = _state(old_text)
            targets = frozenset(_state(n) for n in news)
            for s in (old, *targets):
                if s not in chosen:
                    raise ValidationError(f"La transición usa el estado {s.value}, que el tipo no tiene.",
                                          code="ESTADOS_INVALIDOS")
            for new in targets:
                if new not in table[old]:
                    raise ValidationError(
                        f"{old.value} → {new.value} no es un cambio permitido para documentos de cobranza "
                        f"(ver «Estados» en el README).", code="TRANSICION_NO_PERMITIDA")
            moves[old] = targets
    ordered = tuple(s for s in DebtStatus if s in chosen)
    return DebtType(code, nombre, posfechable, ordered, {s: moves.get(s, frozenset()) for s in ordered})


def check_cash_date(new: DebtStatus, fecha: date, fecha_cobro: date) -> None:
    """A post-dated instrument stays en cartera until its date."""
    if new in CASHING and fecha < fecha_cobro:
        raise ConflictError(
            f"El documento es posfechado: no puede quedar {new.etiqueta.lower()} antes del "
            f"{fecha_cobro.strftime('%d/%m/%Y')}.", code="DOCUMENTO_POSFECHADO")


DEFAULT_TYPES: tuple[DebtType, ...] = (
    debt_type("cheque", "Cheque", True),
    debt_type("pagare", "Pagaré", True, ["en_cartera", "cobrado", "protestado", "cancelado"]),
    debt_type("tarjeta", "Voucher de tarjeta", False, ["en_cartera", "depositado", "cobrado", "devuelto", "cancelado"]),
    debt_type("otro", "Otro", True),
)


# --------------------------------------------------------------------------- bounced instruments in a ledger


@dataclass(frozen=True, slots=True)
class BouncedCredit:
    """An application a bounced instrument had funded (reversed when it bounced)."""

    doc_id: str  # the invoice it paid
    fecha: date  # when it was applied
    importe: Decimal  # in the invoice's currency
    payment_id: str | None
    importe_pago: Decimal | None
    referencia: str


@dataclass(frozen=True, slots=True)
class Bounce:
    debt_id: int
    tipo: str  # the instrument's type code
    fecha: date  # when it bounced
    referencia: str  # "Cheque 1234: fondos insuficientes"
    credits: tuple[BouncedCredit, ...]


def with_bounces(docs: Iterable[Receivable], applications: Iterable[Application], bounces: Iterable[Bounce],
                 hasta: date) -> tuple[list[Receivable], list[Application]]:
    """The ledger as the customer lived it: a bounced instrument's payment is an abono on
    its date and, from the day it bounced, a cargo with its reason (the invoice it paid
    stays re-opened). Bounced after ``hasta``: the payment still stood then."""
    docs = list(docs)
    apps = list(applications)
    by_id = {d.doc_id: d for d in docs}
    for bounce in bounces:
        credits = [c for c in bounce.credits if c.doc_id in by_id and c.fecha <= hasta]
        if bounce.fecha > hasta:
            apps.extend(Application(c.doc_id, c.fecha, c.importe, ApplicationKind.PAGO, c.payment_id,
                                    c.importe_pago, c.referencia) for c in credits)
            continue
        by_currency: dict[str, list[BouncedCredit]] = {}
        for c in credits:
            by_currency.setdefault(by_id[c.doc_id].moneda, []).append(c)
        for moneda, group in sorted(by_currency.items()):
            first = by_id[group[0].doc_id]
            charge_id = f"DEV{bounce.debt_id}" + (f"-{moneda}" if len(by_currency) > 1 else "")
            docs.append(Receivable(
                doc_id=charge_id, rfc=first.rfc, nombre=first.nombre, moneda=moneda,
                total=sum((c.importe for c in group), Decimal(0)), fecha=bounce.fecha, vencimiento=bounce.fecha,
                tipo="cheque" if bounce.tipo == "cheque" else "devuelto", referencia=bounce.referencia,
                empresa=first.empresa))
            apps.extend(Application(charge_id, c.fecha, c.importe, ApplicationKind.PAGO, c.payment_id,
                                    c.importe_pago, c.referencia) for c in group)
    return docs, apps


# --------------------------------------------------------------------------- cash cut (corte de caja)


@dataclass(frozen=True, slots=True)
class CashReceipt:
    pago: int
    forma_pago: str
    usuario: str
    moneda: str
    importe: Decimal
    devuelto: bool  # its instrument already bounced


@dataclass(frozen=True, slots=True)
class CashCutLine:
    forma_pago: str
    usuario: str
    moneda: str
    recibos: int
    importe: Decimal


@dataclass(frozen=True, slots=True)
class CashCutCheque:
    documento: int
    pago: int
    cliente: str
    numero: str | None
    banco: str | None
    moneda: str
    importe: Decimal
    fecha_cobro: date
    estado: str


@dataclass(frozen=True, slots=True)
class CashCut:
    caja: str
    fecha: date
    lineas: tuple[CashCutLine, ...]  # per payment form, user and currency
    cheques: tuple[CashCutCheque, ...]
    totales: Mapping[str, Decimal]  # per currency, every receipt of the day
    devueltos: Mapping[str, Decimal]  # per currency, receipts whose instrument already bounced


def cash_cut(caja: str, fecha: date, receipts: Iterable[CashReceipt], cheques: Iterable[CashCutCheque]) -> CashCut:
    groups: dict[tuple[str, str, str], list[Decimal]] = {}
    totals: dict[str, Decimal] = {}
    bounced: dict[str, Decimal] = {}
    for r in receipts:
        groups.setdefault((r.forma_pago, r.usuario, r.moneda), []).append(r.importe)
        totals[r.moneda] = totals.get(r.moneda, Decimal(0)) + r.importe
        if r.devuelto:
            bounced[r.moneda] = bounced.get(r.moneda, Decimal(0)) + r.importe
    return CashCut(
        caja, fecha,
        tuple(CashCutLine(f, u, m, len(v), sum(v, Decimal(0))) for (f, u, m), v in sorted(groups.items())),
        tuple(sorted(cheques, key=lambda c: c.documento)), dict(sorted(totals.items())),
        dict(sorted(bounced.items())))
