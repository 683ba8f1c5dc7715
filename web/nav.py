"""The main navigation: areas in the order users work, with the roles that see each.

An entry without an endpoint is an area still being built; it shows as
"próximamente" so users know it is coming rather than missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, g

from web.security import IMPORTERS, READERS

SETTINGS_ROLES = frozenset({"administrador", "contabilidad"})


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    endpoint: str | None
    roles: frozenset[str]


NAV: tuple[NavItem, ...] = (
    NavItem("tablero", "Tablero", "dashboard.index", READERS),
    NavItem("importar", "Importar", "imports.index", IMPORTERS),
    NavItem("documentos", "Documentos", "documents.index", READERS),
    NavItem("clientes", "Clientes", "customers.index", READERS),
    NavItem("pagos", "Pagos", "payments.index", READERS),
    NavItem("cheques", "Cheques y pagarés", "debts.index", READERS),
    NavItem("bancos", "Bancos", "banks.index", READERS),
    NavItem("rep", "REP", "reps.index", READERS),
    NavItem("reportes", "Reportes", "reports.index", READERS),
    NavItem("seguimiento", "Seguimiento", "followups.index", READERS),
    NavItem("correo", "Correo", "mail.index", READERS),
    NavItem("tareas", "Tareas", "jobs.index", READERS),
    NavItem("configuracion", "Configuración", "companies.index", SETTINGS_ROLES),
)


def items_for(role: str | None) -> list[NavItem]:
    if role is None:
        return []
    return [item for item in NAV if role in item.roles]


def init_app(app: Flask) -> None:
    @app.context_processor
    def _nav() -> dict[str, Any]:
        user = g.get("user")
        return {"current_user": user, "nav_items": items_for(user.role if user else None)}
