"""Collections reports as ``export.Report``: Spanish headers, raw values, JSON payloads.

One function per report; each returns the tables users read (text, CSV, Excel) and
the JSON payload (``--json`` and the API). Money stays Decimal here; only the writers
in ``export`` round it for display, with the currency's decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from cfdi_cobranza.domain.aging import AgingAmounts, AgingReport, pct_display
from cfdi_cobranza.domain.due_dates import DueDatesReport
from cfdi_cobranza.domain.forecast import Projection
from cfdi_cobranza.domain.money import round_currency
from cfdi_cobranza.domain.movement import (
    CollectorsReport,
    MovementAmounts,
    MovementReport,
    SummaryReport,
)
from cfdi_cobranza.domain.period import fmt_date
from cfdi_cobranza.domain.promises import PromiseOutcome
from cfdi_cobranza.domain.statement import Statement
from cfdi_cobranza.domain.summary import CustomerSummaryView
from cfdi_cobranza.domain.trends import (
    PREVIOUS_MONTHS,
    RECENT_MONTHS,
    SHARP_DAYS,
    STABLE_DAYS,
    CustomerTrend,
    TrendMonth,
    TrendsReport,
)
from cfdi_cobranza.reports.export import Column, Kind, Report, Table


def m(value: Decimal, currency: str) -> str:
    """Money in JSON: a string with the currency's decimals (never a float)."""
    return format(round_currency(value, currency), "f")


def _pcts(amounts: AgingAmounts) -> list[str]:
    return [format(p, "f") for p in amounts.porcentajes_display()]


# --------------------------------------------------------------------------- aging


def aging_report(rep: AgingReport) -> Report:
    labels = list(rep.etiquetas)
    filas, filas_mxn = tuple(rep.filas), tuple(rep.filas_mxn)  # rows are made when read: read them once
    cols = [Column(rep.agrupacion.titulo), Column("Clave"), Column("Moneda"),
            *[Column(lab, Kind.MONEY) for lab in labels], Column("Total", Kind.MONEY),
            Column("Documentos", Kind.INT), Column("% del total", Kind.PCT)]
    rows: list[list[Any]] = [
        [r.nombre, r.grupo, r.moneda, *r.importes, r.total, r.documentos, r.participacion]
        for r in filas
    ]
    for cur, t in rep.totales.items():
        rows.append(["TOTAL", "", cur, *t.importes, t.total, t.documentos, Decimal(100)])
    pct_rows = [[cur, *t.porcentajes_display()] for cur, t in rep.totales.items()]
    mxn_rows: list[list[Any]] = [
        [r.nombre, r.grupo, "MXN", *r.importes, r.total, r.documentos, r.participacion]
        for r in filas_mxn
    ]
    mxn_rows.append(["TOTAL", "", "MXN", *rep.total_mxn.importes, rep.total_mxn.total, rep.total_mxn.documentos,
                     Decimal(100)])
    tables = [
        Table("Antigüedad", cols, rows, currency_column=2, split_by_currency=True),
        Table("Porcentajes", [Column("Moneda"), *[Column(lab, Kind.PCT) for lab in labels]], pct_rows),
        Table("Convertido a MXN", cols, mxn_rows, currency_column=2),
    ]
    if rep.detalle:
        tables.append(Table("Detalle", [Column("Cliente"), Column("RFC"), Column("Documento"), Column("Folio fiscal"),
                                        Column("Vencimiento", Kind.DATE), Column("Días vencido", Kind.INT),
                                        Column("Rango"), Column("Moneda"), Column("Saldo", Kind.MONEY)],
                            [[ln.item.nombre, ln.item.rfc, ln.item.referencia, ln.item.doc_id, ln.item.vencimiento,
                              ln.dias_vencido, labels[ln.bucket], ln.item.moneda, ln.item.saldo]
                             for ln in rep.detalle], currency_column=7))
    payload = {
        "reporte": "antiguedad",
        "fecha_corte": rep.fecha_corte.isoformat(),
        "agrupacion": rep.agrupacion.value,
        "rangos": labels,
        "buckets": rep.buckets.spec(),
        "filas": [_aging_row(r.grupo, r.nombre, r.moneda, r, r.participacion) for r in filas],
        "totales": {cur: _aging_amounts(t, cur) for cur, t in rep.totales.items()},
        "filas_mxn": [_aging_row(r.grupo, r.nombre, "MXN", r, r.participacion) for r in filas_mxn],
        "total_mxn": _aging_amounts(rep.total_mxn, "MXN"),
        "tipos_cambio": {k: format(v, "f") for k, v in rep.tipos_cambio.items()},
        "detalle": [{"doc_id": ln.item.doc_id, "referencia": ln.item.referencia, "rfc": ln.item.rfc,
                     "moneda": ln.item.moneda, "saldo": m(ln.item.saldo, ln.item.moneda),
                     "vencimiento": ln.item.vencimiento.isoformat(), "dias_vencido": ln.dias_vencido,
                     "rango": labels[ln.bucket]} for ln in rep.detalle],
    }
    return Report("Antigüedad de saldos", [("Fecha de corte", fmt_date(rep.fecha_corte)),
                                           ("Agrupación", rep.agrupacion.titulo),
                                           ("Rangos", rep.buckets.spec())], tables, payload)


