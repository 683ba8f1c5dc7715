"""The PAC interface: what the stamping and cancelling services ask of any PAC.

A PAC (Proveedor Autorizado de Certificación) adds the TimbreFiscalDigital to a signed
CFDI and relays cancellations to the SAT. Every adapter (the local sandbox, Finkok, SW
Sapien) implements :class:`Pac`; the services never see a wire protocol.

Errors: every failure is a :class:`~cfdi_cobranza.errors.PacError` whose ``code`` is
the PAC's own code when the PAC gave one ("CFDI40102", "301", "307", "205") so the
user sees the SAT wording, or one of the ``PAC_*`` codes below when the PAC could not
be reached or answered something unreadable.

Exactly once: a :class:`StampRequest` carries an idempotency key. The same key must
always travel with the same signed bytes (persist the signed XML before the first
attempt and resend exactly those bytes). After a timeout, a dropped connection or a
crash, calling :meth:`Pac.stamp` again with the same request, or :meth:`Pac.recover`,
returns the CFDI the PAC already stamped instead of a second stamp.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from cfdi_cobranza.cfdi.parser import parse_xml
from cfdi_cobranza.cfdi.reader import find_stamp_element
from cfdi_cobranza.errors import ImportRefused, PacError, ValidationError

log = logging.getLogger(__name__)

# Codes of our own, for failures that carry no PAC code. Stable: never rename.
# Nothing was sent: refused, DNS, connect timeout. Only for the first call of a stamp:
# once a request may have reached the PAC, a later failure to connect is no proof that
# nothing was stamped (``after_sending``).
PAC_NO_DISPONIBLE = "PAC_NO_DISPONIBLE"
PAC_SIN_RESPUESTA = "PAC_SIN_RESPUESTA"  # sent, but no (complete) answer arrived
PAC_RESPUESTA_INVALIDA = "PAC_RESPUESTA_INVALIDA"  # an answer we cannot read
PAC_AUTENTICACION = "PAC_AUTENTICACION"  # credentials refused
PAC_CSD_REQUERIDO = "PAC_CSD_REQUERIDO"  # the operation needs the issuer's CSD
PAC_LLAVE_REUTILIZADA = "PAC_LLAVE_REUTILIZADA"  # same idempotency key, other XML
PAC_XML_INVALIDO = "PAC_XML_INVALIDO"  # what we were asked to send is not a signed CFDI
PAC_NO_SOPORTADO = "PAC_NO_SOPORTADO"

MOTIVOS_CANCELACION = {
    "01": "Comprobante emitido con errores con relación",
    "02": "Comprobante emitido con errores sin relación",
    "03": "No se llevó a cabo la operación",
    "04": "Operación nominativa relacionada en una factura global",
}

_UUID_RE = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")

CancelStatus = Literal["cancelado", "en_proceso", "rechazado"]


@dataclass(frozen=True)
class StampRequest:
    """A signed CFDI to stamp and the key that makes retries safe."""

    xml: bytes = field(repr=False)
    idempotency_key: str

    def __post_init__(self) -> None:
        if not self.idempotency_key or len(self.idempotency_key) > 100:
            # SW's customid header admits at most 100 characters.
            raise ValidationError(
                "La llave de idempotencia del timbrado es obligatoria y de máximo 100 caracteres",
                code="PAC_LLAVE_INVALIDA",
            )


@dataclass(frozen=True)
class StampResult:
    uuid: str
    xml: bytes = field(repr=False)
    fecha_timbrado: datetime
    no_certificado_sat: str
    already_stamped: bool = False  # True when recovered instead of freshly stamped


@dataclass(frozen=True)
class CsdCredentials:
    """The issuer's CSD, for PAC operations that must be signed by the issuer.

    Finkok's ``cancel_signature`` needs a cancellation request signed with it; SW can
    use a CSD stored in the SW account instead (then leave it out).
    """

    cer: bytes = field(repr=False)
    key: bytes = field(repr=False)
    password: str = field(repr=False)


@dataclass(frozen=True)
class CancelRequest:
    uuid: str
    rfc_emisor: str
    rfc_receptor: str
    total: str  # as written in the CFDI's Total attribute
    motivo: str
    folio_sustitucion: str | None = None
    csd: CsdCredentials | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.motivo not in MOTIVOS_CANCELACION:
            raise ValidationError(
                f"Motivo de cancelación inválido: {self.motivo!r}; use 01, 02, 03 o 04",
                code="CANCELACION_MOTIVO_INVALIDO",
            )
        if not _UUID_RE.match(self.uuid):
            raise ValidationError(
                f"UUID inválido: {self.uuid!r}", code="CANCELACION_UUID_INVALIDO"
            )
        if self.motivo == "01":
            if not self.folio_sustitucion or not _UUID_RE.match(self.folio_sustitucion):
                raise ValidationError(
                    "El motivo 01 exige el folio fiscal (UUID) del CFDI que sustituye al "
                    "cancelado (FolioSustitucion); emita primero el CFDI de reemplazo con "
                    "TipoRelacion 04",
                    code="CANCELACION_FOLIO_SUSTITUCION",
                )
        elif self.folio_sustitucion:
            raise ValidationError(
                f"FolioSustitucion solo se admite con el motivo 01, no con {self.motivo}",
                code="CANCELACION_FOLIO_SUSTITUCION",
            )


@dataclass(frozen=True)
class CancelResult:
    status: CancelStatus
    acuse: bytes | None = field(default=None, repr=False)
    code: str | None = None  # the PAC's / SAT's code, e.g. "201"
    message: str | None = None


@dataclass(frozen=True)
class SatStatus:
    """The SAT's view of a CFDI (the ConsultaCFDI answer)."""

    estado: str  # "Vigente" | "Cancelado" | "No Encontrado"
    es_cancelable: str | None = None
    estatus_cancelacion: str | None = None
    codigo_estatus: str | None = None


