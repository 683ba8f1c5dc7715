"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 description of the API (public, no secrets)."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from cfdi_cobranza import __version__
from web.api import bp
from web.security import public

_ERROR = {"$ref": "#/components/responses/Error"}
_AUTH_ERRORS = {"401": _ERROR, "403": _ERROR}
_FILTERS = [
    ("cliente", "RFC del cliente."),
    ("estado", "abiertos (con saldo) o pagados."),
    ("moneda", "Código de moneda, p. ej. MXN o USD."),
    ("tipo", "Tipo de comprobante: I, E o P."),
    ("desde", "Fecha de emisión desde (dd/mm/aaaa o aaaa-mm-dd)."),
    ("hasta", "Fecha de emisión hasta (dd/mm/aaaa o aaaa-mm-dd)."),
    ("vencidos", "1 para solo documentos vencidos a hoy."),
    ("q", "Busca por folio fiscal (UUID), serie/folio, RFC o nombre."),
    ("pagina", "Número de página (desde 1)."),
    ("por_pagina", "Documentos por página (máximo 500; 100 por omisión)."),
]


def spec() -> dict[str, Any]:
    document = {
        "type": "object",
        "properties": {
            "uuid": {"type": "string"}, "serie": {"type": ["string", "null"]}, "folio": {"type": ["string", "null"]},
            "fecha": {"type": "string", "format": "date-time"}, "tipo": {"type": "string", "enum": ["I", "E", "P"]},
            "metodo_pago": {"type": ["string", "null"]}, "moneda": {"type": "string"},
            "total": {"type": "string", "description": "Importe decimal exacto como texto."},
            "saldo": {"type": "string"}, "vencimiento": {"type": ["string", "null"], "format": "date"},
            "customer_rfc": {"type": "string"}, "customer_nombre": {"type": ["string", "null"]},
        },
        "required": ["uuid", "tipo", "moneda", "total", "saldo", "customer_rfc"],
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cfdi-cobranza API",
            "version": __version__,
            "description": "Cuentas por cobrar con CFDI 4.0. Autenticación: «Authorization: Bearer <token>»; "
                           "los tokens los crea un administrador (Configuración → Tokens o «cobranza token create»).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/cfdi": {"post": {
                "summary": "Importa CFDI timbrados (XML o ZIP)",
                "operationId": "importarCfdi",
                "requestBody": {"required": True, "content": {
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "archivo": {"type": "array", "items": {"type": "string", "contentMediaType": "application/octet-stream"}}}}},
                    "application/xml": {"schema": {"type": "string"}},
                    "application/zip": {"schema": {"type": "string", "contentMediaType": "application/zip"}},
                }},
                "responses": {"200": {"description": "Resultado por archivo", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ImportBatch"}}}},
                    "400": _ERROR, "413": _ERROR, **_AUTH_ERRORS},
            }},
            "/api/v1/documents": {"get": {
                "summary": "Lista documentos con filtros y páginas",
                "operationId": "listarDocumentos",
                "parameters": [{"name": n, "in": "query", "required": False, "description": d,
                                "schema": {"type": "string"}} for n, d in _FILTERS],
                "responses": {"200": {"description": "Una página de documentos", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {
                        "data": {"type": "array", "items": {"$ref": "#/components/schemas/Document"}},
                        "pagina": {"type": "integer"}, "paginas": {"type": "integer"}, "total": {"type": "integer"},
                        "fecha_corte": {"type": "string", "format": "date"}}}}}},
                    "400": _ERROR, **_AUTH_ERRORS},
            }},
            "/api/v1/documents/{uuid}": {"get": {
                "summary": "Detalle de un documento con sus abonos",
                "operationId": "verDocumento",
                "parameters": [{"name": "uuid", "in": "path", "required": True, "description": "Folio fiscal",
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "El documento", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Document"}}}}, "404": _ERROR, **_AUTH_ERRORS},
            }},
            "/api/v1/customers": {"get": {
                "summary": "Clientes con saldo por moneda",
                "operationId": "listarClientes",
                "responses": {"200": {"description": "Clientes", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"data": {"type": "array", "items": {
                        "$ref": "#/components/schemas/Customer"}}}}}}}, **_AUTH_ERRORS},
            }},
            "/api/v1/openapi.json": {"get": {
                "summary": "Esta descripción OpenAPI",
                "operationId": "openapi",
                "security": [],
                "responses": {"200": {"description": "Documento OpenAPI 3.1"}},
            }},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "Error con código estable y mensaje en español",
                                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "Document": document,
                "Customer": {"type": "object", "properties": {
                    "rfc": {"type": "string"}, "nombre": {"type": ["string", "null"]},
                    "regimen_fiscal": {"type": ["string", "null"]}, "codigo_postal": {"type": ["string", "null"]},
                    "saldo": {"type": "object", "additionalProperties": {"type": "string"}},
                    "saldo_a_favor": {"type": "object", "additionalProperties": {"type": "string"}}}},
                "ImportBatch": {"type": "object", "properties": {
                    "results": {"type": "array", "items": {"type": "object", "properties": {
                        "file": {"type": "string"},
                        "status": {"type": "string", "enum": ["imported", "duplicate", "refused", "ignored"]},
                        "uuid": {"type": ["string", "null"]}, "tipo": {"type": ["string", "null"]},
                        "code": {"type": ["string", "null"]}, "message": {"type": ["string", "null"]}}}},
                    "summary": {"type": "object", "additionalProperties": {"type": "integer"}}}},
            },
        },
    }


@bp.route("/openapi.json", methods=["GET"])
@public
def openapi_json() -> Any:
    return jsonify(spec())
