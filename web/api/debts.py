"""Debt documents (cheques, pagarés, vouchers) and the corte de caja for other systems.

The same services as ``cobranza debt ...`` / ``cobranza report cash-cut`` and the
Documentos page (``services.debts``): the same states, moves, refusals and codes.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.reports.debts import cash_cut_report
from cfdi_cobranza.services import debts
from web.api import bp
from web.api.auth import token_role
from web.api.payments import json_body
from web.clock import clock, today
from web.db import get_session
from web.security import READERS
from web.services import debts as view

DEBT_WRITERS = frozenset({"administrador", "cobranza", "facturacion"})


@bp.route("/debts", methods=["GET"])
@token_role(*READERS)
def list_debts() -> Any:
    f = view.parse_filters(request.args)
    rows = debts.list_debt_documents(get_session(), f.rfc, f.estado, **f.kwargs())
    return jsonify({"data": [r.to_dict() for r in rows]})


@bp.route("/debts", methods=["POST"])
@token_role(*DEBT_WRITERS)
def create_debt() -> Any:
    data = view.parse_new_debt(json_body(), today())
    db = get_session()
    doc = debts.register_debt_document(db, actor=f"api:{g.api_token.name}", clock=clock(), **data)
    db.commit()
    return jsonify(doc.to_dict()), 201


@bp.route("/debts/<int:debt_id>", methods=["GET"])
@token_role(*READERS)
def show_debt(debt_id: int) -> Any:
    return jsonify(debts.get_debt_document(get_session(), debt_id).to_dict())


@bp.route("/debts/<int:debt_id>/state", methods=["POST"])
@token_role(*DEBT_WRITERS)
def change_debt_state(debt_id: int) -> Any:
    data = view.parse_state_change(json_body(), today())
    db = get_session()
    doc = debts.change_debt_state(db, debt_id, data["estado"], fecha=data["fecha"], nota=data["nota"],
                                  actor=f"api:{g.api_token.name}", clock=clock())
    db.commit()
    return jsonify(doc.to_dict())


@bp.route("/debt-types", methods=["GET"])
@token_role(*READERS)
def list_debt_types() -> Any:
    return jsonify({"data": [t.to_dict() for t in debts.list_types(get_session())]})


@bp.route("/debt-types/<code>", methods=["POST"])
@token_role("administrador")
def set_debt_type(code: str) -> Any:
    body = json_body()
    estados = body.get("estados")
    transiciones = body.get("transiciones")
    if estados is not None and not (isinstance(estados, list) and all(isinstance(s, str) for s in estados)):
        raise ValidationError("«estados» es una lista de estados.", code="ESTADOS_INVALIDOS")
    if transiciones is not None and not (isinstance(transiciones, dict) and all(
            isinstance(v, list) and all(isinstance(s, str) for s in v) for v in transiciones.values())):
        raise ValidationError("«transiciones» es un objeto {estado: [estado, ...]}.", code="TRANSICION_NO_PERMITIDA")
    db = get_session()
    kind = debts.set_type(db, code[:12], nombre=str(body.get("nombre") or "")[:60],
                          posfechable=body.get("posfechable") is True, estados=estados, transiciones=transiciones,
                          actor=f"api:{g.api_token.name}", clock=clock())
    db.commit()
    return jsonify(kind.to_dict())


@bp.route("/reports/cash-cut", methods=["GET"])
@token_role(*READERS)
def cash_cut() -> Any:
    caja, fecha = view.parse_cash_cut(request.args, today())
    return jsonify(cash_cut_report(debts.cash_cut(get_session(), caja, fecha)).payload)


def openapi_paths() -> dict[str, Any]:
    """This module's part of ``/api/v1/openapi.json``."""
    err = {"$ref": "#/components/responses/Error"}
    auth = {"401": err, "403": err}
    money = {"type": "string", "description": "Importe decimal exacto como texto, p. ej. \"1500.00\"."}
    states = ["en_cartera", "depositado", "cobrado", "devuelto", "protestado", "cancelado"]
    debt = {"type": "object", "properties": {
        "id": {"type": "integer"}, "rfc": {"type": "string"}, "tipo": {"type": "string"},
        "tipo_etiqueta": {"type": "string"}, "numero": {"type": ["string", "null"]},
        "banco": {"type": ["string", "null"]}, "moneda": {"type": "string"}, "importe": money,
        "fecha": {"type": "string", "format": "date"}, "fecha_cobro": {"type": "string", "format": "date"},
        "posfechado": {"type": "boolean"}, "estado": {"type": "string", "enum": states},
        "estado_etiqueta": {"type": "string"}, "payment_id": {"type": ["integer", "null"]},
        "pasa_a": {"type": "array", "items": {"type": "string", "enum": states}},
        "historial": {"type": "array", "items": {"type": "object"}},
        "creditos_revertidos": {"type": "array", "items": {"type": "integer"}}}}
    kind = {"type": "object", "properties": {
        "code": {"type": "string"}, "nombre": {"type": "string"}, "posfechable": {"type": "boolean"},
        "estados": {"type": "array", "items": {"type": "string", "enum": states}},
        "transiciones": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}}}

    def q(name: str, text: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": text, "schema": {"type": "string"}}

    def body(schema: dict[str, Any]) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    def ok(text: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"description": text, "content": {"application/json": {"schema": schema}}}

    debt_id = {"name": "debt_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "/api/v1/debts": {
            "get": {"summary": "Documentos de cobranza (cheques, pagarés, vouchers) con filtros",
                    "operationId": "listarDocumentosCobranza",
                    "parameters": [q("cliente", "RFC del cliente."), q("estado", "Estado."), q("tipo", "Tipo."),
                                   q("cobro_desde", "Fecha de cobro desde."), q("cobro_hasta", "Fecha de cobro hasta.")],
                    "responses": {"200": ok("Documentos", {"type": "object", "properties": {
                        "data": {"type": "array", "items": debt}}}), "400": err, "404": err, **auth}},
            "post": {"summary": "Registra un documento de cobranza (en cartera)",
                     "operationId": "registrarDocumentoCobranza",
                     "requestBody": body({"type": "object", "required": ["cliente", "tipo", "importe"], "properties": {
                         "cliente": {"type": "string"}, "tipo": {"type": "string"}, "importe": money,
                         "moneda": {"type": "string", "default": "MXN"},
                         "fecha": {"type": "string", "format": "date"},
                         "fecha_cobro": {"type": ["string", "null"], "format": "date",
                                         "description": "Posterior a la fecha: posfechado (si el tipo lo admite)."},
                         "numero": {"type": ["string", "null"]}, "banco": {"type": ["string", "null"]},
                         "pago": {"type": ["integer", "null"]}, "complemento": {"type": ["string", "null"]},
                         "notas": {"type": ["string", "null"]}}}),
                     "responses": {"201": ok("Documento registrado", debt), "400": err, "404": err, "409": err,
                                   **auth}},
        },
        "/api/v1/debts/{debt_id}": {"get": {
            "summary": "Un documento de cobranza con su historial de estados", "operationId": "verDocumentoCobranza",
            "parameters": [debt_id], "responses": {"200": ok("El documento", debt), "404": err, **auth}}},
        "/api/v1/debts/{debt_id}/state": {"post": {
            "summary": "Cambia el estado; devuelto o protestado reabre lo que pagó (rechazado si un REP vigente "
                       "ampara el pago: código PAGO_CON_REP con los REP a cancelar)",
            "operationId": "cambiarEstadoDocumentoCobranza", "parameters": [debt_id],
            "requestBody": body({"type": "object", "required": ["estado"], "properties": {
                "estado": {"type": "string", "enum": states}, "fecha": {"type": "string", "format": "date"},
                "nota": {"type": ["string", "null"], "description": "Motivo; obligatorio al devolver o protestar."}}}),
            "responses": {"200": ok("Documento con su nuevo estado", debt), "400": err, "404": err, "409": err,
                          **auth}}},
        "/api/v1/debt-types": {"get": {
            "summary": "Tipos de documento de cobranza: nombre, posfechado, estados y cambios permitidos",
            "operationId": "listarTiposDocumentoCobranza",
            "responses": {"200": ok("Tipos", {"type": "object", "properties": {
                "data": {"type": "array", "items": kind}}}), **auth}}},
        "/api/v1/debt-types/{code}": {"post": {
            "summary": "Crea o cambia un tipo (solo administrador); sus cambios deben estar en la tabla de estados",
            "operationId": "guardarTipoDocumentoCobranza",
            "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": body({"type": "object", "required": ["nombre"], "properties": {
                "nombre": {"type": "string"}, "posfechable": {"type": "boolean"},
                "estados": {"type": ["array", "null"], "items": {"type": "string", "enum": states}},
                "transiciones": {"type": ["object", "null"],
                                 "additionalProperties": {"type": "array", "items": {"type": "string"}}}}}),
            "responses": {"200": ok("Tipo guardado", kind), "400": err, "409": err, **auth}}},
        "/api/v1/reports/cash-cut": {"get": {
            "summary": "Corte de caja de un día: recibos por forma de pago y usuario, cheques recibidos y totales",
            "operationId": "reporteCorteDeCaja",
            "parameters": [q("caja", "Nombre de la caja (todas si se omite)."), q("fecha", "Día del corte (hoy).")],
            "responses": {"200": ok("Corte de caja", {"type": "object"}), "400": err, "404": err, **auth}}},
    }