@runtime_checkable
class Pac(Protocol):
    name: str
    is_sandbox: bool

    def stamp(self, request: StampRequest) -> StampResult:
        """Stamp ``request.xml``; after an ambiguous failure recover, never stamp twice."""
        ...

    def recover(self, request: StampRequest) -> StampResult | None:
        """The CFDI already stamped for ``request``, or None when the PAC has none."""
        ...

    def cancel(self, request: CancelRequest) -> CancelResult: ...

    def status(self, uuid: str, rfc_emisor: str, rfc_receptor: str, total: str) -> SatStatus: ...


# --- stamping a batch ---------------------------------------------------------------

# One request's outcome in a batch: the stamp, the PAC's error, or None when it was not
# sent because the PAC had become unreachable (PAC_NO_DISPONIBLE) before its turn.
StampOutcome = StampResult | PacError | None


def stamp_each(pac: Pac, requests: Sequence[StampRequest]) -> list[StampOutcome]:
    """Stamp ``requests`` in order, each error kept in its place.

    Once the PAC cannot be reached the rest are not sent (``None``): knocking 50 times
    on a PAC that is down only delays the answer, and those REPs can give their folios
    back because nothing of them left.
    """
    out: list[StampOutcome] = []
    down = False
    for request in requests:
        if down:
            out.append(None)
            continue
        try:
            out.append(pac.stamp(request))
        except PacError as exc:
            out.append(exc)
            down = exc.code == PAC_NO_DISPONIBLE
    return out


def stamp_all(pac: Pac, requests: Sequence[StampRequest]) -> list[StampOutcome]:
    """``stamp_each``, or the PAC's own ``stamp_batch`` when it has one (the sandbox: one
    durable commit for the whole batch), its failures as outcomes. Nothing of a batch
    that failed as a whole was committed, so its REPs stay in flight for ``retry``."""
    batch: Callable[[Sequence[StampRequest]], list[StampOutcome]] | None = getattr(pac, "stamp_batch", None)
    if batch is None or not requests:
        return stamp_each(pac, requests)
    try:
        return batch(requests)
    except PacError as exc:
        if exc.code == PAC_NO_DISPONIBLE:  # nothing was sent
            return [exc, *([None] * (len(requests) - 1))]
        return [exc] * len(requests)
    except Exception as exc:  # a bug or a full disk: what was stamped was not committed
        log.exception("batch stamp failed")
        return [PacError(f"El PAC falló: {exc}", code=PAC_SIN_RESPUESTA)] * len(requests)


