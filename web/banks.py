"""Bancos: upload a statement, see each pending deposit's ranked suggestions, apply the chosen ones.

Nothing is applied without a choice: either the boxes the user ticked, or the explicit
"apply every best suggestion with score >= N" action. Each chosen deposit is applied in
its own savepoint, so one refusal is reported and never undoes the others.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from cfdi_cobranza.errors import CobranzaError, ValidationError
from cfdi_cobranza.services import banking
from web.clock import clock
from web.db import get_session
from web.security import READERS, require_role
from web.services import banks as view

bp = Blueprint("banks", __name__, url_prefix="/bancos")

BANKERS = frozenset({"administrador", "facturacion"})
MAX_STATEMENT_BYTES = 5 * 1024 * 1024


def _page(*, error: str | None = None, imported: Any = None, results: list[banking.DepositOutcome] | None = None,
          rates_text: str = "", status: int = 200) -> Any:
    db = get_session()
    try:
        rates = view.rates_from_form(rates_text)
    except CobranzaError as exc:
        rates, error = {}, error or exc.message
    ranked = banking.suggest(db, rates=rates)
    deposits = [{"m": m, "suggestions": [(view.choice_key(m.id, i, s), s) for i, s in enumerate(sugg)]}
                for m, sugg in ranked]
    return render_template("banks/index.html", deposits=deposits, error=error, imported=imported, results=results,
                           presets=view.PRESETS, mapping_fields=view.MAPPING_FIELDS, date_formats=view.DATE_FORMATS,
                           rates_text=rates_text, can_write=g.user.role in BANKERS, form=request.form), status


@bp.route("/", methods=["GET"])
@require_role(*READERS)
def index() -> Any:
    return _page(rates_text=request.args.get("tc", "")[:100])


@bp.route("/estado-de-cuenta", methods=["POST"])
@require_role(*BANKERS)
def upload() -> Any:
    file = request.files.get("archivo")
    preset = request.form.get("formato", "")
    db = get_session()
    try:
        if file is None or not file.filename:
            raise ValidationError("Seleccione el archivo del estado de cuenta.", code="SIN_ARCHIVOS")
        if preset not in {k for k, _ in view.PRESETS}:
            raise ValidationError("Seleccione el formato del banco.", code="FORMATO_DESCONOCIDO")
        data = file.read(MAX_STATEMENT_BYTES + 1)
        if len(data) > MAX_STATEMENT_BYTES:
            raise ValidationError("El estado de cuenta supera 5 MB; divídalo por periodos.",
                                       code="ARCHIVO_DEMASIADO_GRANDE")
        mapping = view.mapping_from_form(request.form) if preset == "generico" else None
        if preset == "generico" and mapping is None:
            raise ValidationError("Para el CSV genérico indique al menos las columnas de fecha y de abono o importe.",
                                       code="MAPEO_INVALIDO")
        moneda = (request.form.get("moneda", "MXN") or "MXN").strip().upper()[:3]
        result = banking.import_statement(db, data, preset, cuenta=request.form.get("cuenta", "").strip()[:50],
                                          moneda=moneda, mapping=mapping, source_name=(file.filename or "")[:200],
                                          clock=clock())
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        return _page(error=exc.message, status=400)
    return _page(imported=result)


@bp.route("/aplicar", methods=["POST"])
@require_role(*BANKERS)
def apply_chosen() -> Any:
    rates_text = request.form.get("tc", "")[:100]
    db = get_session()
    try:
        rates = view.rates_from_form(rates_text)
    except CobranzaError as exc:
        return _page(error=exc.message, rates_text=rates_text, status=400)
    choices = [c for c in (view.parse_choice(v) for v in request.form.getlist("elegida")[:500]) if c]
    if not choices:
        return _page(error="Marque al menos una sugerencia para aplicar.", rates_text=rates_text, status=400)
    ranked = {m.id: (m, sugg) for m, sugg in banking.suggest(db, rates=rates)}
    results: list[banking.DepositOutcome] = []
    done: set[int] = set()
    for movement_id, rank, fp in choices:
        entry = ranked.get(movement_id)
        if movement_id in done:
            results.append(banking.DepositOutcome(
                movement_id, message="Marcó más de una sugerencia para el mismo depósito; se aplicó solo la primera."))
            continue
        if entry is None or rank >= len(entry[1]) or view.fingerprint(entry[1][rank]) != fp:
            results.append(banking.DepositOutcome(
                movement_id, message="La sugerencia cambió o el depósito ya no está pendiente; revísela de nuevo."))
            continue
        movement, suggestion = entry[0], entry[1][rank]
        try:
            with db.begin_nested():
                result = banking.apply_suggestion(db, movement, suggestion, actor=g.user.username, clock=clock(),
                                                  rates=rates)
            done.add(movement_id)
            results.append(banking.DepositOutcome(movement_id, result, suggestion.score))
        except CobranzaError as exc:
            results.append(banking.DepositOutcome(movement_id, code=exc.code, message=exc.message))
    db.commit()
    return _summary(results, rates_text)


@bp.route("/aplicar-por-puntaje", methods=["POST"])
@require_role(*BANKERS)
def apply_above() -> Any:
    rates_text = request.form.get("tc", "")[:100]
    raw = request.form.get("puntaje", "").strip()
    if not raw.isdecimal() or not 1 <= int(raw) <= 100:
        return _page(error="El puntaje mínimo debe ser un número entero entre 1 y 100.", rates_text=rates_text, status=400)
    db = get_session()
    try:
        results = banking.apply_above(db, int(raw), actor=g.user.username, clock=clock(),
                                      rates=view.rates_from_form(rates_text))
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        return _page(error=exc.message, rates_text=rates_text, status=400)
    if not results:
        flash(f"Ningún depósito tiene una sugerencia con puntaje de {raw} o más.", "error")
        return redirect(url_for("banks.index"))
    return _summary(results, rates_text)


def _summary(results: list[banking.DepositOutcome], rates_text: str) -> Any:
    ok = sum(1 for r in results if r.applied is not None)
    if ok:
        flash(f"{ok} depósito{'' if ok == 1 else 's'} aplicado{'' if ok == 1 else 's'} como pago.", "ok")
    return _page(results=results, rates_text=rates_text, status=200 if ok or not results else 409)