def _aging_amounts(a: AgingAmounts, cur: str) -> dict[str, Any]:
    return {"importes": [m(v, cur) for v in a.importes], "total": m(a.total, cur), "documentos": a.documentos,
            "porcentajes": _pcts(a)}


def _aging_row(grupo: str, nombre: str, cur: str, a: AgingAmounts, part: Decimal) -> dict[str, Any]:
    return {"grupo": grupo, "nombre": nombre, "moneda": cur, **_aging_amounts(a, cur),
            "participacion": format(pct_display(part), "f")}


# --------------------------------------------------------------------------- due dates


def due_report(rep: DueDatesReport) -> Report:
    cols = [Column("Vencimiento", Kind.DATE), Column("Días", Kind.INT), Column("Cliente"), Column("RFC"),
            Column("Documento"), Column("Folio fiscal"), Column("Moneda"), Column("Saldo", Kind.MONEY)]
    rows = [[ln.item.vencimiento, ln.dias_vencido, ln.item.nombre, ln.item.rfc, ln.item.referencia, ln.item.doc_id,
             ln.item.moneda, ln.item.saldo] for ln in rep.lineas]
    totals = [["TOTAL", cur, v] for cur, v in rep.totales.items()]
    payload = {
        "reporte": "vencimientos", "fecha_corte": rep.fecha_corte.isoformat(),
        "desde": rep.rango.desde.isoformat(), "hasta": rep.rango.hasta.isoformat(),
        "lineas": [{"vencimiento": ln.item.vencimiento.isoformat(), "dias_vencido": ln.dias_vencido,
                    "rfc": ln.item.rfc, "nombre": ln.item.nombre, "referencia": ln.item.referencia,
                    "doc_id": ln.item.doc_id, "moneda": ln.item.moneda, "saldo": m(ln.item.saldo, ln.item.moneda)}
                   for ln in rep.lineas],
        "totales": {cur: m(v, cur) for cur, v in rep.totales.items()},
        "por_dia": {d.isoformat(): {c: m(v, c) for c, v in per.items()} for d, per in rep.por_dia.items()},
    }
    return Report("Vencimientos", [("Fecha de corte", fmt_date(rep.fecha_corte)),
                                   ("Del", fmt_date(rep.rango.desde)), ("Al", fmt_date(rep.rango.hasta))],
                  [Table("Vencimientos", cols, rows, currency_column=6, split_by_currency=True),
                   Table("Totales", [Column(""), Column("Moneda"), Column("Saldo", Kind.MONEY)], totals, 1)],
                  payload)


# --------------------------------------------------------------------------- movement / summary