# --- error helpers ------------------------------------------------------------------


@contextmanager
def after_sending(no_answer: Callable[[], PacError]) -> Iterator[None]:
    """Around the calls that recover a stamp request that may have reached the PAC: a
    PAC unreachable now says nothing about the first request, so "no disponible" (which
    lets the caller drop the REP and give its folio back) becomes ``no_answer()``."""
    try:
        yield
    except PacError as exc:
        if exc.code != PAC_NO_DISPONIBLE:
            raise
        raise no_answer() from exc

_CODE_IN_MESSAGE = re.compile(r"^\s*([A-Za-z]{0,10}\d{3,6})\s*(?:[-.:]|$)")


def split_code(text: str) -> tuple[str | None, str]:
    """Split "CFDI40102 - El resultado..." / "307. El comprobante..." into code and text."""
    match = _CODE_IN_MESSAGE.match(text)
    if not match:
        return None, text.strip()
    rest = text[match.end() :].strip()
    return match.group(1), rest or text.strip()


def rejected(pac_label: str, code: str | None, message: str, **details: object) -> PacError:
    """The PAC refused: keep its code and wording, framed in Spanish for the user."""
    shown = f"{code} - {message}" if code else message
    return PacError(
        f"El PAC {pac_label} rechazó la solicitud: {shown}",
        code=code or "PAC_ERROR",
        pac=pac_label,
        pac_message=message,
        **details,
    )


def invalid_reply(pac_label: str, what: str) -> PacError:
    return PacError(
        f"La respuesta del PAC {pac_label} no se pudo interpretar ({what}); no se sabe si "
        f"la operación se realizó. Reintente: con la misma llave se recupera el resultado.",
        code=PAC_RESPUESTA_INVALIDA,
        pac=pac_label,
    )


def stamp_result_from_xml(xml: bytes, *, already_stamped: bool) -> StampResult:
    """Read UUID, FechaTimbrado and NoCertificadoSAT from a stamped CFDI's bytes.

    Raises ``ValueError`` when ``xml`` is not a stamped CFDI; adapters turn it into
    ``PAC_RESPUESTA_INVALIDA``.
    """
    # Imported here: the parser pulls lxml and the CFDI namespaces, which the light
    # users of this module (config, the services' type hints) do not need.

    try:
        root = parse_xml(xml)
    except ImportRefused as exc:
        raise ValueError(f"not a CFDI: {exc.code}") from exc
    return stamp_result_from_tree(root, xml, already_stamped=already_stamped)


def stamp_result_from_tree(root: Any, xml: bytes, *, already_stamped: bool) -> StampResult:
    """``stamp_result_from_xml`` for ``xml`` already parsed as ``root`` (or the very tree
    that was serialised as ``xml``, as the sandbox has it after stamping)."""
    tfd = find_stamp_element(root)
    if tfd is None:
        raise ValueError("no TimbreFiscalDigital")
    uuid = (tfd.get("UUID") or "").upper()
    fecha = tfd.get("FechaTimbrado") or ""
    no_cert = tfd.get("NoCertificadoSAT") or ""
    if not _UUID_RE.match(uuid) or not no_cert:
        raise ValueError("incomplete TimbreFiscalDigital")
    try:
        fecha_dt = datetime.fromisoformat(fecha)
    except ValueError as exc:
        raise ValueError("bad FechaTimbrado") from exc
    return StampResult(
        uuid=uuid,
        xml=xml,
        fecha_timbrado=fecha_dt,
        no_certificado_sat=no_cert,
        already_stamped=already_stamped,
    )
