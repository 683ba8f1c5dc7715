"""Control de crédito: may this customer take this operation right now?

:func:`credit_check` answers, before a sale, an order, a debt document or a collection
step is recorded, with one of four levels and the reasons behind it, each with a
stable code and a Spanish text the user reads as is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from cfdi_cobranza import catalogs
from cfdi_cobranza.domain.money import ZERO, fmt_money, is_currency
from cfdi_cobranza.domain.receivables import OpenItem
from cfdi_cobranza.domain.states import CreditStatus
from cfdi_cobranza.errors import ValidationError

# Share of the limit from which an informational "close to the limit" reason is given.
NEAR_LIMIT = Decimal("0.9")
MAX_TERM_DAYS = 3650  # ten years: any longer term is a typo, and day arithmetic must not overflow


class CollectionType(StrEnum):
    NORMAL = "normal"
    JUDICIAL = "judicial"
    ESPECIAL = "especial"
    OTRA = "otra"


class ControlLevel(StrEnum):
    """How hard the customer's conditions are enforced when one is broken."""

    INFORMATIVO = "informativo"
    ADVERTENCIA = "advertencia"
    AUTORIZACION = "autorizacion"
    RESTRICTIVO = "restrictivo"


class DecisionLevel(StrEnum):
    INFORMACION = "informacion"
    ADVERTENCIA = "advertencia"
    SOLICITUD_AUTORIZACION = "solicitud_autorizacion"
    RESTRICCION = "restriccion"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def etiqueta(self) -> str:
        return _LABEL[self]


_RANK = {
    DecisionLevel.INFORMACION: 0,
    DecisionLevel.ADVERTENCIA: 1,
    DecisionLevel.SOLICITUD_AUTORIZACION: 2,
    DecisionLevel.RESTRICCION: 3,
}
_LABEL = {
    DecisionLevel.INFORMACION: "Información",
    DecisionLevel.ADVERTENCIA: "Advertencia",
    DecisionLevel.SOLICITUD_AUTORIZACION: "Solicitud de autorización",
    DecisionLevel.RESTRICCION: "Restricción",
}
_BY_CONTROL = {
    ControlLevel.INFORMATIVO: DecisionLevel.INFORMACION,
    ControlLevel.ADVERTENCIA: DecisionLevel.ADVERTENCIA,
    ControlLevel.AUTORIZACION: DecisionLevel.SOLICITUD_AUTORIZACION,
    ControlLevel.RESTRICTIVO: DecisionLevel.RESTRICCION,
}


class OperationKind(StrEnum):
    VENTA_CREDITO = "venta_credito"
    VENTA_CONTADO = "venta_contado"
    PEDIDO = "pedido"
    DOCUMENTO = "documento"  # a debt document: pagaré, cheque posfechado ...
    COBRO = "cobro"  # a collection step (call, visit, letter, receipt)

    @property
    def uses_credit(self) -> bool:
        return self in {OperationKind.VENTA_CREDITO, OperationKind.PEDIDO, OperationKind.DOCUMENTO}


def _check_currency(code: str) -> None:
    if not is_currency(code):
        raise ValidationError(f"Moneda desconocida: {code!r}.", code="MONEDA_INVALIDA", moneda=code)