_MOV_COLS = [Column("Saldo inicial", Kind.MONEY), Column("Cargos", Kind.MONEY), Column("Pagos", Kind.MONEY),
             Column("Notas de crédito", Kind.MONEY), Column("Abonos", Kind.MONEY), Column("Saldo final", Kind.MONEY)]


def _mov(a: MovementAmounts) -> list[Decimal]:
    return [a.saldo_inicial, a.cargos, a.pagos, a.notas_credito, a.abonos, a.saldo_final]


def _mov_json(a: MovementAmounts, cur: str) -> dict[str, str]:
    keys = ("saldo_inicial", "cargos", "pagos", "notas_credito", "abonos", "saldo_final")
    return {k: m(v, cur) for k, v in zip(keys, _mov(a), strict=True)}


def movement_report(rep: MovementReport) -> Report:
    cols = [Column(rep.agrupacion.titulo), Column("Clave"), Column("Moneda"), *_MOV_COLS]
    rows: list[list[Any]] = [[r.nombre, r.grupo, r.moneda, *_mov(r.montos)] for r in rep.filas]
    rows += [["TOTAL", "", cur, *_mov(t)] for cur, t in rep.totales.items()]
    payload = {
        "reporte": "movimiento", "desde": rep.periodo.desde.isoformat(), "hasta": rep.periodo.hasta.isoformat(),
        "agrupacion": rep.agrupacion.value,
        "filas": [{"grupo": r.grupo, "nombre": r.nombre, "moneda": r.moneda, **_mov_json(r.montos, r.moneda)}
                  for r in rep.filas],
        "totales": {cur: _mov_json(t, cur) for cur, t in rep.totales.items()},
    }
    return Report("Movimiento de cuentas por cobrar", [("Del", fmt_date(rep.periodo.desde)),
                                                       ("Al", fmt_date(rep.periodo.hasta)),
                                                       ("Agrupación", rep.agrupacion.titulo)],
                  [Table("Movimiento", cols, rows, currency_column=2, split_by_currency=True)], payload)


def summary_report(rep: SummaryReport) -> Report:
    cols = [Column(rep.agrupacion.titulo), Column("Clave"), Column("Moneda"), *_MOV_COLS,
            Column("Vencido al cierre", Kind.MONEY)]
    rows: list[list[Any]] = [[r.nombre, r.grupo, r.moneda, *_mov(r.montos), r.vencido] for r in rep.filas]
    rows += [["TOTAL", "", cur, *_mov(t), rep.vencido.get(cur, Decimal(0))] for cur, t in rep.totales.items()]
    payload = {
        "reporte": "resumen", "desde": rep.periodo.desde.isoformat(), "hasta": rep.periodo.hasta.isoformat(),
        "agrupacion": rep.agrupacion.value,
        "filas": [{"grupo": r.grupo, "nombre": r.nombre, "moneda": r.moneda, **_mov_json(r.montos, r.moneda),
                   "vencido": m(r.vencido, r.moneda)} for r in rep.filas],
        "totales": {cur: {**_mov_json(t, cur), "vencido": m(rep.vencido.get(cur, Decimal(0)), cur)}
                    for cur, t in rep.totales.items()},
    }
    return Report("Resumen de cuentas por cobrar", [("Del", fmt_date(rep.periodo.desde)),
                                                    ("Al", fmt_date(rep.periodo.hasta)),
                                                    ("Nivel", rep.agrupacion.titulo)],
                  [Table("Resumen", cols, rows, currency_column=2, split_by_currency=True)], payload)


