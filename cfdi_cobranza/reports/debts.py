"""The corte de caja as ``export.Report`` (text, CSV, Excel, PDF and the JSON payload).

Kept beside ``reports/tables.py`` (same shape, same writers) in its own module.
"""

from __future__ import annotations

from cfdi_cobranza import catalogs
from cfdi_cobranza.domain.debts import CashCut
from cfdi_cobranza.domain.period import fmt_date
from cfdi_cobranza.reports.export import Column, Kind, Report, Table
from cfdi_cobranza.reports.tables import m


def cash_cut_report(cut: CashCut) -> Report:
    lines = [[ln.forma_pago, catalogs.describe("c_FormaPago", ln.forma_pago).partition(" - ")[2], ln.usuario, ln.moneda, ln.recibos, ln.importe]
             for ln in cut.lineas]
    cheques = [[c.documento, c.pago, c.cliente, c.numero or "", c.banco or "", c.fecha_cobro, c.estado, c.moneda,
                c.importe] for c in cut.cheques]
    totals = [["TOTAL", cur, v, cut.devueltos.get(cur, 0)] for cur, v in cut.totales.items()]
    payload = {
        "reporte": "corte_de_caja", "caja": cut.caja, "fecha": cut.fecha.isoformat(),
        "lineas": [{"forma_pago": ln.forma_pago, "usuario": ln.usuario, "moneda": ln.moneda, "recibos": ln.recibos,
                    "importe": m(ln.importe, ln.moneda)} for ln in cut.lineas],
        "cheques": [{"documento": c.documento, "pago": c.pago, "cliente": c.cliente, "numero": c.numero,
                     "banco": c.banco, "fecha_cobro": c.fecha_cobro.isoformat(), "estado": c.estado,
                     "moneda": c.moneda, "importe": m(c.importe, c.moneda)} for c in cut.cheques],
        "totales": {cur: m(v, cur) for cur, v in cut.totales.items()},
        "devueltos": {cur: m(v, cur) for cur, v in cut.devueltos.items()},
    }
    return Report(
        "Corte de caja", [("Caja", cut.caja), ("Fecha", fmt_date(cut.fecha))],
        [Table("Recibos", [Column("Forma"), Column("Descripción"), Column("Usuario"), Column("Moneda"),
                           Column("Recibos", Kind.INT), Column("Importe", Kind.MONEY)], lines, currency_column=3),
         Table("Cheques", [Column("Documento", Kind.INT), Column("Pago", Kind.INT), Column("Cliente"),
                           Column("Número"), Column("Banco"), Column("Cobro", Kind.DATE), Column("Estado"),
                           Column("Moneda"), Column("Importe", Kind.MONEY)], cheques, currency_column=7),
         Table("Totales", [Column(""), Column("Moneda"), Column("Recibido", Kind.MONEY),
                           Column("Devuelto", Kind.MONEY)], totals, currency_column=1)],
        payload)
