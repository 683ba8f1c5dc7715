"""Credit control use cases: conditions, credit check, authorizations, notes.

* ``set_conditions``/``get_conditions``: a customer's commercial conditions (limits per
  currency, maximum term, control level, status, collection type) and the attributes
  collectors group by (salesperson, zone, classification, branch).
* ``check_credit``: the domain's ``credit_check`` fed with the customer's exposure read
  from SQL (open balances per currency and the oldest overdue document).
* Authorization requests recorded with the check that motivated them, granted or denied
  by a user whose role allows it (never the requester).
* The customer's notes sheet (append-only).
* Sale assignment: the branch/salesperson each invoice was sold under; changing a
  customer's branch first freezes the current one on its earlier invoices.
* Debt documents beyond the CFDI (cheques, pagarés, card vouchers): ``services/debts.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from cfdi_cobranza import catalogs
from cfdi_cobranza.db.models import AuditEntry, Customer, Document
from cfdi_cobranza.db.models.collections import (
    CreditAuthorization,
    CreditCondition,
    CreditLimit,
    CustomerNote,
    SaleAssignment,
)
from cfdi_cobranza.db.models.users import User
from cfdi_cobranza.domain.credit import (
    CollectionType,
    ControlLevel,
    CreditConditions,
    CreditDecision,
    DecisionLevel,
    EfosStanding,
    Exposure,
    Operation,
    OperationKind,
    credit_check,
)
from cfdi_cobranza.domain.money import is_currency, round_currency
from cfdi_cobranza.domain.states import (
    AuthorizationStatus,
    CreditStatus,
    DocumentStatus,
)
from cfdi_cobranza.errors import ConflictError, NotFoundError, ValidationError
from cfdi_cobranza.services import efos as efos_service
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.ledger import find_customer
from cfdi_cobranza.services.portfolio import local_date

AUTHORIZER_ROLES = ("administrador", "cobranza")
DEFAULT_PLAZO = 30


def _enum(cls: Any, value: str, what: str, code: str) -> Any:
    try:
        return cls(value.strip().lower())
    except ValueError:
        options = ", ".join(v.value for v in cls)
        raise ValidationError(f"{what} desconocido: {value!r}. Opciones: {options}.", code=code) from None


def _money(value: Decimal, currency: str) -> str:
    return format(round_currency(value, currency), "f")


def _audit(session: Session, clock: Clock, actor: str, action: str, entity: str, entity_id: Any,
           detail: dict[str, Any]) -> None:
    session.add(AuditEntry(at=clock(), actor=actor[:100], action=action[:50], entity=entity[:50],
                           entity_id=str(entity_id)[:64], detail=json.dumps(detail, default=str)))


# --------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class ConditionsView:
    rfc: str
    nombre: str | None
    conditions: CreditConditions
    vendedor: str | None
    zona: str | None
    clasificacion: str | None
    sucursal: str | None
    contacto: str | None
    domicilio: str | None
    forma_pago_habitual: str | None
    configurado: bool  # False: the defaults apply (no row yet)

    def to_dict(self) -> dict[str, Any]:
        c = self.conditions
        return {
            "rfc": self.rfc,
            "nombre": self.nombre,
            "limites": {k: _money(v, k) for k, v in sorted(c.limites.items())},
            "plazo_maximo_dias": c.plazo_maximo_dias,
            "nivel_control": c.nivel_control.value,
            "estatus": c.estatus.value,
            "tipo_cobranza": c.tipo_cobranza.value,
            "dias_atraso_tolerados": c.dias_atraso_tolerados,
            "formas_permitidas": sorted(c.formas_permitidas) if c.formas_permitidas is not None else None,
            "vendedor": self.vendedor,
            "zona": self.zona,
            "clasificacion": self.clasificacion,
            "sucursal": self.sucursal,
            "contacto": self.contacto,
            "domicilio": self.domicilio,
            "forma_pago_habitual": self.forma_pago_habitual,
            "configurado": self.configurado,
        }


def _conditions_of(row: CreditCondition | None) -> CreditConditions:
    if row is None:
        return CreditConditions(limites={}, plazo_maximo_dias=DEFAULT_PLAZO)
    return CreditConditions(
        limites={lim.moneda: lim.limite for lim in row.limits},
        plazo_maximo_dias=row.plazo_maximo_dias,
        nivel_control=ControlLevel(row.nivel_control),
        estatus=CreditStatus(row.estatus),
        tipo_cobranza=CollectionType(row.tipo_cobranza),
        dias_atraso_tolerados=row.dias_atraso_tolerados,
        formas_permitidas=parse_formas(row.formas_permitidas),
    )


def parse_formas(text: str | Iterable[str] | None) -> frozenset[str] | None:
    """``"01, 03,04"`` (or a list) -> the c_FormaPago codes; empty, ``None`` or "todas": no restriction."""
    if text is None:
        return None
    items = text.replace(";", ",").split(",") if isinstance(text, str) else list(text)
    codes = {i.strip().zfill(2) if i.strip().isdigit() else i.strip() for i in items if i and i.strip()}
    if not codes or codes == {"todas"}:
        return None
    return frozenset(codes)


def conditions_of(session: Session, customer_id: int) -> CreditConditions:
    """The customer's commercial conditions (the defaults when none were set)."""
    return _conditions_of(session.get(CreditCondition, customer_id))