def collectors_report(rep: CollectorsReport) -> Report:
    cols = [Column(rep.agrupacion.titulo), Column("Clave"), Column("Moneda"), Column("Clientes", Kind.INT),
            Column("Saldo", Kind.MONEY), Column("Vencido", Kind.MONEY), Column("Cobrado", Kind.MONEY),
            Column("Notas de crédito", Kind.MONEY), Column("Seguimientos", Kind.INT),
            Column("Promesas vigentes", Kind.INT), Column("Promesas incumplidas", Kind.INT)]
    rows = [[r.nombre, r.grupo, r.moneda, r.clientes, r.saldo, r.vencido, r.cobrado, r.notas_credito,
             r.seguimientos, r.promesas_vigentes, r.promesas_incumplidas] for r in rep.filas]
    payload = {
        "reporte": "cobradores", "desde": rep.periodo.desde.isoformat(), "hasta": rep.periodo.hasta.isoformat(),
        "agrupacion": rep.agrupacion.value,
        "filas": [{"grupo": r.grupo, "nombre": r.nombre, "moneda": r.moneda, "clientes": r.clientes,
                   "saldo": m(r.saldo, r.moneda), "vencido": m(r.vencido, r.moneda),
                   "cobrado": m(r.cobrado, r.moneda), "notas_credito": m(r.notas_credito, r.moneda),
                   "seguimientos": r.seguimientos, "promesas_vigentes": r.promesas_vigentes,
                   "promesas_incumplidas": r.promesas_incumplidas} for r in rep.filas],
    }
    return Report("Reporte de cobranza", [("Del", fmt_date(rep.periodo.desde)), ("Al", fmt_date(rep.periodo.hasta)),
                                          ("Agrupación", rep.agrupacion.titulo)],
                  [Table("Cobranza", cols, rows, currency_column=2, split_by_currency=True)], payload)


# --------------------------------------------------------------------------- statement


def statement_report(rfc: str, statements: Sequence[Statement], desde: date, hasta: date) -> Report:
    cols = [Column("Fecha", Kind.DATE), Column("Concepto"), Column("Documento"), Column("Referencia"),
            Column("Moneda"), Column("Cargo", Kind.MONEY), Column("Abono", Kind.MONEY), Column("Saldo", Kind.MONEY)]
    tables = []
    for st in statements:
        rows: list[list[Any]] = [[st.periodo.desde, "Saldo inicial", "", "", st.moneda, None, None, st.saldo_inicial]]
        rows += [[ln.fecha, ln.entry.concepto, ln.entry.document.referencia or ln.entry.doc_id, ln.entry.referencia,
                  st.moneda, ln.cargo or None, ln.abono or None, ln.saldo] for ln in st.lineas]
        rows.append([st.periodo.hasta, "Saldo final", "", "", st.moneda, st.total_cargos, st.total_abonos,
                     st.saldo_final])
        tables.append(Table(f"Estado de cuenta {st.moneda}", cols, rows, currency_column=4))
    nombre = statements[0].nombre if statements else rfc
    payload = {
        "reporte": "estado_de_cuenta", "rfc": rfc, "nombre": nombre, "desde": desde.isoformat(),
        "hasta": hasta.isoformat(),
        "estados": [{
            "moneda": st.moneda, "saldo_inicial": m(st.saldo_inicial, st.moneda),
            "total_cargos": m(st.total_cargos, st.moneda), "total_abonos": m(st.total_abonos, st.moneda),
            "saldo_final": m(st.saldo_final, st.moneda), "saldo_vencido": m(st.saldo_vencido, st.moneda),
            "lineas": [{"fecha": ln.fecha.isoformat(), "concepto": ln.entry.concepto, "tipo": ln.entry.tipo,
                        "doc_id": ln.entry.doc_id, "documento": ln.entry.document.referencia,
                        "referencia": ln.entry.referencia, "cargo": m(ln.cargo, st.moneda),
                        "abono": m(ln.abono, st.moneda), "saldo": m(ln.saldo, st.moneda)} for ln in st.lineas],
        } for st in statements],
    }
    return Report(f"Estado de cuenta de {nombre}", [("RFC", rfc), ("Del", fmt_date(desde)), ("Al", fmt_date(hasta))],
                  tables, payload)


# --------------------------------------------------------------------------- projection


