"""Pagos: register a settlement (several payment forms), apply it, reverse an application.

Every write calls ``cfdi_cobranza.services.payments`` once and commits; a refusal rolls
back, re-shows the form with what the user typed and the Spanish message, status 400
(or 409 for a clash with the stored state such as applying more than the balance).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from cfdi_cobranza import catalogs
from cfdi_cobranza.errors import CobranzaError, ConflictError, NotFoundError, ValidationError
from cfdi_cobranza.services import debt_types
from cfdi_cobranza.services import payments as pay
from cfdi_cobranza.services.customers import customer_choice, customers_for_select
from cfdi_cobranza.services.ledger import list_companies
from web.clock import clock, today
from web.db import get_session
from web.security import READERS, require_role
from web.services import payments as view

bp = Blueprint("payments", __name__, url_prefix="/pagos")

PAYERS = frozenset({"administrador", "facturacion"})


def _status(exc: CobranzaError) -> int:
    return 409 if isinstance(exc, ConflictError) else 404 if isinstance(exc, NotFoundError) else 400


@bp.route("/", methods=["GET"])
@require_role(*READERS)
def index() -> Any:
    q = request.args.get("q", "")[:100]
    db = get_session()
    return render_template("payments/list.html", rows=pay.list_payments(db, q=q, latest=200), q=q,
                           cajas=pay.cash_box_summary(db), can_write=g.user.role in PAYERS)


def _render_form(form: view.SettlementForm, errors: list[str] | None = None, status: int = 200) -> Any:
    db = get_session()
    return render_template("payments/new.html", form=form, errors=errors or [], customers=customers_for_select(db),
                           companies=list_companies(db), cajas=pay.cash_box_summary(db), formas=view.formas_pago(),
                           monedas=view.MONEDAS_COMUNES, max_rows=view.MAX_ROWS), status


@bp.route("/nuevo", methods=["GET"])
@require_role(*PAYERS)
def new() -> Any:
    db = get_session()
    form = view.SettlementForm.blank(today())
    wanted = request.args.get("cliente", "")[:320].strip()
    if wanted:
        match = customer_choice(db, wanted)
        if match:
            form = view.SettlementForm.blank(today(), match.forma)
            form.customer = match.key
    return _render_form(form)


@bp.route("/nuevo", methods=["POST"])
@require_role(*PAYERS)
def create() -> Any:
    form = view.SettlementForm.from_form(request.form)
    if request.form.get("accion") == "agregar_fila":  # the no-JavaScript "add another payment form"
        if len(form.rows) < view.MAX_ROWS:
            form.rows.append({**dict.fromkeys(view.ROW_FIELDS, ""), "moneda": "MXN"})
        return _render_form(form)
    db = get_session()
    receipts: list[Any] = []
    try:
        receipts = form.receipts()
        settlement = pay.register_settlement(db, receipts, actor=g.user.username, clock=clock())
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        errors = (view.row_errors(receipts) if isinstance(exc, ValidationError) and receipts else []) \
            or view.error_list(exc)
        return _render_form(form, errors, _status(exc))
    first = settlement.payments[0]
    n = len(settlement.payments)
    flash(f"Liquidación registrada: {n} pago{'' if n == 1 else 's'}. Aplíquelo a las facturas abiertas.", "ok")
    return redirect(url_for("payments.detail", payment_id=first.id))


def _render_detail(payment_id: int, *, error: list[str] | None = None, typed: dict[str, tuple[str, str]] | None = None,
                   status: int = 200) -> Any:
    try:
        info = pay.payment_detail(get_session(), payment_id, today())
    except NotFoundError:
        abort(404)
    debt_id = debt_types.debt_ids_of_payments(get_session(), [payment_id]).get(payment_id)
    return render_template("payments/detail.html", info=info, errors=error or [], typed=typed or {},
                           can_write=g.user.role in PAYERS, debt_id=debt_id), status


@bp.route("/<int:payment_id>", methods=["GET"])
@require_role(*READERS)
def detail(payment_id: int) -> Any:
    return _render_detail(payment_id)


@bp.route("/<int:payment_id>/aplicar", methods=["POST"])
@require_role(*PAYERS)
def apply(payment_id: int) -> Any:
    allocations, typed = view.allocations_from_form(request.form)
    db = get_session()
    try:
        if not allocations:
            raise ValidationError("Capture el importe a aplicar en al menos una factura.", code="SIN_DOCUMENTOS")
        result = pay.apply_payment(db, payment_id, allocations, actor=g.user.username, clock=clock())
        db.commit()
    except NotFoundError as exc:
        db.rollback()
        if exc.code == "PAGO_NO_ENCONTRADO":
            abort(404)
        return _render_detail(payment_id, error=[exc.message], typed=typed, status=400)
    except CobranzaError as exc:
        db.rollback()
        return _render_detail(payment_id, error=view.error_list(exc), typed=typed, status=_status(exc))
    n = len(result.lines)
    avisos = [a["message"] for ln in result.lines for a in ln.avisos]
    flash(f"Pago aplicado a {n} factura{'' if n == 1 else 's'}." + (" " + " ".join(avisos) if avisos else ""), "ok")
    return redirect(url_for("payments.detail", payment_id=payment_id))


@bp.route("/<int:payment_id>/revertir", methods=["POST"])
@require_role(*PAYERS)
def unapply(payment_id: int) -> Any:
    uuid = request.form.get("uuid", "")[:40].strip() or None
    motivo = request.form.get("motivo", "")[:500]
    db = get_session()
    try:
        ids = pay.unapply(db, payment_id, uuid, reason=motivo, actor=g.user.username, clock=clock())
        db.commit()
    except NotFoundError as exc:
        db.rollback()
        if exc.code == "PAGO_NO_ENCONTRADO":
            abort(404)
        return _render_detail(payment_id, error=[exc.message], status=400)
    except CobranzaError as exc:
        db.rollback()
        return _render_detail(payment_id, error=[exc.message], status=_status(exc))
    flash(f"Se revirtieron {len(ids)} aplicaci{'ón' if len(ids) == 1 else 'ones'}; el saldo volvió a las facturas.", "ok")
    return redirect(url_for("payments.detail", payment_id=payment_id))


@bp.route("/<int:payment_id>/confirmar-anticipo", methods=["POST"])
@require_role(*PAYERS)
def confirm_advance(payment_id: int) -> Any:
    """A payment received before its invoice: the user confirms the operation was already agreed."""
    nota = request.form.get("nota", "")[:500]
    db = get_session()
    try:
        ids = pay.confirm_advance(db, payment_id, actor=g.user.username, note=nota, clock=clock())
        db.commit()
    except NotFoundError:
        db.rollback()
        abort(404)
    except CobranzaError as exc:
        db.rollback()
        return _render_detail(payment_id, error=[exc.message], status=_status(exc))
    flash(f"Confirmado: {len(ids)} aplicaci{'ón' if len(ids) == 1 else 'ones'} anterior{'' if len(ids) == 1 else 'es'} "
          "a su factura. Ya puede emitirse el REP.", "ok")
    return redirect(url_for("payments.detail", payment_id=payment_id))


@bp.app_template_filter("forma_pago")
def forma_pago_label(key: str | None) -> str:
    """``03 - Transferencia electrónica de fondos`` (c_FormaPago)."""
    return catalogs.describe("c_FormaPago", key) if key else "—"