def get_conditions(session: Session, rfc: str) -> ConditionsView:
    customer = find_customer(session, rfc)
    return _view(session, customer)


def _view(session: Session, customer: Customer) -> ConditionsView:
    row = session.get(CreditCondition, customer.id)
    return ConditionsView(
        rfc=customer.key, nombre=customer.nombre, conditions=_conditions_of(row),
        vendedor=row.vendedor if row else None, zona=row.zona if row else None,
        clasificacion=row.clasificacion if row else None, sucursal=row.sucursal if row else None,
        contacto=row.contacto if row else None, domicilio=row.domicilio if row else None,
        forma_pago_habitual=customer.usual_forma_pago, configurado=row is not None,
    )


_UNSET: Any = object()


def set_conditions(
    session: Session,
    rfc: str,
    *,
    actor: str,
    limits: dict[str, Decimal | None] | None = None,
    plazo_maximo_dias: int | None = None,
    nivel_control: str | None = None,
    estatus: str | None = None,
    tipo_cobranza: str | None = None,
    dias_atraso_tolerados: int | None = None,
    vendedor: str | None = _UNSET,
    zona: str | None = _UNSET,
    clasificacion: str | None = _UNSET,
    sucursal: str | None = _UNSET,
    contacto: str | None = _UNSET,
    domicilio: str | None = _UNSET,
    forma_pago_habitual: str | None = _UNSET,
    formas_permitidas: str | Iterable[str] | None = _UNSET,
    clock: Clock = system_clock,
) -> ConditionsView:
    """Change only what is given; a limit of ``None`` removes that currency's credit.

    Everything is validated (through the domain's ``CreditConditions``) before any row
    changes, so a bad value leaves the conditions as they were.
    """
    customer = find_customer(session, rfc)
    row = session.get(CreditCondition, customer.id)
    current = _conditions_of(row)
    new_limits = dict(current.limites)
    for currency, limit in (limits or {}).items():
        code = currency.strip().upper()
        if not is_currency(code):
            raise ValidationError(f"Moneda desconocida: {currency!r}.", code="MONEDA_INVALIDA")
        if limit is None:
            new_limits.pop(code, None)
        else:
            new_limits[code] = limit
    proposed = CreditConditions(
        limites=new_limits,
        plazo_maximo_dias=current.plazo_maximo_dias if plazo_maximo_dias is None else plazo_maximo_dias,
        nivel_control=current.nivel_control if nivel_control is None
        else _enum(ControlLevel, nivel_control, "Nivel de control", "NIVEL_CONTROL_INVALIDO"),
        estatus=current.estatus if estatus is None
        else _enum(CreditStatus, estatus, "Estatus", "ESTATUS_INVALIDO"),
        tipo_cobranza=current.tipo_cobranza if tipo_cobranza is None
        else _enum(CollectionType, tipo_cobranza, "Tipo de cobranza", "TIPO_COBRANZA_INVALIDO"),
        dias_atraso_tolerados=current.dias_atraso_tolerados if dias_atraso_tolerados is None
        else dias_atraso_tolerados,
        formas_permitidas=current.formas_permitidas if formas_permitidas is _UNSET
        else parse_formas(formas_permitidas),
    )
    if forma_pago_habitual not in (_UNSET, None) and forma_pago_habitual not in catalogs.keys("c_FormaPago"):
        raise ValidationError(f"Forma de pago desconocida: {forma_pago_habitual!r} (catálogo c_FormaPago).",
                              code="FORMA_PAGO_INVALIDA")
    now = clock()
    if row is None:
        row = CreditCondition(customer_id=customer.id, updated_at=now, updated_by=actor)
        session.add(row)
    elif (sucursal is not _UNSET and sucursal != row.sucursal) or (
        vendedor is not _UNSET and vendedor != row.vendedor
    ):
        freeze_sale_assignments(session, customer.id, row.sucursal, row.vendedor, clock=clock)
    row.plazo_maximo_dias = proposed.plazo_maximo_dias
    if plazo_maximo_dias is not None:
        # The customer's credit term also dates the invoices imported from now on
        # (vencimiento = fecha + term when CondicionesDePago states no days).
        customer.credit_days = proposed.plazo_maximo_dias
    row.nivel_control = proposed.nivel_control.value
    if proposed.estatus != current.estatus:
        current.estatus.check_move(proposed.estatus)
    row.estatus = proposed.estatus
    row.tipo_cobranza = proposed.tipo_cobranza.value
    row.dias_atraso_tolerados = proposed.dias_atraso_tolerados
    row.formas_permitidas = (",".join(sorted(proposed.formas_permitidas))
                             if proposed.formas_permitidas is not None else None)
    for name, value in (("vendedor", vendedor), ("zona", zona), ("clasificacion", clasificacion),
                        ("sucursal", sucursal), ("contacto", contacto), ("domicilio", domicilio)):
        if value is not _UNSET:
            setattr(row, name, (value or "").strip() or None)
    if forma_pago_habitual is not _UNSET:
        customer.usual_forma_pago = forma_pago_habitual or None
    row.updated_at = now
    row.updated_by = actor
    existing = {lim.moneda: lim for lim in row.limits}
    for code, lim in existing.items():
        if code not in new_limits:
            row.limits.remove(lim)
    for code, amount in new_limits.items():
        if code in existing:
            existing[code].limite = amount
        else:
            row.limits.append(CreditLimit(customer_id=customer.id, moneda=code, limite=amount))
    session.flush()
    _audit(session, clock, actor, "condiciones_credito", "customer", customer.key,
           _view(session, customer).to_dict())
    return _view(session, customer)


