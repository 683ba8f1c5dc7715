"""Jinja filters for what users read: money as ``$1,234.56 MXN``, dates dd/mm/aaaa."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask

from cfdi_cobranza.domain.money import fmt_money
from cfdi_cobranza.reports.export import Kind, _text_cell
from cfdi_cobranza.services.users import ROLES

STATUS_LABELS = {
    "imported": "Importado",
    "duplicate": "Duplicado",
    "refused": "Rechazado",
    "ignored": "Omitido",
}
TIPO_LABELS = {"I": "Ingreso", "E": "Egreso (nota de crédito)", "P": "Pago (REP)", "N": "Nómina", "T": "Traslado"}
USER_ACTION_LABELS = {
    "usuario_creado": "Usuario creado",
    "login": "Inicio de sesión",
    "login_fallido": "Inicio de sesión fallido",
    "login_bloqueado": "Intento con la cuenta bloqueada",
    "usuario_bloqueado": "Cuenta bloqueada por intentos fallidos",
    "usuario_activado": "Usuario activado",
    "usuario_desactivado": "Usuario desactivado",
    "rol_cambiado": "Rol cambiado",
    "contrasena_cambiada": "Contraseña cambiada",
    "cambio_contrasena_fallido": "Cambio de contraseña rechazado (contraseña actual incorrecta)",
    "contrasena_restablecida": "Contraseña restablecida por un administrador",
}
CREDIT_KIND_LABELS = {"nota_credito": "Nota de crédito", "complemento": "Complemento de pago", "pago": "Pago"}


def money(value: Decimal | int | None, currency: str = "MXN") -> str:
    if value is None:
        return "—"
    return fmt_money(Decimal(value), currency)


def fecha(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%d/%m/%Y")


def fecha_hora(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%d/%m/%Y %H:%M")


def celda(value: object, kind: str, currency: str = "MXN") -> str:
    """One cell of a report table: money with the row's currency decimals, dates dd/mm/aaaa."""
    if value is None or value == "":
        return ""
    if kind == Kind.MONEY:
        return money(Decimal(str(value)), currency).rsplit(" ", 1)[0]
    return _text_cell(value, Kind(kind), currency)


def fecha_iso(value: str | None) -> str:
    """``2026-11-20`` or ``2026-11-20 17:05`` (as the services return them) as dd/mm/aaaa [hh:mm]."""
    if not value:
        return "—"
    text = str(value)
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        rest = text[10:].lstrip("T ")[:5]
        return f"{text[8:10]}/{text[5:7]}/{text[:4]}" + (f" {rest}" if rest else "")
    return text


def init_app(app: Flask) -> None:
    app.add_template_filter(fecha_iso, "fecha_iso")
    app.add_template_filter(lambda v, c="MXN": money(Decimal(str(v)), c) if v not in (None, "") else "—", "money_str")
    app.add_template_filter(celda, "celda")
    app.add_template_filter(money, "money")
    app.add_template_filter(fecha, "fecha")
    app.add_template_filter(fecha_hora, "fecha_hora")
    app.add_template_filter(lambda s: STATUS_LABELS.get(s, s), "estado_importacion")
    app.add_template_filter(lambda t: TIPO_LABELS.get(t, t), "tipo_cfdi")
    app.add_template_filter(lambda r: ROLES.get(r, r), "rol")
    app.add_template_filter(lambda k: CREDIT_KIND_LABELS.get(k, k), "tipo_abono")
    app.add_template_filter(lambda a: USER_ACTION_LABELS.get(a, a), "accion_usuario")
