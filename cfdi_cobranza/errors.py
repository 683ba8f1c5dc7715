"""The one exception hierarchy of cfdi-cobranza.

Every error a user can cause carries a stable ``code`` (machine readable, never
renamed once published) and a Spanish ``message`` that is shown as is. The
developer-facing ``str()`` stays English-free of secrets. Adapters wrap
third-party exceptions with ``raise CobranzaError(...) from exc``.
"""

from __future__ import annotations

from typing import Any


class CobranzaError(Exception):
    """Base of every error the application reports to a user."""

    code: str = "ERROR"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            data["details"] = {k: str(v) for k, v in self.details.items()}
        return data

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class ValidationError(CobranzaError):
    """Input that breaks a rule: a bad amount, date, catalog key or pattern."""

    code = "VALIDACION"


class NotFoundError(CobranzaError):
    """A referenced record (customer, document, payment) does not exist."""

    code = "NO_ENCONTRADO"


class ImportRefused(CobranzaError):
    """A CFDI file that cannot be taken into the ledger."""

    code = "IMPORTACION_RECHAZADA"


class ConflictError(CobranzaError):
    """The operation clashes with the stored state (over-application, live REP...)."""

    code = "CONFLICTO"


class ConfigurationError(CobranzaError):
    """Missing or wrong configuration (database URL, secret key, CSD, PAC)."""

    code = "CONFIGURACION"


class CertificateError(CobranzaError):
    """A CSD that cannot be used: wrong password, expired, not a CSD, other RFC."""

    code = "CSD_INVALIDO"


class PacError(CobranzaError):
    """The PAC refused, failed or answered something we cannot read."""

    code = "PAC_ERROR"


class StorageError(CobranzaError):
    """The database cannot be used now: disk full (``ALMACENAMIENTO_LLENO``), read-only
    (``BASE_SOLO_LECTURA``) or unreachable (``BASE_NO_DISPONIBLE``). Nothing was saved."""

    code = "BASE_NO_DISPONIBLE"


class SatServiceError(CobranzaError):
    """A SAT or Banxico service (CFDI status, 69-B list, SIE API) failed or refused;
    ``details['codigo_servicio']`` carries the service's own code when it gave one."""

    code = "SAT_ERROR"