def freeze_sale_assignments(session: Session, customer_id: int, sucursal: str | None,
                            vendedor: str | None, *, clock: Clock = system_clock) -> int:
    """Record the current branch/salesperson on the customer's invoices that have none."""
    if sucursal is None and vendedor is None:
        return 0
    assigned = select(SaleAssignment.document_id)
    ids = session.scalars(
        select(Document.id).where(Document.customer_id == customer_id, Document.tipo == "I",
                                  Document.id.not_in(assigned))
    ).all()
    if ids:
        now = clock()
        session.execute(insert(SaleAssignment), [
            {"document_id": i, "sucursal": sucursal, "vendedor": vendedor, "assigned_at": now} for i in ids
        ])
    return len(ids)


def assign_sale(session: Session, uuid: str, *, sucursal: str | None, vendedor: str | None,
                clock: Clock = system_clock) -> SaleAssignment:
    """Record the branch/salesperson of one sale; a sale is assigned once."""
    doc = session.scalar(select(Document).where(Document.uuid == uuid.strip().upper()))
    if doc is None or doc.tipo != "I":
        raise NotFoundError(f"No hay ninguna factura con folio fiscal {uuid}.", code="DOCUMENTO_NO_ENCONTRADO")
    if session.get(SaleAssignment, doc.id) is not None:
        raise ConflictError("La venta ya tiene sucursal y vendedor asignados.", code="ASIGNACION_EXISTENTE")
    row = SaleAssignment(document_id=doc.id, sucursal=sucursal, vendedor=vendedor, assigned_at=clock())
    session.add(row)
    session.flush()
    return row


def sale_assignment(session: Session, uuid: str) -> dict[str, Any] | None:
    """The branch and salesperson one invoice counts under (its own, else the customer's)."""
    doc = session.scalar(select(Document).where(Document.uuid == (uuid or "").strip().upper()))
    if doc is None or doc.tipo != "I":
        return None
    row = session.get(SaleAssignment, doc.id)
    cond = session.get(CreditCondition, doc.customer_id)
    return {"sucursal": (row.sucursal if row and row.sucursal else None) or (cond.sucursal if cond else None),
            "vendedor": (row.vendedor if row and row.vendedor else None) or (cond.vendedor if cond else None),
            "propia": row is not None}


