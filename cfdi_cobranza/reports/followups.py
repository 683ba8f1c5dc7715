"""The follow-up file and the day's tasks as ``export.Report`` (CSV, Excel, PDF, JSON).

Built from the dictionaries ``services.followups`` already gives the CLI and the API
(``FollowUpView.to_dict`` / ``TasksReport.to_dict``), so every entry point exports the
same rows. Kept apart from ``reports.tables`` only so the collections reports module
stays as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from cfdi_cobranza.domain.period import fmt_date
from cfdi_cobranza.reports.export import Column, Kind, Report, Table

_COLS = [Column("Id", Kind.INT), Column("Fecha"), Column("Cliente"), Column("Nombre"), Column("Tipo"),
         Column("Contacto"), Column("Vendedor"), Column("Documentos"), Column("Moneda"),
         Column("Importe prometido", Kind.MONEY), Column("Fecha promesa", Kind.DATE),
         Column("Próxima tarea", Kind.DATE), Column("Tipo próxima tarea"), Column("Notas"), Column("Estado"),
         Column("Adjunto")]


def _row(r: dict[str, Any]) -> list[Any]:
    p = r.get("promesa")
    adj = r.get("adjunto")
    return [r["id"], r["fecha_local"], r["rfc"], r["nombre"] or "", r["tipo_nombre"], r["contacto"],
            r["vendedor"] or "", " ".join(r["documentos"]), p["moneda"] if p else "",
            Decimal(p["importe"]) if p else None, date.fromisoformat(p["fecha"]) if p else None,
            date.fromisoformat(r["proxima_tarea"]) if r["proxima_tarea"] else None,
            r["proxima_tarea_tipo"] or "", r["notas"] or "", r["estado"], adj["nombre"] if adj else ""]


def followups_report(rows: Sequence[dict[str, Any]], *, estado: str | None,
                     meta: Sequence[tuple[str, str]] = ()) -> Report:
    """``followup list|history`` and the web history: one row per follow-up."""
    title = {"pendiente": "Seguimientos pendientes", "cerrado": "Historial de seguimientos"}.get(
        estado or "", "Seguimientos")
    return Report(title, [("Estado", estado or "todos"), *meta],
                  [Table("Seguimientos", _COLS, [_row(r) for r in rows], currency_column=8)],
                  {"estado": estado, "seguimientos": list(rows)})


def tasks_report(data: dict[str, Any]) -> Report:
    """``followup tasks``: the day's actions per type and the pending next tasks."""
    done = [[k, v] for k, v in data["realizados_por_tipo"].items()]
    due = [[k, v] for k, v in data["tareas_por_tipo"].items()]
    counts = [Column("Tipo"), Column("Cantidad", Kind.INT)]
    return Report("Tareas de seguimiento", [("Fecha", fmt_date(date.fromisoformat(data["fecha"])))],
                  [Table("Tareas", _COLS, [_row(r) for r in data["tareas"]], currency_column=8),
                   Table("Realizados por tipo", counts, done), Table("Tareas por tipo", counts, due)],
                  data)


__all__ = ["followups_report", "tasks_report"]
