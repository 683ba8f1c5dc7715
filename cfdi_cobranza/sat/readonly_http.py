"""Read-only HTTP calls to the SAT and Banxico, with timeouts and retries on transient errors.

Unlike a stamp, a status query, a list download or a rate query changes nothing at the
other end, so a timeout, a dropped connection, HTTP 429 or a 5xx is retried with
exponential backoff (the PAC transport retries only what was never sent). A 4xx other
than 429 is the service refusing the request: never retried. The caller turns the
final failure into a Spanish :class:`~cfdi_cobranza.errors.SatServiceError`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cfdi_cobranza.errors import SatServiceError
from cfdi_cobranza.pac.transport import (
    AmbiguousError,
    HttpResponse,
    HttpTransport,
    NotSentError,
    RetryPolicy,
    Timeouts,
)

log = logging.getLogger(__name__)

SAT_NO_DISPONIBLE = "SAT_NO_DISPONIBLE"  # could not connect
SAT_SIN_RESPUESTA = "SAT_SIN_RESPUESTA"  # connected, no (complete) answer in time
SAT_ERROR_HTTP = "SAT_ERROR_HTTP"  # an HTTP error status, after the retries
SAT_RESPUESTA_INVALIDA = "SAT_RESPUESTA_INVALIDA"  # an answer we cannot read

TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class ReadPolicy:
    attempts: int = 4  # counting the first
    backoff: float = 1.0  # seconds before the second attempt; doubles each time
    max_backoff: float = 16.0
    timeouts: Timeouts = field(default_factory=lambda: Timeouts(connect=10.0, read=30.0))


def transport_for(policy: ReadPolicy) -> HttpTransport:
    """A transport that tries once: the retries (of every transient kind) are made here."""
    return HttpTransport(timeouts=policy.timeouts, retry=RetryPolicy(attempts=1))


def call(
    transport: HttpTransport,
    method: str,
    url: str,
    *,
    label: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    policy: ReadPolicy | None = None,
    sleep: Callable[[float], None] | None = None,
) -> HttpResponse:
    """The first non-transient answer (any status but 429/5xx); ``SatServiceError`` when
    every attempt failed. ``label`` names the service in the Spanish message."""
    policy = policy or ReadPolicy()
    pause = sleep or time.sleep
    delay = policy.backoff
    attempts = max(1, policy.attempts)
    error: SatServiceError | None = None
    for attempt in range(1, attempts + 1):
        try:
            response = transport.request(method, url, body=body, headers=headers)
        except NotSentError as exc:
            error = SatServiceError(f"No se pudo conectar con {label}.", code=SAT_NO_DISPONIBLE,
                                    intentos=attempt)
            error.__cause__ = exc
        except AmbiguousError as exc:
            text = "no respondió a tiempo" if exc.timed_out else "cortó la conexión sin responder"
            error = SatServiceError(f"{label[:1].upper()}{label[1:]} {text}.", code=SAT_SIN_RESPUESTA,
                                    intentos=attempt)
            error.__cause__ = exc
        else:
            if response.status not in TRANSIENT_STATUS:
                return response
            error = SatServiceError(
                f"{label[:1].upper()}{label[1:]} respondió con un error HTTP {response.status}.",
                code=SAT_ERROR_HTTP, codigo_servicio=str(response.status), intentos=attempt)
        if attempt < attempts:
            log.warning("%s: attempt %d failed (%s); retrying in %.1fs", label, attempt, error.code, delay)
            pause(delay)
            delay = min(delay * 2, policy.max_backoff)
    assert error is not None
    raise error