def reassign_sale(session: Session, uuid: str, *, sucursal: str, vendedor: str | None = None, actor: str,
                  clock: Clock = system_clock) -> dict[str, Any]:
    """Move one sale (an invoice) to another branch, and optionally another salesperson.

    Reports grouped or filtered by sucursal/vendedor read ``SaleAssignment`` first, so
    the invoice's balance, collections and credits move with it; the customer's other
    sales stay where they are. Without ``vendedor`` the sale keeps the one it had (the
    customer's current one is frozen on it if it had none). Audited
    (``venta_reasignada``, before and after).
    """
    branch = (sucursal or "").strip()[:100]
    if not branch:
        raise ValidationError("Indique la sucursal a la que se asigna la venta.", code="SUCURSAL_REQUERIDA")
    seller = (vendedor or "").strip()[:100] or None
    doc = session.scalar(select(Document).where(Document.uuid == (uuid or "").strip().upper()))
    if doc is None or doc.tipo != "I":
        raise NotFoundError(f"No hay ninguna factura con folio fiscal {uuid[:40]}.", code="DOCUMENTO_NO_ENCONTRADO")
    row = session.get(SaleAssignment, doc.id)
    cond = session.get(CreditCondition, doc.customer_id)
    before = {"sucursal": row.sucursal if row else (cond.sucursal if cond else None),
              "vendedor": row.vendedor if row else (cond.vendedor if cond else None)}
    after = {"sucursal": branch, "vendedor": seller or before["vendedor"]}
    if row is None:
        row = SaleAssignment(document_id=doc.id, sucursal=after["sucursal"], vendedor=after["vendedor"],
                             assigned_at=clock())
        session.add(row)
    else:
        row.sucursal, row.vendedor, row.assigned_at = after["sucursal"], after["vendedor"], clock()
    _audit(session, clock, actor, "venta_reasignada", "documento", doc.uuid, {"antes": before, "despues": after})
    session.flush()
    return {"uuid": doc.uuid, "serie_folio": doc.serie_folio, "sucursal": row.sucursal, "vendedor": row.vendedor,
            "anterior": before, "asignada": row.assigned_at.isoformat()}


# --------------------------------------------------------------------------- credit check


def exposure_of(session: Session, customer_id: int, as_of: date) -> Exposure:
    """Open balance per currency and the oldest overdue document, from the stored saldos."""
    rows = session.execute(
        select(Document.moneda, func.sum(Document.saldo),
               func.sum(Document.saldo).filter(Document.vencimiento < as_of),
               func.min(Document.vencimiento).filter(Document.vencimiento < as_of))
        .where(Document.customer_id == customer_id, Document.tipo == "I",
               Document.status != DocumentStatus.CANCELADO, Document.saldo > 0)
        .group_by(Document.moneda)
    ).all()
    saldos: dict[str, Decimal] = {}
    vencido: dict[str, Decimal] = {}
    oldest = 0
    for moneda, saldo, overdue, first_due in rows:
        saldos[moneda] = Decimal(saldo)
        if overdue:
            vencido[moneda] = Decimal(overdue)
        if first_due is not None:
            oldest = max(oldest, (as_of - first_due).days)
    return Exposure(saldos, oldest, vencido)


@dataclass(frozen=True)
class CreditCheck:
    rfc: str
    nombre: str | None
    operation: Operation
    decision: CreditDecision
    exposure: Exposure
    fecha: date
    efos: EfosStanding | None = None

    def to_dict(self) -> dict[str, Any]:
        d = self.decision
        return {
            "rfc": self.rfc,
            "nombre": self.nombre,
            "fecha": self.fecha.isoformat(),
            "operacion": {"tipo": self.operation.tipo.value, "importe": format(self.operation.importe, "f"),
                          "moneda": self.operation.moneda, "plazo_dias": self.operation.plazo_dias},
            "nivel": d.nivel.value,
            "nivel_etiqueta": d.nivel.etiqueta,
            "permitida": d.permitida,
            "razones": [{"code": r.code, "mensaje": r.mensaje, "nivel": r.nivel.value} for r in d.razones],
            "disponible": {k: _money(v, k) for k, v in d.disponible.items()},
            "saldos": {k: _money(v, k) for k, v in sorted(self.exposure.saldos.items())},
            "saldo_vencido": {k: _money(v, k) for k, v in sorted(self.exposure.saldo_vencido.items())},
            "dias_vencido_max": self.exposure.dias_vencido_max,
            "efos": efos_service.standing_dict(self.efos),
        }