@dataclass(frozen=True, slots=True)
class CreditConditions:
    """A customer's commercial conditions.

    ``limites`` holds the credit limit per currency; a currency without a limit has no
    credit (operations on credit in it break the conditions).
    """

    limites: Mapping[str, Decimal]
    plazo_maximo_dias: int
    nivel_control: ControlLevel = ControlLevel.AUTORIZACION
    estatus: CreditStatus = CreditStatus.ACTIVO
    tipo_cobranza: CollectionType = CollectionType.NORMAL
    dias_atraso_tolerados: int = 0  # overdue beyond this breaks the conditions
    # c_FormaPago codes the customer may pay with (None: any). E.g. no cheques after a returned one.
    formas_permitidas: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.formas_permitidas is not None and not self.formas_permitidas:
            raise ValidationError("Indique al menos una forma de pago permitida, o ninguna restricción.",
                                  code="FORMAS_PAGO_VACIAS")
        for forma in self.formas_permitidas or ():
            if forma not in catalogs.keys("c_FormaPago"):
                raise ValidationError(f"Forma de pago desconocida: {forma!r} (catálogo c_FormaPago).",
                                      code="FORMA_PAGO_INVALIDA")
        for currency, limit in self.limites.items():
            _check_currency(currency)
            if not isinstance(limit, Decimal) or not limit.is_finite() or limit < 0:
                raise ValidationError(
                    f"El límite de crédito en {currency} no puede ser negativo ({limit}).",
                    code="LIMITE_INVALIDO",
                    moneda=currency,
                )
        if self.plazo_maximo_dias < 0:
            raise ValidationError(
                "El plazo máximo de crédito no puede ser negativo.", code="PLAZO_INVALIDO"
            )
        if self.plazo_maximo_dias > MAX_TERM_DAYS:
            raise ValidationError(
                f"El plazo máximo de crédito ({self.plazo_maximo_dias} días) excede el límite de "
                f"{MAX_TERM_DAYS} días.",
                code="PLAZO_INVALIDO",
            )
        if self.dias_atraso_tolerados < 0:
            raise ValidationError(
                "Los días de atraso tolerados no pueden ser negativos.", code="PLAZO_INVALIDO"
            )
        if self.dias_atraso_tolerados > MAX_TERM_DAYS:
            raise ValidationError(
                f"Los días de atraso tolerados ({self.dias_atraso_tolerados}) exceden el límite de "
                f"{MAX_TERM_DAYS} días.",
                code="PLAZO_INVALIDO",
            )


@dataclass(frozen=True, slots=True)
class Exposure:
    """What the customer owes now: open balance per currency and its oldest overdue."""

    saldos: Mapping[str, Decimal]
    dias_vencido_max: int = 0  # days overdue of the oldest overdue document; 0 if none
    saldo_vencido: Mapping[str, Decimal] = field(default_factory=dict)

    @classmethod
    def from_items(cls, items: Iterable[OpenItem], as_of: date) -> Exposure:
        saldos: dict[str, Decimal] = {}
        vencido: dict[str, Decimal] = {}
        oldest = 0
        for item in items:
            saldos[item.moneda] = saldos.get(item.moneda, ZERO) + item.saldo
            days = (as_of - item.vencimiento).days
            if days > 0 and item.saldo > 0:
                vencido[item.moneda] = vencido.get(item.moneda, ZERO) + item.saldo
                oldest = max(oldest, days)
        return cls(saldos, oldest, vencido)


@dataclass(frozen=True, slots=True)
class Operation:
    tipo: OperationKind
    importe: Decimal
    moneda: str
    plazo_dias: int | None = None  # credit term the operation asks for
    forma_pago: str | None = None  # c_FormaPago the customer will pay with, when known

    def __post_init__(self) -> None:
        _check_currency(self.moneda)
        if (
            not isinstance(self.importe, Decimal)
            or not self.importe.is_finite()
            or self.importe < 0
        ):
            raise ValidationError(
                "El importe de la operación debe ser un número no negativo.",
                code="IMPORTE_INVALIDO",
            )
        if self.plazo_dias is not None and self.plazo_dias < 0:
            raise ValidationError("El plazo no puede ser negativo.", code="PLAZO_INVALIDO")
        if self.plazo_dias is not None and self.plazo_dias > MAX_TERM_DAYS:
            raise ValidationError(
                f"El plazo ({self.plazo_dias} días) excede el límite de {MAX_TERM_DAYS} días.",
                code="PLAZO_INVALIDO",
            )


@dataclass(frozen=True, slots=True)
class CreditReason:
    code: str
    mensaje: str
    nivel: DecisionLevel


@dataclass(frozen=True, slots=True)
class CreditDecision:
    nivel: DecisionLevel
    razones: tuple[CreditReason, ...]  # most severe first
    disponible: Mapping[str, Decimal]  # limit minus balance per currency (may be negative)

    @property
    def permitida(self) -> bool:
        """True unless restricted (an authorization request still lets it proceed once granted)."""
        return self.nivel is not DecisionLevel.RESTRICCION

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.razones)


def payment_form_reason(conditions: CreditConditions, forma_pago: str) -> CreditReason | None:
    """Why paying with ``forma_pago`` breaks the customer's conditions (``None``: it does not).

    A form outside ``formas_permitidas`` gives the level the customer's control level maps
    to (informativo -> información, advertencia -> advertencia, autorizacion -> solicitud
    de autorización, restrictivo -> restricción), code ``FORMA_PAGO_NO_PERMITIDA``. The
    same rule answers the credit check (an operation with ``forma_pago``) and the
    registration of a payment.
    """
    allowed = conditions.formas_permitidas
    if allowed is None or forma_pago in allowed:
        return None
    name = catalogs.describe("c_FormaPago", forma_pago)
    return CreditReason(
        "FORMA_PAGO_NO_PERMITIDA",
        f"La forma de pago {name} no está en las condiciones comerciales del cliente "
        f"(permitidas: {', '.join(sorted(allowed))}).",
        _BY_CONTROL[conditions.nivel_control],
    )


