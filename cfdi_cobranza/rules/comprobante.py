"""Rules on the CFDI 4.0 around a payment complement (CRP20101-CRP20123, CFDI40 for tipo P)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from cfdi_cobranza import catalogs
from cfdi_cobranza.domain.findings import Finding
from cfdi_cobranza.rules.core import NS_CFDI, Context, Rule, rule, to_decimal


def _fixed(r: Rule, ctx: Context, attr: str, expected: str, numeric: bool = False
           ) -> list[Finding]:
    node = ctx.comprobante
    value = node.get(attr)
    ok: bool
    if numeric:
        number = to_decimal(value)
        ok = number is not None and number == Decimal(expected)
    else:
        ok = value == expected
    if ok:
        return []
    shown = "ausente" if value is None else f'"{value}"'
    return [r.finding(f'{attr} debe ser "{expected}" en un CFDI de pago; tiene {shown}.',
                      node.at(attr))]


def _absent(r: Rule, ctx: Context, attr: str) -> list[Finding]:
    node = ctx.comprobante
    if node.has(attr):
        return [r.finding(f"El campo {attr} no se debe registrar en un CFDI de pago.",
                          node.at(attr))]
    return []


@rule("CRP20101", "TipoDeComprobante debe ser P")
def tipo_p(r: Rule, ctx: Context) -> list[Finding]:
    return _fixed(r, ctx, "TipoDeComprobante", "P")


@rule("CRP20102", "Exportacion debe ser 01")
def exportacion(r: Rule, ctx: Context) -> list[Finding]:
    return _fixed(r, ctx, "Exportacion", "01")


@rule("CRP20103", "SubTotal debe ser cero")
def subtotal(r: Rule, ctx: Context) -> list[Finding]:
    return _fixed(r, ctx, "SubTotal", "0", numeric=True)


@rule("CRP20104", "Moneda debe ser XXX")
def moneda(r: Rule, ctx: Context) -> list[Finding]:
    return _fixed(r, ctx, "Moneda", "XXX")


@rule("CRP20105", "FormaPago no se debe registrar")
def forma_pago(r: Rule, ctx: Context) -> list[Finding]:
    return _absent(r, ctx, "FormaPago")


@rule("CRP20106", "MetodoPago no se debe registrar")
def metodo_pago(r: Rule, ctx: Context) -> list[Finding]:
    return _absent(r, ctx, "MetodoPago")


@rule("CRP20107", "CondicionesDePago no se debe registrar")
def condiciones(r: Rule, ctx: Context) -> list[Finding]:
    return _absent(r, ctx, "CondicionesDePago")


@rule("CRP20108", "Descuento no se debe registrar")
def descuento(r: Rule, ctx: Context) -> list[Finding]:
    return _absent(r, ctx, "Descuento")


@rule("CRP20109", "TipoCambio no se debe registrar")
def tipo_cambio(r: Rule, ctx: Context) -> list[Finding]:
    return _absent(r, ctx, "TipoCambio")


@rule("CRP20110", "Total debe ser cero")
def total(r: Rule, ctx: Context) -> list[Finding]:
    return _fixed(r, ctx, "Total", "0", numeric=True)


@rule("CRP20111", "Solo debe existir un Concepto")
def un_concepto(r: Rule, ctx: Context) -> list[Finding]:
    conceptos = ctx.conceptos()
    if len(conceptos) == 1:
        return []
    return [r.finding(f"Debe existir exactamente un Concepto; hay {len(conceptos)}.",
                      "/cfdi:Comprobante/cfdi:Conceptos")]


@rule("CRP20112", "El Concepto no lleva nodos hijos salvo ACuentaTerceros")
def concepto_hijos(r: Rule, ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for c in ctx.conceptos():
        for child in c.el:
            if not isinstance(child.tag, str):
                continue
            if child.tag != f"{{{NS_CFDI}}}ACuentaTerceros":
                name = child.tag.split("}")[-1]
                out.append(r.finding(f"El Concepto de un pago no debe contener {name}.",
                                     f"{c.path}/cfdi:{name}"))
    return out


def _concepto_rule(code: str, title: str, attr: str, expected: str | None,
                   numeric: bool = False) -> None:
    def check(r: Rule, ctx: Context) -> list[Finding]:
        out: list[Finding] = []
        for c in ctx.conceptos():
            value = c.get(attr)
            if expected is None:
                if value is not None:
                    out.append(r.finding(f"El campo {attr} del Concepto no se debe registrar.",
                                         c.at(attr)))
                continue
            if numeric:
                number = to_decimal(value)
                ok = number is not None and number == Decimal(expected)
            else:
                ok = value == expected
            if not ok:
                shown = "ausente" if value is None else f'"{value}"'
                out.append(r.finding(f'{attr} del Concepto debe ser "{expected}"; tiene {shown}.',
                                     c.at(attr)))
        return out

    rule(code, title)(check)


_concepto_rule("CRP20113", 'ClaveProdServ debe ser "84111506"', "ClaveProdServ", "84111506")
_concepto_rule("CRP20114", "NoIdentificacion no se debe registrar", "NoIdentificacion", None)
_concepto_rule("CRP20115", 'Cantidad debe ser "1"', "Cantidad", "1", numeric=True)
_concepto_rule("CRP20116", 'ClaveUnidad debe ser "ACT"', "ClaveUnidad", "ACT")
_concepto_rule("CRP20117", "Unidad no se debe registrar", "Unidad", None)
_concepto_rule("CRP20118", 'Descripcion debe ser "Pago"', "Descripcion", "Pago")
_concepto_rule("CRP20119", "ValorUnitario debe ser cero", "ValorUnitario", "0", numeric=True)
_concepto_rule("CRP20120", "Importe debe ser cero", "Importe", "0", numeric=True)
_concepto_rule("CRP20121", "Descuento del Concepto no se debe registrar", "Descuento", None)
_concepto_rule("CRP20122", 'ObjetoImp debe ser "01"', "ObjetoImp", "01")


@rule("CRP20123", "No se debe registrar el apartado de Impuestos")
def sin_impuestos(r: Rule, ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    node = ctx.comprobante.child(NS_CFDI, "Impuestos", "cfdi")
    if node is not None:
        out.append(r.finding("Un CFDI de pago no lleva el nodo Impuestos.", node.path))
    return out


# ---------------------------------------------------------------- CFDI 4.0 for tipo P


@rule("CFDI40101", "Fecha con el patrón AAAA-MM-DDThh:mm:ss y dentro de las 72 horas")
def fecha(r: Rule, ctx: Context) -> list[Finding]:
    node = ctx.comprobante
    text = node.get("Fecha") or ""
    try:
        when = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return [r.finding(f'La Fecha "{text}" no cumple el patrón AAAA-MM-DDThh:mm:ss.',
                          node.at("Fecha"))]
    now = ctx.now.replace(tzinfo=None)
    if when > now + timedelta(minutes=10):
        return [r.finding("La Fecha de emisión es posterior a la fecha actual.", node.at("Fecha"))]
    if now - when > timedelta(hours=72):
        return [r.finding("La Fecha de emisión tiene más de 72 horas; el PAC no la timbrará.",
                          node.at("Fecha"))]
    return []


@rule("CFDI40103", "FormaPago no debe existir en un CFDI tipo P")
def cfdi40_forma(r: Rule, ctx: Context) -> list[Finding]:
    return _absent(r, ctx, "FormaPago")


@rule("CFDI40109", "Total y SubTotal de un CFDI tipo P deben ser cero")
def cfdi40_cero(r: Rule, ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for attr in ("SubTotal", "Total"):
        value = to_decimal(ctx.comprobante.get(attr))
        if value is None or value != 0:
            out.append(r.finding(f"{attr} debe ser 0 en un CFDI de pago.",
                                 ctx.comprobante.at(attr)))
    return out


@rule("CFDI40111", "Un Concepto de CFDI tipo P no lleva Descuento")
def cfdi40_desc(r: Rule, ctx: Context) -> list[Finding]:
    return [r.finding("El Concepto no debe tener Descuento.", c.at("Descuento"))
            for c in ctx.conceptos() if c.has("Descuento")]


@rule("CFDI40113", "Moneda del catálogo c_Moneda")
def cfdi40_moneda(r: Rule, ctx: Context) -> list[Finding]:
    value = ctx.comprobante.get("Moneda")
    if value is not None and value != "XXX" and value not in catalogs.currency_decimals():
        return [r.finding(f"La moneda {value} no está en el catálogo c_Moneda.",
                          ctx.comprobante.at("Moneda"))]
    return []


@rule("CFDI40116", "TipoCambio no se registra con Moneda XXX")
def cfdi40_tc(r: Rule, ctx: Context) -> list[Finding]:
    node = ctx.comprobante
    if node.get("Moneda") == "XXX" and node.has("TipoCambio"):
        return [r.finding("Con Moneda XXX no se registra TipoCambio.", node.at("TipoCambio"))]
    return []


@rule("CFDI40121", "TipoDeComprobante del catálogo c_TipoDeComprobante")
def cfdi40_tipo(r: Rule, ctx: Context) -> list[Finding]:
    value = ctx.comprobante.get("TipoDeComprobante")
    if value not in catalogs.keys("c_TipoDeComprobante"):
        return [r.finding(f"El tipo de comprobante {value} no está en el catálogo.",
                          ctx.comprobante.at("TipoDeComprobante"))]
    return []


@rule("CFDI40123", "Exportacion del catálogo c_Exportacion")
def cfdi40_export(r: Rule, ctx: Context) -> list[Finding]:
    value = ctx.comprobante.get("Exportacion")
    if value not in catalogs.keys("c_Exportacion"):
        return [r.finding(f"La clave de exportación {value} no está en el catálogo.",
                          ctx.comprobante.at("Exportacion"))]
    return []


@rule("CFDI40125", "MetodoPago se omite en un CFDI tipo P")
def cfdi40_metodo(r: Rule, ctx: Context) -> list[Finding]:
    return _absent(r, ctx, "MetodoPago")


@rule("CFDI40137", "TipoRelacion del catálogo c_TipoRelacion")
def cfdi40_relacion(r: Rule, ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for rel in ctx.comprobante.children(NS_CFDI, "CfdiRelacionados", "cfdi"):
        value = rel.get("TipoRelacion")
        if value not in catalogs.keys("c_TipoRelacion"):
            out.append(r.finding(f"El tipo de relación {value} no está en el catálogo.",
                                 rel.at("TipoRelacion")))
    return out


@rule("CFDI40140", "RegimenFiscal del catálogo c_RegimenFiscal")
def cfdi40_regimen(r: Rule, ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    regimenes = catalogs.keys("c_RegimenFiscal")
    emisor = ctx.comprobante.child(NS_CFDI, "Emisor", "cfdi")
    receptor = ctx.comprobante.child(NS_CFDI, "Receptor", "cfdi")
    if emisor is not None and emisor.get("RegimenFiscal") not in regimenes:
        out.append(r.finding("El RegimenFiscal del emisor no está en el catálogo.",
                             emisor.at("RegimenFiscal")))
    if receptor is not None and receptor.get("RegimenFiscalReceptor") not in regimenes:
        out.append(r.finding("El RegimenFiscalReceptor no está en el catálogo.",
                             receptor.at("RegimenFiscalReceptor")))
    return out


@rule("CFDI40-P-USO", 'UsoCFDI debe ser "CP01" en un CFDI de pago')
def uso_cp01(r: Rule, ctx: Context) -> list[Finding]:
    receptor = ctx.comprobante.child(NS_CFDI, "Receptor", "cfdi")
    if receptor is None:
        return []
    value = receptor.get("UsoCFDI")
    if value != "CP01":
        return [r.finding(f'El UsoCFDI de un CFDI de pago debe ser "CP01"; tiene "{value}".',
                          receptor.at("UsoCFDI"))]
    return []


@rule("CFDI40-P-VERSION", 'Version debe ser "4.0" y el complemento Pagos "2.0"')
def version(r: Rule, ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    if ctx.comprobante.get("Version") != "4.0":
        out.append(r.finding('La versión del CFDI debe ser "4.0".', ctx.comprobante.at("Version")))
    nodes = ctx.pagos_nodes()
    if not nodes:
        out.append(r.finding("El CFDI de pago no contiene el complemento Pagos 2.0.",
                             "/cfdi:Comprobante/cfdi:Complemento"))
    elif len(nodes) > 1:
        out.append(r.finding("El complemento Pagos debe aparecer una sola vez.", nodes[1].path))
    for node in nodes:
        if node.get("Version") != "2.0":
            out.append(r.finding('La versión del complemento Pagos debe ser "2.0".',
                                 node.at("Version")))
    return out