def check_credit(
    session: Session,
    rfc: str,
    importe: Decimal,
    moneda: str = "MXN",
    *,
    tipo: str = OperationKind.VENTA_CREDITO.value,
    plazo_dias: int | None = None,
    forma_pago: str | None = None,
    clock: Clock = system_clock,
) -> CreditCheck:
    customer = find_customer(session, rfc)
    if forma_pago is not None and forma_pago not in catalogs.keys("c_FormaPago"):
        raise ValidationError(f"Forma de pago desconocida: {forma_pago!r} (catálogo c_FormaPago).",
                              code="FORMA_PAGO_INVALIDA")
    operation = Operation(
        _enum(OperationKind, tipo, "Tipo de operación", "OPERACION_INVALIDA"), importe,
        moneda.strip().upper(), plazo_dias, forma_pago,
    )
    today = local_date(clock())
    exposure = exposure_of(session, customer.id, today)
    conditions = _conditions_of(session.get(CreditCondition, customer.id))
    efos = efos_service.standing(session, customer.rfc)
    return CreditCheck(customer.key, customer.nombre, operation,
                       credit_check(conditions, exposure, operation, efos), exposure, today, efos)


# --------------------------------------------------------------------------- authorizations


@dataclass(frozen=True)
class AuthorizationView:
    id: int
    rfc: str
    operacion: str
    importe: Decimal
    moneda: str
    plazo_dias: int | None
    nivel: str
    razones: str  # JSON list of {code, mensaje, nivel}, as stored
    motivo: str | None
    solicitada: datetime
    solicitada_por: str
    estado: AuthorizationStatus
    resuelta: datetime | None
    resuelta_por: str | None
    rol: str | None
    motivo_resolucion: str | None
    forma_pago: str | None = None
    usada: bool = False  # a payment-form authorization already let its receipt through

    @classmethod
    def of(cls, a: CreditAuthorization, key: str) -> AuthorizationView:
        return cls(a.id, key, a.operacion, a.importe, a.moneda, a.plazo_dias, a.nivel, a.razones, a.motivo,
                   a.requested_at, a.requested_by, AuthorizationStatus(a.status), a.decided_at, a.decided_by,
                   a.decided_role, a.decision_motivo, a.forma_pago, a.settlement_id is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "rfc": self.rfc, "operacion": self.operacion, "importe": _money(self.importe, self.moneda),
            "moneda": self.moneda, "plazo_dias": self.plazo_dias, "nivel": self.nivel,
            "razones": json.loads(self.razones), "motivo": self.motivo, "solicitada": self.solicitada.isoformat(),
            "solicitada_por": self.solicitada_por, "estado": self.estado.value,
            "resuelta": self.resuelta.isoformat() if self.resuelta else None, "resuelta_por": self.resuelta_por,
            "rol": self.rol, "motivo_resolucion": self.motivo_resolucion, "forma_pago": self.forma_pago,
            "usada": self.usada,
        }


def request_authorization(
    session: Session, rfc: str, importe: Decimal, moneda: str = "MXN", *, actor: str,
    tipo: str = OperationKind.VENTA_CREDITO.value, plazo_dias: int | None = None,
    motivo: str | None = None, forma_pago: str | None = None, clock: Clock = system_clock,
) -> AuthorizationView:
    """Record a request for an operation the credit check sends to authorization
    (with ``forma_pago``: a receipt in a form outside the customer's conditions)."""
    check = check_credit(session, rfc, importe, moneda, tipo=tipo, plazo_dias=plazo_dias, forma_pago=forma_pago,
                         clock=clock)
    level = check.decision.nivel
    if level is DecisionLevel.RESTRICCION:
        raise ConflictError(
            "La operación está restringida para este cliente; no procede una autorización: "
            + "; ".join(r.mensaje for r in check.decision.razones if r.nivel is level),
            code="AUTORIZACION_NO_PROCEDE",
        )
    if level is DecisionLevel.INFORMACION:
        raise ConflictError("La operación no necesita autorización: está dentro de las condiciones.",
                            code="AUTORIZACION_INNECESARIA")
    customer = find_customer(session, rfc)
    row = CreditAuthorization(
        customer_id=customer.id, operacion=check.operation.tipo.value, importe=importe,
        moneda=check.operation.moneda, plazo_dias=plazo_dias, nivel=level.value,
        razones=json.dumps([{"code": r.code, "mensaje": r.mensaje, "nivel": r.nivel.value}
                            for r in check.decision.razones], ensure_ascii=False),
        motivo=motivo, requested_at=clock(), requested_by=actor.strip().lower(), status=AuthorizationStatus.PENDIENTE,
        forma_pago=forma_pago,
    )
    session.add(row)
    session.flush()
    _audit(session, clock, actor, "autorizacion_solicitada", "credit_authorization", row.id, {"rfc": customer.key})
    return AuthorizationView.of(row, customer.key)


