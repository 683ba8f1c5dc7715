"""Email rules with no I/O: contact roles, message kinds, address checks, templates.

Addresses are checked by shape (one ``@``, a dotted domain, no spaces, quotes, angle
brackets or control characters) since nothing can be sent to verify them offline. A
display name or subject never carries a line break into a header (``header_text``).
Templates use ``{nombre}`` placeholders; an unknown one is refused when the template is
saved, so a typo never reaches a customer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from cfdi_cobranza.errors import ValidationError


class ContactRole(StrEnum):
    PAGOS = "pagos"  # receives the REPs
    COBRANZA = "cobranza"  # receives statements, letters and reminders
    AMBOS = "ambos"

    def receives(self, kind: MailKind) -> bool:
        return self is ContactRole.AMBOS or self is KIND_ROLE.get(kind, ContactRole.AMBOS)


class MailKind(StrEnum):
    REP = "rep"
    ESTADO_CUENTA = "estado_cuenta"
    CARTA = "carta"
    RECORDATORIO = "recordatorio"
    ALERTA_REP = "alerta_rep"  # to the company's own billing people, not to a customer


KIND_ROLE = {MailKind.REP: ContactRole.PAGOS, MailKind.ESTADO_CUENTA: ContactRole.COBRANZA,
             MailKind.CARTA: ContactRole.COBRANZA, MailKind.RECORDATORIO: ContactRole.COBRANZA}

KIND_LABELS = {MailKind.REP: "REP", MailKind.ESTADO_CUENTA: "Estado de cuenta", MailKind.CARTA: "Carta de cobranza",
               MailKind.RECORDATORIO: "Recordatorio de pago", MailKind.ALERTA_REP: "Alerta de plazo de REP"}

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_RE = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,63}}$")


def parse_role(value: str | None) -> ContactRole:
    text = (value or "ambos").strip().lower()
    try:
        return ContactRole(text)
    except ValueError:
        raise ValidationError(f"Rol de contacto inválido «{value}»: use pagos, cobranza o ambos.",
                              code="CONTACTO_ROL_INVALIDO") from None


def normalize_email(value: str | None) -> str:
    """The address with its domain lower-cased; ``CORREO_INVALIDO`` when it is not one address."""
    text = (value or "").strip()
    if len(text) > 254 or not _EMAIL_RE.match(text) or len(text.split("@", 1)[0]) > 64:
        raise ValidationError(f"El correo «{text[:80]}» no es una dirección válida (nombre@dominio.mx).",
                              code="CORREO_INVALIDO")
    local, domain = text.split("@", 1)
    return f"{local}@{domain.lower()}"


def header_text(value: str | None, limit: int = 200) -> str:
    """A name or subject safe for one header: control characters (CR, LF, ...) become spaces."""
    text = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in (value or ""))
    return " ".join(text.split())[:limit]


def parse_email_list(text: str | None) -> list[str]:
    """Comma- or semicolon-separated addresses, each checked; duplicates dropped."""
    out: list[str] = []
    for part in re.split(r"[,;\s]+", text or ""):
        if part:
            email = normalize_email(part)
            if email not in out:
                out.append(email)
    return out


@dataclass(frozen=True)
class Template:
    subject: str
    body: str


PLACEHOLDERS: Mapping[MailKind, frozenset[str]] = {
    MailKind.REP: frozenset({"cliente", "empresa", "serie", "folio", "uuid", "contacto", "enlace"}),
    MailKind.ESTADO_CUENTA: frozenset({"cliente", "empresa", "fecha", "contacto", "enlace"}),
    MailKind.CARTA: frozenset({"cliente", "empresa", "fecha", "contacto", "enlace"}),
    MailKind.RECORDATORIO: frozenset({"cliente", "empresa", "documentos", "vencimiento", "contacto", "enlace"}),
    MailKind.ALERTA_REP: frozenset({"empresa", "fecha_limite", "pagos", "cantidad"}),
}

DEFAULT_TEMPLATES: Mapping[MailKind, Template] = {
    MailKind.REP: Template(
        "Complemento de pago {serie}-{folio} de {empresa}",
        "Estimado(a) {contacto}:\n\nLe enviamos el comprobante de recepción de pagos (REP) {serie}-{folio}, "
        "folio fiscal {uuid}, emitido por {empresa} a {cliente}. Adjuntamos el XML y su representación "
        "impresa en PDF.\n\nPuede consultar sus documentos, su estado de cuenta y todos sus REP en:\n{enlace}\n\n"
        "Atentamente,\n{empresa}\n"),
    MailKind.ESTADO_CUENTA: Template(
        "Estado de cuenta al {fecha} - {empresa}",
        "Estimado(a) {contacto}:\n\nAdjuntamos el estado de cuenta de {cliente} al {fecha}.\n\n"
        "Puede consultarlo en línea en:\n{enlace}\n\nAtentamente,\n{empresa}\n"),
    MailKind.CARTA: Template(
        "Aviso de cobranza - {empresa}",
        "Estimado(a) {contacto}:\n\nAdjuntamos una comunicación de {empresa} para {cliente} con fecha {fecha}.\n\n"
        "Puede consultar sus documentos pendientes en:\n{enlace}\n\nAtentamente,\n{empresa}\n"),
    MailKind.RECORDATORIO: Template(
        "Recordatorio: vencimiento el {vencimiento} - {empresa}",
        "Estimado(a) {contacto}:\n\nLe recordamos que el {vencimiento} vencen los siguientes documentos de "
        "{cliente}:\n\n{documentos}\n\nSi ya realizó el pago, le agradecemos y le pedimos omitir este aviso. "
        "Consulte su estado de cuenta en:\n{enlace}\n\nAtentamente,\n{empresa}\n"),
    MailKind.ALERTA_REP: Template(
        "Alerta: {cantidad} pago(s) de {empresa} sin REP antes del {fecha_limite}",
        "Los siguientes pagos aún no tienen complemento de pago y el plazo vence el {fecha_limite}:\n\n{pagos}\n\n"
        "Emítalos con «cobranza rep issue --all-pending» o desde la página de REP.\n"),
}

_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")


def unknown_placeholders(text: str, allowed: Iterable[str]) -> list[str]:
    allowed = set(allowed)
    return sorted({m for m in _PLACEHOLDER_RE.findall(text) if m not in allowed})


def check_template(kind: MailKind, subject: str, body: str) -> Template:
    """A template to save: non-empty, one-line subject, only this kind's placeholders."""
    subject = header_text(subject, 300)
    if not subject or not body.strip():
        raise ValidationError("La plantilla necesita asunto y cuerpo.", code="PLANTILLA_VACIA")
    unknown = unknown_placeholders(subject + body, PLACEHOLDERS[kind])
    if unknown:
        raise ValidationError(
            f"Campos desconocidos en la plantilla: {', '.join('{' + u + '}' for u in unknown)}. Disponibles: "
            f"{', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS[kind]))}.", code="PLANTILLA_CAMPO_DESCONOCIDO")
    return Template(subject, body)


def fill(text: str, values: Mapping[str, str], *, keep: Iterable[str] = ()) -> str:
    """``text`` with each ``{name}`` replaced; names in ``keep`` (``enlace``, filled at delivery) stay."""
    kept = set(keep)

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in kept:
            return match.group(0)
        return values.get(name, match.group(0))

    return _PLACEHOLDER_RE.sub(sub, text)


def retry_delay_seconds(attempts: int, base: int = 60, cap: int = 3600) -> int:
    """Seconds before attempt ``attempts + 1`` after a temporary error: base, 2x, 4x, ... up to ``cap``."""
    return int(min(cap, base * 2 ** max(0, attempts - 1)))


__all__ = ["DEFAULT_TEMPLATES", "KIND_LABELS", "PLACEHOLDERS", "ContactRole", "MailKind", "Template",
           "check_template", "fill", "header_text", "normalize_email", "parse_email_list", "parse_role",
           "retry_delay_seconds", "unknown_placeholders"]