@dataclass(frozen=True, slots=True)
class EfosStanding:
    """The customer's entry on the SAT's 69-B list (EFOS): situation and its publication date."""

    situacion: str  # Presunto | Desvirtuado | Definitivo | Sentencia Favorable
    fecha: date | None


def credit_check(
    conditions: CreditConditions, exposure: Exposure, operation: Operation,
    efos: EfosStanding | None = None,
) -> CreditDecision:
    """Decide the level of ``operation`` for a customer with ``conditions`` and ``exposure``.

    The decision's level is the most severe of its reasons' levels. Rules:

    * Status ``bloqueado``: any sale, order or document -> **restricción**
      (``CLIENTE_BLOQUEADO``); a collection step -> información.
    * Collection type ``judicial``: any sale, order or document -> **restricción**
      (``COBRANZA_JUDICIAL``); a collection step -> **solicitud de autorización**,
      because the legal department conducts that collection.
    * Status ``suspendido``: credit operations -> **solicitud de autorización**
      (``CLIENTE_SUSPENDIDO``); cash sales -> advertencia; collection -> información.
    * Collection type ``especial`` or ``otra``: credit operations -> advertencia
      (``COBRANZA_ESPECIAL`` / ``COBRANZA_OTRA``).
    * For credit operations (venta a crédito, pedido, documento), each broken condition
      gives the level the customer's **control level** maps to (informativo ->
      información, advertencia -> advertencia, autorizacion -> solicitud de
      autorización, restrictivo -> restricción):

      - no credit limit in the operation's currency (``SIN_LIMITE_MONEDA``);
      - open balance + amount above the limit (``LIMITE_EXCEDIDO``);
      - requested term above the maximum term (``PLAZO_EXCEDIDO``);
      - oldest overdue document beyond ``dias_atraso_tolerados`` (``ATRASO_EXCEDIDO``).

      Reaching 90 % of the limit, or being overdue within the tolerance, is
      información (``LIMITE_CERCANO``, ``SALDO_VENCIDO``).
    * Cash sales and collection steps with overdue balance -> información
      (``SALDO_VENCIDO``), so the seller can ask for it.
    * On the SAT's 69-B list (``efos``): ``Definitivo`` -> **restricción** for any sale,
      order or document (``EFOS_DEFINITIVO``: its CFDI do not support operations);
      ``Presunto`` -> advertencia (``EFOS_PRESUNTO``). A collection step is información.
      Desvirtuado and Sentencia Favorable add nothing.
    * With no reason at all: información ``DENTRO_DE_CONDICIONES``.
    """
    reasons: list[CreditReason] = []
    on_break = _BY_CONTROL[conditions.nivel_control]
    kind = operation.tipo
    credit = kind.uses_credit

    def add(code: str, text: str, level: DecisionLevel) -> None:
        reasons.append(CreditReason(code, text, level))

    if conditions.estatus is CreditStatus.BLOQUEADO:
        if kind is OperationKind.COBRO:
            add("CLIENTE_BLOQUEADO", "El cliente está bloqueado.", DecisionLevel.INFORMACION)
        else:
            add(
                "CLIENTE_BLOQUEADO",
                "El cliente está bloqueado: no se le pueden registrar operaciones.",
                DecisionLevel.RESTRICCION,
            )
    elif conditions.estatus is CreditStatus.SUSPENDIDO:
        if credit:
            add(
                "CLIENTE_SUSPENDIDO",
                "El crédito del cliente está suspendido: la operación requiere autorización.",
                DecisionLevel.SOLICITUD_AUTORIZACION,
            )
        elif kind is OperationKind.VENTA_CONTADO:
            add(
                "CLIENTE_SUSPENDIDO",
                "El crédito del cliente está suspendido; la venta debe ser de contado.",
                DecisionLevel.ADVERTENCIA,
            )
        else:
            add(
                "CLIENTE_SUSPENDIDO",
                "El crédito del cliente está suspendido.",
                DecisionLevel.INFORMACION,
            )

    if conditions.tipo_cobranza is CollectionType.JUDICIAL:
        if kind is OperationKind.COBRO:
            add(
                "COBRANZA_JUDICIAL",
                "El cliente está en cobranza judicial: la gestión debe autorizarla el área jurídica.",
                DecisionLevel.SOLICITUD_AUTORIZACION,
            )
        else:
            add(
                "COBRANZA_JUDICIAL",
                "El cliente está en cobranza judicial: no se le pueden registrar operaciones.",
                DecisionLevel.RESTRICCION,
            )
    elif conditions.tipo_cobranza in (CollectionType.ESPECIAL, CollectionType.OTRA) and credit:
        code = (
            "COBRANZA_ESPECIAL"
            if conditions.tipo_cobranza is CollectionType.ESPECIAL
            else "COBRANZA_OTRA"
        )
        add(
            code,
            f"El cliente tiene cobranza de tipo {conditions.tipo_cobranza.value}; revise sus condiciones.",
            DecisionLevel.ADVERTENCIA,
        )

    if operation.forma_pago is not None:
        form_reason = payment_form_reason(conditions, operation.forma_pago)
        if form_reason is not None:
            reasons.append(form_reason)

    moneda = operation.moneda
    saldo = exposure.saldos.get(moneda, ZERO)
    limite = conditions.limites.get(moneda)
    if credit:
        if limite is None:
            add(
                "SIN_LIMITE_MONEDA",
                f"El cliente no tiene límite de crédito en {moneda}.",
                on_break,
            )
        else:
            after = saldo + operation.importe
            if after > limite:
                add(
                    "LIMITE_EXCEDIDO",
                    f"El saldo con esta operación ({fmt_money(after, moneda)}) excede el límite "
                    f"de crédito ({fmt_money(limite, moneda)}) por {fmt_money(after - limite, moneda)}.",
                    on_break,
                )
            elif limite > 0 and after >= limite * NEAR_LIMIT:
                add(
                    "LIMITE_CERCANO",
                    f"Con esta operación el saldo ({fmt_money(after, moneda)}) llega al "
                    f"{after * 100 / limite:.0f} % del límite ({fmt_money(limite, moneda)}).",
                    DecisionLevel.INFORMACION,
                )
        plazo = operation.plazo_dias
        if plazo is not None and plazo > conditions.plazo_maximo_dias:
            add(
                "PLAZO_EXCEDIDO",
                f"El plazo solicitado ({plazo} días) excede el plazo máximo del cliente "
                f"({conditions.plazo_maximo_dias} días).",
                on_break,
            )

    oldest = exposure.dias_vencido_max
    if oldest > 0:
        if credit and oldest > conditions.dias_atraso_tolerados:
            add(
                "ATRASO_EXCEDIDO",
                f"El cliente tiene documentos vencidos hace {oldest} días "
                f"(tolerancia: {conditions.dias_atraso_tolerados} días).",
                on_break,
            )
        else:
            add(
                "SALDO_VENCIDO",
                f"El cliente tiene saldo vencido; el documento más antiguo lleva {oldest} días vencido.",
                DecisionLevel.INFORMACION,
            )

    if efos is not None and efos.situacion in ("Definitivo", "Presunto"):
        when = f" (publicado el {efos.fecha:%d/%m/%Y})" if efos.fecha else ""
        if efos.situacion == "Definitivo":
            add(
                "EFOS_DEFINITIVO",
                f"El RFC del cliente está en el listado definitivo del artículo 69-B del CFF{when}: "
                "sus comprobantes no amparan operaciones.",
                DecisionLevel.INFORMACION if kind is OperationKind.COBRO else DecisionLevel.RESTRICCION,
            )
        else:
            add(
                "EFOS_PRESUNTO",
                f"El RFC del cliente está en el listado de presuntos del artículo 69-B del CFF{when}.",
                DecisionLevel.INFORMACION if kind is OperationKind.COBRO else DecisionLevel.ADVERTENCIA,
            )

    if not reasons:
        add(
            "DENTRO_DE_CONDICIONES",
            "La operación está dentro de las condiciones de crédito del cliente.",
            DecisionLevel.INFORMACION,
        )
    reasons.sort(key=lambda r: -r.nivel.rank)
    available = {
        cur: lim - exposure.saldos.get(cur, ZERO) for cur, lim in sorted(conditions.limites.items())
    }
    return CreditDecision(reasons[0].nivel, tuple(reasons), available)