def decide_authorization(
    session: Session, request_id: int, *, grant: bool, username: str, motivo: str | None = None,
    clock: Clock = system_clock,
) -> AuthorizationView:
    """Grant or deny a pending request; only an active user with an authorizer role may."""
    row = session.get(CreditAuthorization, request_id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"No existe la solicitud de autorización {request_id}.",
                            code="AUTORIZACION_NO_ENCONTRADA")
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None or not user.active:
        raise NotFoundError(f"No existe un usuario activo «{username}».", code="USUARIO_NO_ENCONTRADO")
    if user.role not in AUTHORIZER_ROLES:
        raise ConflictError(
            f"El rol «{user.role}» no puede resolver autorizaciones de crédito "
            f"(roles permitidos: {', '.join(AUTHORIZER_ROLES)}).", code="PERMISO_DENEGADO")
    new = AuthorizationStatus(row.status).check_move(
        AuthorizationStatus.AUTORIZADA if grant else AuthorizationStatus.DENEGADA)
    if (row.requested_by or "").strip().lower() == user.username:
        raise ConflictError("Quien solicita una autorización no puede resolverla.", code="AUTORIZACION_PROPIA")
    if not grant and not (motivo or "").strip():
        raise ValidationError("Indique el motivo del rechazo.", code="MOTIVO_REQUERIDO")
    row.status = new
    row.decided_at = clock()
    row.decided_by = user.username
    row.decided_role = user.role
    row.decision_motivo = motivo
    session.flush()
    _audit(session, clock, user.username, f"autorizacion_{row.status}", "credit_authorization", row.id, {})
    key = session.scalar(select(Customer.key).where(Customer.id == row.customer_id)) or ""
    return AuthorizationView.of(row, key)


def list_authorizations(session: Session, *, status: str | None = None,
                        rfc: str | None = None) -> list[AuthorizationView]:
    stmt = select(CreditAuthorization, Customer.key).join(Customer, Customer.id == CreditAuthorization.customer_id)
    if status:
        stmt = stmt.where(CreditAuthorization.status == status)
    if rfc:
        stmt = stmt.where(CreditAuthorization.customer_id == find_customer(session, rfc).id)
    return [AuthorizationView.of(a, k) for a, k in session.execute(stmt.order_by(CreditAuthorization.id))]


# --------------------------------------------------------------------------- notes sheet


@dataclass(frozen=True)
class Note:
    id: int
    fecha: datetime
    autor: str
    texto: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "fecha": self.fecha.isoformat(), "autor": self.autor, "texto": self.texto}


def add_note(session: Session, rfc: str, text: str, *, author: str, clock: Clock = system_clock) -> Note:
    customer = find_customer(session, rfc)
    clean = (text or "").strip()
    if not clean:
        raise ValidationError("La nota está vacía.", code="NOTA_VACIA")
    if len(clean) > 2000:
        raise ValidationError("La nota no puede pasar de 2,000 caracteres.", code="NOTA_LARGA")
    note = CustomerNote(customer_id=customer.id, at=clock(), author=author, text=clean)
    session.add(note)
    session.flush()
    return Note(note.id, note.at, author, clean)


def list_notes(session: Session, rfc: str) -> list[Note]:
    customer = find_customer(session, rfc)
    return [
        Note(n.id, n.at, n.author, n.text)
        for n in session.scalars(select(CustomerNote).where(CustomerNote.customer_id == customer.id)
                                 .order_by(CustomerNote.at, CustomerNote.id))
    ]


__all__ = [
    "AUTHORIZER_ROLES",
    "AuthorizationView",
    "ConditionsView",
    "CreditCheck",
    "Note",
    "add_note",
    "assign_sale",
    "check_credit",
    "decide_authorization",
    "exposure_of",
    "get_conditions",
    "list_authorizations",
    "list_notes",
    "reassign_sale",
    "request_authorization",
    "sale_assignment",
    "set_conditions",
]