def projection_report(p: Projection) -> Report:
    cols = [Column("Periodo"), Column("Inicio", Kind.DATE), Column("Fin", Kind.DATE), Column("Moneda"),
            Column("Por comportamiento", Kind.MONEY), Column("De promesas", Kind.MONEY),
            Column("Por vencimiento", Kind.MONEY)]
    rows = [[r.periodo.etiqueta, r.periodo.inicio, r.periodo.fin, r.moneda, r.por_comportamiento, r.de_promesas,
             r.por_vencimiento] for r in p.filas]
    rows += [["Posterior", None, None, cur, b, None, d] for cur, (b, d) in p.posterior.items()]
    mxn = [[r.periodo.etiqueta, r.periodo.inicio, r.periodo.fin, "MXN", r.por_comportamiento, r.de_promesas,
            r.por_vencimiento] for r in p.filas_mxn]
    detail = [[e.fecha_esperada, e.rfc, e.doc_id, e.moneda, e.importe, e.vencimiento, e.origen.value]
              for e in p.esperados]
    payload = {
        "reporte": "proyeccion", "fecha_corte": p.fecha_corte.isoformat(), "granularidad": p.granularidad.value,
        "desde": p.rango.desde.isoformat(), "hasta": p.rango.hasta.isoformat(),
        "filas": [{"periodo": r.periodo.etiqueta, "inicio": r.periodo.inicio.isoformat(),
                   "fin": r.periodo.fin.isoformat(), "moneda": r.moneda,
                   "por_comportamiento": m(r.por_comportamiento, r.moneda),
                   "de_promesas": m(r.de_promesas, r.moneda), "por_vencimiento": m(r.por_vencimiento, r.moneda)}
                  for r in p.filas],
        "filas_mxn": [{"periodo": r.periodo.etiqueta, "por_comportamiento": m(r.por_comportamiento, "MXN"),
                       "de_promesas": m(r.de_promesas, "MXN"), "por_vencimiento": m(r.por_vencimiento, "MXN")}
                      for r in p.filas_mxn],
        "posterior": {cur: {"por_comportamiento": m(b, cur), "por_vencimiento": m(d, cur)}
                      for cur, (b, d) in p.posterior.items()},
        "modelo": {"dias_cartera": p.modelo.cartera, "clientes_con_historial": len(p.modelo.por_cliente)},
    }
    return Report("Proyección de ingresos", [("Fecha de corte", fmt_date(p.fecha_corte)),
                                             ("Periodo", p.granularidad.value),
                                             ("Atraso típico de la cartera (días)", str(p.modelo.cartera))],
                  [Table("Proyección", cols, rows, currency_column=3, split_by_currency=True),
                   Table("Proyección MXN", cols, mxn, currency_column=3),
                   Table("Esperados", [Column("Fecha esperada", Kind.DATE), Column("Cliente"), Column("Folio fiscal"),
                                       Column("Moneda"), Column("Importe", Kind.MONEY),
                                       Column("Vencimiento", Kind.DATE), Column("Origen")], detail, 3)],
                  payload)


# --------------------------------------------------------------------------- trends


def days(value: Decimal | None) -> str | None:
    """Days late in JSON and tables: one decimal, as a string (``None`` stays ``None``)."""
    return None if value is None else format(value.quantize(Decimal("0.1")), "f")


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(Decimal("0.01")), "f")


def trend_month_payload(t: TrendMonth) -> dict[str, Any]:
    return {"mes": t.etiqueta, "facturado": m(t.facturado, "MXN"), "cobrado": m(t.cobrado, "MXN"),
            "documentos_pagados": t.pagados, "dias_promedio": days(t.promedio) if t.pagados else None,
            "dias_ponderado": days(t.ponderado) if t.pagados else None, "a_tiempo": t.a_tiempo,
            "pct_a_tiempo": _pct(t.pct_a_tiempo), "pct_a_tiempo_importe": _pct(t.pct_a_tiempo_importe)}


