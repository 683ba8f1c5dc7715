"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 description of the API (public, no secrets)."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from cfdi_cobranza import __version__
from web.api import bp
from web.api.debts import openapi_paths as _debt_paths
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
    ("vencidos", "1 para solo documentos vencidos a la fecha de corte."),
    ("corte", "Fecha de corte pasada: documentos emitidos hasta ese día con el saldo que tenían entonces."),
    ("q", "Busca por folio fiscal (UUID), serie/folio, RFC o nombre."),
    ("pagina", "Número de página (desde 1)."),
    ("por_pagina", "Documentos por página (máximo 500; 100 por omisión)."),
]


def spec() -> dict[str, Any]:
    document = {
        "type": "object",
        "properties": {
            "uuid": {"type": "string"}, "serie": {"type": ["string", "null"]}, "folio": {"type": ["string", "null"]},
            "fecha": {"type": "string", "pattern": LOCAL_DATETIME,
                      "description": "Fecha del CFDI como está escrita: hora local, sin zona."}, "tipo": {"type": "string", "enum": ["I", "E", "P"]},
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
                "parameters": _query(_FILTERS),
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
            **_payment_paths(),
            **_credit_paths(),
            **_rep_paths(),
            **_job_paths(),
            **_collection_paths(),
            **_mail_paths(),
            **_debt_paths(),
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
                **_payment_schemas(),
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


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


_MONEY = {"type": "string", "description": "Importe decimal exacto como texto, p. ej. \"1500.00\"."}
_PAYMENT_ID = {"name": "payment_id", "in": "path", "required": True, "description": "Número del pago",
               "schema": {"type": "integer"}}
_RFC = {"name": "rfc", "in": "path", "required": True, "description": "RFC del cliente.", "schema": {"type": "string"}}
_REP_UUID = {"name": "rep_uuid", "in": "path", "required": True, "description": "Folio fiscal (UUID) del REP",
             "schema": {"type": "string"}}


_REPORT_FILTERS = [
    ("corte", "Fecha de corte (dd/mm/aaaa o aaaa-mm-dd); hoy si se omite."),
    ("cliente", "RFC del cliente."), ("vendedor", "Vendedor."), ("zona", "Zona."),
    ("clasificacion", "Clasificación del cliente."), ("sucursal", "Sucursal de la venta."),
    ("empresa", "RFC de la empresa emisora."),
    ("tipo_cobranza", "Tipo de cobranza del cliente: normal, judicial, especial u otra."),
]


# CFDI dates carry no zone (local time of the LugarExpedicion): not RFC 3339 date-time.
LOCAL_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"
# Values the API checks against a closed list: documented as enums.
_ENUMS = {
    "estado": ["abiertos", "pagados"],
    "agrupar": ["cliente", "vendedor", "zona", "clasificacion", "sucursal", "empresa", "tipo_cobranza", "cartera"],
    "tipo_cobranza": ["normal", "judicial", "especial", "otra"],
    "periodo": ["semana", "mes"],
    "tipo": ["I", "E", "P"],
}


def _query(params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    out = []
    for name, description in params:
        schema: dict[str, Any] = {"type": "string"}
        if name in _ENUMS:
            schema["enum"] = _ENUMS[name]
        out.append({"name": name, "in": "query", "required": False, "description": description, "schema": schema})
    return out


def _json_ok(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}


def _collection_paths() -> dict[str, Any]:
    return {
        "/api/v1/reports/aging": {"get": {
            "summary": "Antigüedad de saldos por fecha de vencimiento, por moneda y convertida a MXN",
            "operationId": "reporteAntiguedad",
            "parameters": _query([*_REPORT_FILTERS,
                                  ("agrupar", "cliente, vendedor, zona, clasificacion, sucursal, empresa o cartera."),
                                  ("rangos", "Límites de los rangos en días, crecientes: 30,60,90."),
                                  ("detalle", "1 para incluir el detalle por documento.")]),
            "responses": {"200": _json_ok("Filas por grupo y moneda, totales, porcentajes y conversión a MXN"),
                          "400": _ERROR, "404": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/reports/due": {"get": {
            "summary": "Vencimientos en un rango de fechas (por omisión los próximos 7 días)",
            "operationId": "reporteVencimientos",
            "parameters": _query([*_REPORT_FILTERS, ("desde", "Vencimiento desde."), ("hasta", "Vencimiento hasta.")]),
            "responses": {"200": _json_ok("Documentos por vencer y totales por moneda y día"),
                          "400": _ERROR, "404": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/reports/projection": {"get": {
            "summary": "Proyección de ingresos por comportamiento de pago y por vencimiento",
            "operationId": "reporteProyeccion",
            "parameters": _query([*_REPORT_FILTERS, ("periodo", "semana o mes."),
                                  ("hasta", "Fin de la proyección (90 días si se omite).")]),
            "responses": {"200": _json_ok("Cobros esperados por periodo y moneda, y en MXN"),
                          "400": _ERROR, "404": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/reports/trends": {"get": {
            "summary": "Patrones y tendencias de pago mes a mes (en MXN) y tendencia por cliente y de la cartera",
            "operationId": "reporteTendencias",
            "parameters": _query([*_REPORT_FILTERS, ("meses", "Meses hacia atrás desde la fecha de corte (24).")]),
            "responses": {"200": _json_ok("Facturado, cobrado, días de atraso y % a tiempo por mes; tendencia "
                                          "(mejorando, estable, empeorando, sin_datos)"),
                          "400": _ERROR, "404": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/customers/{rfc}/statement": {"get": {
            "summary": "Estado de cuenta de un cliente en un periodo: cargos, abonos y saldo por moneda",
            "operationId": "estadoDeCuenta",
            "parameters": [_RFC, *_query([("desde", "Inicio del periodo (primer día del mes de hoy si se omite)."),
                                          ("hasta", "Fin del periodo (hoy si se omite).")])],
            "responses": {"200": _json_ok("Movimientos y saldos del cliente por moneda"),
                          "400": _ERROR, "404": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/customers/{rfc}/summary": {"get": {
            "summary": "Resumen financiero del cliente: compras, pagos, adeudos, días de atraso, promesas",
            "operationId": "resumenCliente",
            "parameters": [_RFC, *_query(_REPORT_FILTERS[:1])],
            "responses": {"200": _json_ok("Resumen financiero"), "404": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/followups": {"get": {
            "summary": "Seguimientos (historial por omisión) con su adjunto, si lo tienen",
            "operationId": "listarSeguimientos",
            "parameters": _query([("cliente", "RFC del cliente."), ("desde", "Registrados desde."),
                                  ("hasta", "Registrados hasta."), ("tipo", "Tipo de seguimiento."),
                                  ("estado", "cerrado (por omisión), pendiente o todos.")]),
            "responses": {"200": _json_ok("Seguimientos"), "400": _ERROR, "404": _ERROR, **_AUTH_ERRORS},
        }, "post": {
            "summary": "Registra un seguimiento de cobranza (no se modifica ni se borra después)",
            "operationId": "registrarSeguimiento",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["cliente", "tipo"], "properties": {
                    "cliente": {"type": "string", "description": "RFC del cliente."},
                    "tipo": {"type": "string", "description": "llamada, correo, visita, carta, whatsapp, otro ..."},
                    "notas": {"type": "string"},
                    "documentos": {"type": "array", "items": {"type": "string"},
                                   "description": "UUID o serie-folio de los documentos relacionados."},
                    "promesa_fecha": {"type": "string", "format": "date"},
                    "promesa_importe": {"type": "string", "description": "Importe decimal como texto."},
                    "promesa_moneda": {"type": "string"},
                    "proxima_fecha": {"type": "string", "format": "date"},
                    "proxima_tipo": {"type": "string"},
                    "vendedor": {"type": "string", "description": "Vendedor (por omisión el del cliente)."}}}}}},
            "responses": {"201": _json_ok("El seguimiento registrado"), "400": _ERROR, "404": _ERROR,
                          "409": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/followups/{follow_up_id}": {"get": {
            "summary": "Un seguimiento; «adjunto» describe su archivo (la carta enviada), si lo tiene",
            "operationId": "verSeguimiento",
            "parameters": [{"name": "follow_up_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": _json_ok("El seguimiento"), "404": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/followups/{follow_up_id}/attachment": {"get": {
            "summary": "Descarga el archivo de un seguimiento (el PDF de la carta enviada, tal como se generó)",
            "operationId": "adjuntoSeguimiento",
            "parameters": [{"name": "follow_up_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "El archivo", "content": {"application/pdf": {
                "schema": {"type": "string", "contentMediaType": "application/pdf"}}}},
                "404": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/documents/{uuid}/assignment": {"post": {
            "summary": "Asigna una venta (factura) a otra sucursal y, opcionalmente, a otro vendedor (auditado)",
            "description": "Los reportes por sucursal o vendedor (antigüedad, cobradores, resumen, movimiento) "
                           "siguen a la venta; las demás ventas del cliente no cambian.",
            "operationId": "asignarVenta",
            "parameters": [{"name": "uuid", "in": "path", "required": True, "description": "Folio fiscal",
                            "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["sucursal"], "properties": {
                    "sucursal": {"type": "string"},
                    "vendedor": {"type": "string", "description": "Por omisión, el que ya tenía la venta."}}}}}},
            "responses": {"200": _json_ok("La asignación: sucursal, vendedor y la anterior"), "400": _ERROR,
                          "404": _ERROR, **_AUTH_ERRORS},
        }},
    }


def _credit_paths() -> dict[str, Any]:
    authorization = {"type": "object", "properties": {
        "id": {"type": "integer"}, "rfc": {"type": "string"}, "operacion": {"type": "string"}, "importe": _MONEY,
        "moneda": {"type": "string"}, "plazo_dias": {"type": ["integer", "null"]},
        "nivel": {"type": "string", "enum": ["advertencia", "solicitud_autorizacion"]},
        "razones": {"type": "array", "items": {"type": "object"}}, "motivo": {"type": ["string", "null"]},
        "estado": {"type": "string", "enum": ["pendiente", "autorizada", "denegada"]},
        "solicitada": {"type": "string"}, "solicitada_por": {"type": "string"},
        "resuelta": {"type": ["string", "null"]}, "resuelta_por": {"type": ["string", "null"]},
        "motivo_resolucion": {"type": ["string", "null"]}}}
    return {
        "/api/v1/customers/{rfc}/credit-check": {"get": {
            "summary": "Verificación de crédito en tiempo real antes de una venta: nivel y razones",
            "description": "Niveles: informacion (procede), advertencia (procede con aviso), solicitud_autorizacion "
                           "(requiere una solicitud de autorización), restriccion (no procede). Las mismas razones "
                           "que «cobranza credit check» y la página del cliente.",
            "operationId": "verificarCredito",
            "parameters": [_RFC, *_query([
                ("amount", "Importe de la operación (obligatorio), p. ej. 15000.00."),
                ("currency", "Moneda de la operación (MXN por omisión)."),
                ("operacion", "venta_credito (por omisión), venta_contado, pedido, documento o cobro."),
                ("plazo", "Plazo solicitado en días."),
                ("forma_pago", "Forma de pago (c_FormaPago) con que pagará: se compara con las permitidas al cliente.")])],
            "responses": {"200": {"description": "Resultado de la verificación", "content": _json({
                "type": "object", "required": ["nivel", "razones"], "properties": {
                    "rfc": {"type": "string"}, "nombre": {"type": ["string", "null"]},
                    "nivel": {"type": "string", "enum": ["informacion", "advertencia", "solicitud_autorizacion", "restriccion"]},
                    "nivel_etiqueta": {"type": "string"}, "permitida": {"type": "boolean"},
                    "razones": {"type": "array", "items": {"type": "object", "properties": {
                        "code": {"type": "string"}, "mensaje": {"type": "string"}, "nivel": {"type": "string"}}}},
                    "disponible": {"type": "object", "additionalProperties": _MONEY}}})},
                "400": _ERROR, "404": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/customers/{rfc}/authorizations": {"post": {
            "summary": "Solicita la autorización de una operación que la verificación de crédito envía a autorizar",
            "operationId": "solicitarAutorizacion",
            "parameters": [_RFC],
            "requestBody": {"required": True, "content": _json({"type": "object", "required": ["importe"], "properties": {
                "importe": _MONEY, "moneda": {"type": "string", "default": "MXN"},
                "operacion": {"type": "string", "default": "venta_credito"}, "plazo_dias": {"type": ["integer", "null"]},
                "motivo": {"type": ["string", "null"]},
                "forma_pago": {"type": ["string", "null"],
                               "description": "Con operacion «cobro»: forma de pago fuera de las condiciones."}}})},
            "responses": {"201": {"description": "Solicitud registrada", "content": _json(authorization)},
                          "400": _ERROR, "404": _ERROR, "409": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/authorizations": {"get": {
            "summary": "Solicitudes de autorización de crédito",
            "operationId": "listarAutorizaciones",
            "parameters": _query([("estado", "pendiente, autorizada o denegada."), ("cliente", "RFC del cliente.")]),
            "responses": {"200": {"description": "Solicitudes", "content": _json({"type": "object", "properties": {
                "data": {"type": "array", "items": authorization}}})}, "404": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/authorizations/{authorization_id}/decision": {"post": {
            "summary": "Autoriza o deniega una solicitud (el token debe pertenecer a un usuario autorizador)",
            "operationId": "resolverAutorizacion",
            "parameters": [{"name": "authorization_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "requestBody": {"required": True, "content": _json({"type": "object", "required": ["autorizar"],
                                                                "properties": {
                "autorizar": {"type": "boolean"},
                "motivo": {"type": ["string", "null"], "description": "Obligatorio al denegar."}}})},
            "responses": {"200": {"description": "Solicitud resuelta", "content": _json(authorization)},
                          "400": _ERROR, "404": _ERROR, "409": _ERROR, **_AUTH_ERRORS},
        }},
    }


def _payment_paths() -> dict[str, Any]:
    return {
        "/api/v1/payments": {
            "get": {
                "summary": "Lista los pagos registrados con sus aplicaciones",
                "operationId": "listarPagos",
                "parameters": [{"name": "cliente", "in": "query", "required": False, "description": "RFC del cliente.",
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "Pagos", "content": _json({"type": "object", "properties": {
                    "data": {"type": "array", "items": _ref("Payment")}}})}, "404": _ERROR, **_AUTH_ERRORS},
            },
            "post": {
                "summary": "Registra una liquidación (una o varias formas de pago)",
                "operationId": "registrarPago",
                "requestBody": {"required": True, "content": _json(_ref("SettlementInput"))},
                "responses": {"201": {"description": "Liquidación registrada", "content": _json({
                    "type": "object", "properties": {"settlement_id": {"type": "integer"},
                                                     "payments": {"type": "array", "items": _ref("Payment")}}})},
                    "400": _ERROR, "404": _ERROR, **_AUTH_ERRORS},
            },
        },
        "/api/v1/payments/{payment_id}/apply": {"post": {
            "summary": "Aplica un pago a facturas (importes por factura o de la más antigua a la más reciente)",
            "operationId": "aplicarPago",
            "parameters": [_PAYMENT_ID],
            "requestBody": {"required": True, "content": _json(_ref("ApplicationInput"))},
            "responses": {"200": {"description": "Aplicación registrada", "content": _json(_ref("ApplicationResult"))},
                          "400": _ERROR, "404": _ERROR, "409": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/payments/{payment_id}/confirm-advance": {"post": {
            "summary": "Confirma un pago anterior a su factura (operación ya pactada): su REP puede emitirse",
            "description": "Mientras no se confirme, emitir el REP se rechaza con PAGO_ANTERIOR_SIN_CONFIRMAR. "
                           "Queda en la bitácora con el usuario del token y la nota.",
            "operationId": "confirmarPagoAnterior",
            "parameters": [_PAYMENT_ID],
            "requestBody": {"required": False, "content": _json({"type": "object", "properties": {
                "nota": {"type": ["string", "null"], "description": "Por qué: pedido o contrato que ya pactaba."}}})},
            "responses": {"200": {"description": "Aplicaciones confirmadas", "content": _json({
                "type": "object", "properties": {"payment_id": {"type": "integer"},
                                                 "confirmed_credit_ids": {"type": "array",
                                                                          "items": {"type": "integer"}}}})},
                          "400": _ERROR, "404": _ERROR, "409": _ERROR, **_AUTH_ERRORS},
        }},
    }


def _rep_paths() -> dict[str, Any]:
    return {
        "/api/v1/reps": {
            "get": {
                "summary": "Lista los REP emitidos",
                "operationId": "listarReps",
                "responses": {"200": {"description": "REP", "content": _json({"type": "object", "properties": {
                    "data": {"type": "array", "items": _ref("Rep")}}})}, **_AUTH_ERRORS},
            },
            "post": {
                "summary": "Valida, firma y timbra el REP de uno o varios pagos (o de todos los pendientes)",
                "description": "Si la validación previa encuentra errores no se firma ni se envía nada: la respuesta "
                               "422 trae los hallazgos (códigos CRP del SAT) en error.findings.",
                "operationId": "emitirRep",
                "requestBody": {"required": True, "content": _json({"type": "object", "properties": {
                    "payment_ids": {"type": "array", "items": {"type": "integer"}},
                    "todos": {"type": "boolean", "description": "Emite para todos los pagos pendientes."},
                    "mensual": {"type": "boolean", "description": "Con todos: un REP por cliente y mes."}}})},
                "responses": {"201": {"description": "REP timbrado", "content": _json(_ref("IssueResult"))},
                              "200": {"description": "Resultados de todos los pendientes", "content": _json({
                                  "type": "object", "properties": {"results": {"type": "array",
                                                                               "items": _ref("IssueResult")}}})},
                              "202": {"description": "Enviado sin respuesta del PAC; se recupera con reintento",
                                      "content": _json(_ref("IssueResult"))},
                              "207": {"description": "Algunos pendientes no se timbraron", "content": _json({
                                  "type": "object", "properties": {"results": {"type": "array",
                                                                               "items": _ref("IssueResult")}}})},
                              "400": _ERROR, "404": _ERROR, "409": _ERROR, "422": _ERROR, **_AUTH_ERRORS},
            },
        },
        "/api/v1/reps/{rep_uuid}": {"get": {
            "summary": "Un REP", "operationId": "verRep", "parameters": [_REP_UUID],
            "responses": {"200": {"description": "El REP", "content": _json(_ref("Rep"))}, "404": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/reps/{rep_uuid}/xml": {"get": {
            "summary": "XML timbrado del REP (tal como se guardó)", "operationId": "xmlRep", "parameters": [_REP_UUID],
            "responses": {"200": {"description": "XML", "content": {"application/xml": {"schema": {"type": "string"}}}},
                          "404": _ERROR, "409": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/reps/{rep_uuid}/pdf": {"get": {
            "summary": "Representación impresa del REP (PDF; «SIN VALIDEZ FISCAL» si lo timbró el sandbox)",
            "operationId": "pdfRep", "parameters": [_REP_UUID],
            "responses": {"200": {"description": "PDF", "content": {"application/pdf": {
                "schema": {"type": "string", "contentMediaType": "application/pdf"}}}},
                "404": _ERROR, "409": _ERROR, **_AUTH_ERRORS},
        }},
    }


def _mail_paths() -> dict[str, Any]:
    contact = {"type": "object", "properties": {
        "id": {"type": "integer"}, "cliente": {"type": "string"}, "rol": {"type": "string",
                                                                         "enum": ["pagos", "cobranza", "ambos"]},
        "nombre": {"type": ["string", "null"]}, "email": {"type": "string"}, "no_enviar": {"type": "boolean"},
        "alta": {"type": "string"}}}
    queued = {"type": "object", "properties": {
        "mensajes": {"type": "array", "items": {"type": "integer"}},
        "ya_en_cola": {"type": "array", "items": {"type": "string"}},
        "omitidos": {"type": "array", "items": {"type": "string"}},
        "envios": {"type": "array", "items": {"type": "object"}}}}
    return {
        "/api/v1/customers/{rfc}/contacts": {
            "get": {"summary": "Contactos de correo del cliente", "operationId": "listarContactos",
                    "parameters": [_RFC],
                    "responses": {"200": {"description": "Contactos", "content": _json({
                        "type": "object", "properties": {"data": {"type": "array", "items": contact}}})},
                        "404": _ERROR, **_AUTH_ERRORS}},
            "post": {"summary": "Agrega o actualiza un contacto (rol pagos, cobranza o ambos)",
                     "operationId": "agregarContacto", "parameters": [_RFC],
                     "requestBody": {"required": True, "content": _json({"type": "object", "required": ["email"],
                                                                          "properties": {
                         "email": {"type": "string"}, "rol": {"type": "string", "enum": ["pagos", "cobranza", "ambos"]},
                         "nombre": {"type": "string"}, "no_enviar": {"type": "boolean"}}})},
                     "responses": {"201": {"description": "Contacto", "content": _json(contact)},
                                   "400": _ERROR, "404": _ERROR, **_AUTH_ERRORS}},
        },
        "/api/v1/customers/{rfc}/contacts/remove": {"post": {
            "summary": "Elimina un contacto (por correo o id); sus correos en cola no se envían",
            "operationId": "eliminarContacto", "parameters": [_RFC],
            "requestBody": {"required": True, "content": _json({"type": "object", "required": ["contacto"],
                                                                 "properties": {"contacto": {"type": "string"}}})},
            "responses": {"200": {"description": "Contacto eliminado", "content": _json(contact)},
                          "400": _ERROR, "404": _ERROR, **_AUTH_ERRORS}}},
        "/api/v1/reps/{rep_uuid}/send": {"post": {
            "summary": "Envía (o reenvía con again) el REP con XML y PDF a los contactos de pagos",
            "operationId": "enviarRep", "parameters": [_REP_UUID],
            "requestBody": {"required": True, "content": _json({"type": "object", "properties": {
                "to": {"type": "string", "description": "Direcciones separadas por coma en lugar de los contactos."},
                "again": {"type": "boolean"}}})},
            "responses": {"202": {"description": "En cola (y enviado si hay servidor SMTP)", "content": _json(queued)},
                          "400": _ERROR, "404": _ERROR, "409": _ERROR, **_AUTH_ERRORS}}},
        "/api/v1/mail/log": {"get": {
            "summary": "Bitácora de correos (más recientes primero)", "operationId": "bitacoraCorreo",
            "parameters": _query([("cliente", "RFC del cliente."), ("rep", "UUID del REP."),
                                  ("estado", "en_cola, enviando, enviado, rechazado, fallido, incierto o cancelado.")]),
            "responses": {"200": _json_ok("Correos"), "400": _ERROR, "404": _ERROR, **_AUTH_ERRORS}}},
        "/api/v1/mail/send-pending": {"post": {
            "summary": "Envía ahora los correos en cola cuyo intento ya toca", "operationId": "enviarPendientes",
            "responses": {"200": _json_ok("Resultado de cada correo"), "400": _ERROR, **_AUTH_ERRORS}}},
    }


_JOB_ID = {"name": "job_id", "in": "path", "required": True, "description": "Número de la tarea",
           "schema": {"type": "integer"}}


def _job_paths() -> dict[str, Any]:
    return {
        "/api/v1/jobs": {"get": {
            "summary": "Lista las tareas en segundo plano (las más recientes primero)",
            "operationId": "listarTareas",
            "parameters": [{"name": "state", "in": "query", "required": False, "schema": {
                "type": "string", "enum": ["queued", "running", "done", "failed"]}}],
            "responses": {"200": {"description": "Tareas", "content": _json({"type": "object", "properties": {
                "data": {"type": "array", "items": _ref("Job")}}})}, "404": _ERROR, **_AUTH_ERRORS},
        }},
        "/api/v1/jobs/{job_id}": {"get": {
            "summary": "Estado, avance y resultado de una tarea",
            "operationId": "consultarTarea",
            "parameters": [_JOB_ID],
            "responses": {"200": {"description": "Tarea", "content": _json(_ref("Job"))}, "404": _ERROR,
                          **_AUTH_ERRORS},
        }},
        "/api/v1/jobs/{job_id}/retry": {"post": {
            "summary": "Vuelve a poner en cola una tarea que falló",
            "operationId": "reintentarTarea",
            "parameters": [_JOB_ID],
            "responses": {"202": {"description": "En cola", "content": _json(_ref("Job"))}, "404": _ERROR,
                          "409": _ERROR, **_AUTH_ERRORS},
        }},
    }


def _payment_schemas() -> dict[str, Any]:
    nullable = {"type": ["string", "null"]}
    receipt = {"type": "object", "required": ["monto"], "properties": {
        "forma_pago": {"type": "string", "description": "c_FormaPago; vacío: la habitual del cliente."},
        "moneda": {"type": "string", "default": "MXN"}, "monto": _MONEY, "tipo_cambio": nullable,
        "num_operacion": nullable, "rfc_emisor_cta_ord": nullable, "nom_banco_ord_ext": nullable,
        "cta_ordenante": nullable, "rfc_emisor_cta_ben": nullable, "cta_beneficiario": nullable,
        "caja": {"type": ["string", "null"], "description": "Nombre de la caja o cuenta que recibe."}}}
    return {
        "SettlementInput": {"type": "object", "required": ["customer", "fecha_pago"], "properties": {
            "customer": {"type": "string", "description": "RFC del cliente."},
            "company": {"type": ["string", "null"], "description": "RFC de la empresa (si hay varias)."},
            "fecha_pago": {"type": "string", "description": "aaaa-mm-dd o aaaa-mm-ddThh:mm:ss (hora local)."},
            "notas": nullable,
            "pagos": {"type": "array", "items": receipt, "description": "Una entrada por forma de pago."}}},
        "ApplicationInput": {"type": "object", "properties": {
            "aplicaciones": {"type": "array", "items": {"type": "object", "required": ["uuid", "importe"], "properties": {
                "uuid": {"type": "string"}, "importe": _MONEY,
                "equivalencia": {"type": ["string", "null"], "description": "EquivalenciaDR si la moneda difiere."}}}},
            "mas_antiguas_primero": {"type": "boolean", "description": "Aplica a las facturas más antiguas."},
            "tipos_cambio": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "ApplicationResult": {"type": "object", "properties": {
            "payment_id": {"type": "integer"}, "moneda": {"type": "string"}, "aplicado": _MONEY,
            "saldo_a_favor": _MONEY, "lines": {"type": "array", "items": {"type": "object"}},
            "rep_job_id": {"type": "integer", "description": "La tarea que emitirá el REP (política «al aplicar»); "
                                                             "consulte /api/v1/jobs/{job_id}."},
            "warnings": {"type": "array", "description": "Avisos con código estable (p. ej. PAGO_ANTERIOR_A_FACTURA, "
                         "ANTICIPO_REQUERIDO).", "items": {"type": "object", "properties": {
                             "code": {"type": "string"}, "message": {"type": "string"},
                             "uuid": {"type": "string"}}}}}},
        "Job": {"type": "object", "properties": {
            "id": {"type": "integer"}, "kind": {"type": "string"}, "label": {"type": "string"},
            "state": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
            "progress": {"type": "object", "properties": {"done": {"type": "integer"},
                                                          "total": {"type": ["integer", "null"]}}},
            "attempts": {"type": "integer"},
            "error": {"type": ["object", "null"], "properties": {"code": {"type": "string"},
                                                                 "message": {"type": "string"}}},
            "result": {"type": ["object", "null"]}, "created_at": {"type": "string"},
            "finished_at": {"type": ["string", "null"]}}},
        "Payment": {"type": "object", "properties": {
            "id": {"type": "integer"}, "settlement_id": {"type": "integer"}, "customer_rfc": {"type": "string"},
            "fecha_pago": {"type": "string"}, "forma_pago": {"type": "string"}, "moneda": {"type": "string"},
            "monto": _MONEY, "aplicado": _MONEY, "saldo_a_favor": _MONEY, "status": {"type": "string"},
            "aplicaciones": {"type": "array", "items": {"type": "object"}}}},
        "Rep": {"type": "object", "properties": {
            "id": {"type": "integer"}, "uuid": {"type": ["string", "null"]}, "serie": {"type": "string"},
            "folio": {"type": "integer"}, "status": {"type": "string"}, "sandbox": {"type": "boolean"},
            "pagos": {"type": "array", "items": {"type": "integer"}}}},
        "IssueResult": {"type": "object", "properties": {
            "rep_id": {"type": ["integer", "null"]}, "status": {"type": "string"}, "uuid": {"type": ["string", "null"]},
            "serie": {"type": ["string", "null"]}, "folio": {"type": ["integer", "null"]}, "sandbox": {"type": "boolean"},
            "message": {"type": ["string", "null"]}, "findings": {"type": "array", "items": {"type": "object"}}}},
    }


@bp.route("/openapi.json", methods=["GET"])
@public
def openapi_json() -> Any:
    return jsonify(spec())