def trend_payload(c: CustomerTrend, *, with_months: bool = True) -> dict[str, Any]:
    v = c.veredicto
    out: dict[str, Any] = {
        "rfc": c.rfc, "nombre": c.nombre, "tendencia": v.tendencia.value, "etiqueta": v.tendencia.etiqueta,
        "empeora_fuerte": v.empeora_fuerte, "cambio_dias": days(v.cambio),
        "reciente": {"documentos": v.reciente.documentos, "ponderado": days(v.reciente.ponderado),
                     "promedio": days(v.reciente.promedio)},
        "anterior": {"documentos": v.anterior.documentos, "ponderado": days(v.anterior.ponderado),
                     "promedio": days(v.anterior.promedio)},
    }
    if with_months:
        out["meses"] = [trend_month_payload(t) for t in c.meses]
    return out


TREND_RULE = (f"Días de atraso ponderados de los últimos {RECENT_MONTHS} meses (incluye saldos vencidos "
              f"abiertos) contra los {PREVIOUS_MONTHS} anteriores: ±{STABLE_DAYS} días es estable; "
              f"{SHARP_DAYS} o más días peor es empeora fuerte.")


def _month_row(t: TrendMonth) -> list[Any]:
    return [t.etiqueta, t.facturado, t.cobrado, t.pagados, days(t.promedio) if t.pagados else None,
            days(t.ponderado) if t.pagados else None, t.pct_a_tiempo, t.pct_a_tiempo_importe]


_TREND_MONTH_COLS = [Column("Facturado", Kind.MONEY), Column("Cobrado", Kind.MONEY),
                     Column("Docs. pagados", Kind.INT), Column("Días promedio", Kind.RATE),
                     Column("Días ponderados", Kind.RATE), Column("% a tiempo (docs.)", Kind.PCT),
                     Column("% a tiempo (importe)", Kind.PCT)]


def trends_report(rep: TrendsReport, *, customer: str | None = None) -> Report:
    """Patrones y tendencias de pago; amounts in MXN. With ``customer`` the monthly table
    is that customer's (the report was run for it alone)."""
    line = rep.clientes[0] if customer is not None and rep.clientes else rep.cartera
    v = line.veredicto
    meses = Table("Mensual", [Column("Mes"), *_TREND_MONTH_COLS], [_month_row(t) for t in line.meses])
    clientes = Table("Clientes", [Column("Cliente"), Column("RFC"), Column("Tendencia"),
                                  Column("Días anteriores", Kind.RATE), Column("Días recientes", Kind.RATE),
                                  Column("Cambio (días)", Kind.RATE), Column("Empeora fuerte")],
                     [[c.nombre, c.rfc, c.veredicto.tendencia.etiqueta,
                       days(c.veredicto.anterior.ponderado) if c.veredicto.anterior.documentos else None,
                       days(c.veredicto.reciente.ponderado) if c.veredicto.reciente.documentos else None,
                       days(c.veredicto.cambio), "Sí" if c.veredicto.empeora_fuerte else ""]
                      for c in rep.clientes])
    detail = Table("Por cliente y mes", [Column("Cliente"), Column("RFC"), Column("Mes"), *_TREND_MONTH_COLS],
                   [[c.nombre, c.rfc, *_month_row(t)] for c in rep.clientes for t in c.meses
                    if t.facturado or t.cobrado])
    payload = {
        "reporte": "tendencias", "fecha_corte": rep.fecha_corte.isoformat(), "desde": rep.desde.isoformat(),
        "meses": len(rep.cartera.meses), "moneda": "MXN",
        "tipos_cambio": {k: format(r.normalize(), "f") for k, r in rep.tipos_cambio.items()},
        "regla": {"meses_recientes": RECENT_MONTHS, "meses_anteriores": PREVIOUS_MONTHS,
                  "umbral_estable_dias": format(STABLE_DAYS, "f"), "umbral_fuerte_dias": format(SHARP_DAYS, "f")},
        "cartera": trend_payload(rep.cartera),
        "clientes": [trend_payload(c) for c in rep.clientes],
        "empeoran_fuerte": [c.rfc for c in rep.empeoran_fuerte],
    }
    meta = [("Fecha de corte", fmt_date(rep.fecha_corte)), ("Desde", fmt_date(rep.desde)),
            ("Importes", "MXN" + (" (" + ", ".join(f"{k} a {r.normalize():f}" for k, r in rep.tipos_cambio.items()) + ")"
                                  if rep.tipos_cambio else "")),
            ("Tendencia", f"{v.tendencia.etiqueta}" + (f" ({days(v.cambio)} días)" if v.cambio is not None else "")),
            ("Regla", TREND_RULE)]
    if customer is not None:
        meta.insert(0, ("Cliente", f"{line.nombre} ({line.rfc})" if line.nombre != line.rfc else line.rfc))
    tables = [meses] if customer is not None else [meses, clientes, detail]
    return Report("Patrones y tendencias de pago", meta, tables, payload)


# --------------------------------------------------------------------------- customer summary


def promise_payload(o: PromiseOutcome) -> dict[str, Any]:
    p = o.promise
    return {
        "seguimiento": int(p.promise_id), "rfc": p.rfc, "registrada": p.fecha_registro.isoformat(),
        "fecha_promesa": p.fecha_promesa.isoformat(), "moneda": p.moneda, "importe": m(p.importe, p.moneda),
        "pagado": m(o.pagado, p.moneda), "faltante": m(o.faltante, p.moneda),
        "estado": o.estado.value, "dias_incumplida": o.dias_incumplida, "documentos": list(p.doc_ids),
        "nota": p.nota,
    }


def customer_summary_payload(view: CustomerSummaryView) -> dict[str, Any]:
    s = view.summary
    late = s.dias_atraso

    def metrics(x: Any) -> dict[str, Any]:
        return {"documentos": x.documentos, "promedio": format(round_currency(x.promedio, "MXN"), "f"),
                "ponderado": format(round_currency(x.ponderado, "MXN"), "f")}

    return {
        "rfc": s.rfc, "nombre": s.nombre, "fecha_corte": s.fecha_corte.isoformat(),
        "periodo": {"desde": s.periodo.desde.isoformat(), "hasta": s.periodo.hasta.isoformat()},
        "condiciones": view.conditions,
        "compras": [{"periodo": p.etiqueta, "montos": {c: m(v, c) for c, v in per.items()}}
                    for p, per in s.compras.items()],
        "pagos": {c: m(v, c) for c, v in s.pagos.items()},
        "notas_credito": {c: m(v, c) for c, v in s.notas_credito.items()},
        "saldo": {c: m(v, c) for c, v in s.saldo.items()},
        "saldo_vencido": {c: m(v, c) for c, v in s.saldo_vencido.items()},
        "saldo_sin_aplicar": {c: m(v, c) for c, v in s.saldo_sin_aplicar.items()},
        "documentos": [{"doc_id": o.item.doc_id, "referencia": o.item.referencia, "moneda": o.item.moneda,
                        "saldo": m(o.item.saldo, o.item.moneda), "vencimiento": o.item.vencimiento.isoformat(),
                        "dias_vencido": o.dias_vencido} for o in s.documentos],
        "dias_atraso": {"reciente": metrics(late.reciente), "historico": metrics(late.historico),
                        "por_documento": [{"doc_id": d.doc_id, "dias": format(round_currency(d.dias, "MXN"), "f"),
                                           "abierto": d.abierto} for d in late.documentos_historico]},
        "promesas_vigentes": [promise_payload(o) for o in s.promesas_vigentes],
        "promesas_incumplidas": [promise_payload(o) for o in s.promesas_incumplidas],
        "acciones": view.acciones,
        "acciones_total": view.extra.get("acciones_total", len(view.acciones)),
        "notas": view.notas,
        "documentos_cobranza": view.documentos_cobranza,
        "efos": view.extra.get("efos"),  # the 69-B list: {situacion, fecha} or None
        "cargos_devueltos": view.extra.get("cargos_devueltos", []),
        "tendencia": trend_payload(view.tendencia) if view.tendencia is not None else None,
    }


__all__ = [
    "aging_report",
    "collectors_report",
    "customer_summary_payload",
    "due_report",
    "movement_report",
    "projection_report",
    "statement_report",
    "summary_report",
    "trends_report",
]
