"""SW Sapien (SmarterWeb) adapter (REST/JSON): stamp v4, recover, cancel, status.

Wire protocol (SW's public services API):

- ``POST /v2/security/authenticate`` with ``{"user", "password"}`` ->
  ``{"status": "success", "data": {"token", "expires_in"}}`` (``expires_in`` is a Unix
  time; tokens last about two hours). A fixed account token can be configured instead.
- ``POST /v4/cfdi33/stamp/v4``: multipart form with the signed CFDI in the ``xml`` part,
  ``Authorization: Bearer <token>`` and ``customid: <idempotency key>`` (at most 100
  characters). Success: ``data.cfdi``, ``data.uuid``, ``data.fechaTimbrado``,
  ``data.noCertificadoSAT``... Errors: ``{"status": "error", "message": "CFDI40102 -
  ...", "messageDetail": ...}``. A CFDI already stamped (same Sello or same customid)
  answers ``307. El comprobante contiene un timbre previo.`` **with the earlier stamp in
  ``data``** -- that is SW's recovery path, used by :meth:`SwPac.recover`.
- ``POST /cfdi33/cancel/{rfc}/{uuid}/{motivo}[/{folioSustitucion}]`` (CSD stored in the
  SW account) or ``POST /cfdi33/cancel/csd`` with ``b64Cer``/``b64Key``/``password``;
  ``data.acuse`` and ``data.uuid = {UUID: "201"}``.
- Status: SW's stamping API has no status call, so the SAT's ConsultaCFDIService is
  asked (:mod:`cfdi_cobranza.pac.sat_status`).

Fixes over satcfdi's ``SWSapien`` (which we cannot wrap: it needs ``requests``): the
user/password login read ``token`` at the top level of the reply instead of under
``data``, never initialised the cached token (AttributeError on first use) and built
``//security/authenticate``; there were no timeouts, and a 307 with data was an error
instead of a recovered stamp.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from cfdi_cobranza.errors import PacError
from cfdi_cobranza.pac import sat_status
from cfdi_cobranza.pac.base import (
    PAC_AUTENTICACION,
    PAC_NO_DISPONIBLE,
    PAC_SIN_RESPUESTA,
    CancelRequest,
    CancelResult,
    SatStatus,
    StampRequest,
    StampResult,
    after_sending,
    invalid_reply,
    rejected,
    split_code,
    stamp_result_from_xml,
)
from cfdi_cobranza.pac.transport import (
    AmbiguousError,
    HttpResponse,
    HttpTransport,
    NotSentError,
)

log = logging.getLogger(__name__)

HOSTS = {
    "test": "https://services.test.sw.com.mx",
    "production": "https://services.sw.com.mx",
}
LABEL = "SW Sapien"
CODE_TIMBRE_PREVIO = "307"
_TOKEN_MARGIN = 120  # seconds: renew before SW's expiry, not after a refused call


class _Unreadable(Exception):
    pass


class SwPac:
    """SW Sapien; give ``token`` or ``user`` + ``password``. ``base_url`` overrides the host."""

    name = "sw"
    is_sandbox = False

    def __init__(
        self,
        *,
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
        environment: str = "test",
        base_url: str | None = None,
        sat_status_url: str | None = None,
        transport: HttpTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if environment not in HOSTS:
            raise ValueError(f"unknown SW environment {environment!r}")
        if not token and not (user and password):
            raise ValueError("SW needs a token or user and password")
        self.environment = environment
        self.base_url = (base_url or HOSTS[environment]).rstrip("/")
        self.sat_status_url = sat_status_url or sat_status.URLS[environment]
        self.transport = transport or HttpTransport()
        self._fixed_token = token
        self._user = user
        self._password = password
        self._clock = clock
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the credentials
        return f"SwPac(environment={self.environment!r}, base_url={self.base_url!r})"

    # --- authentication -------------------------------------------------------------

    def _bearer(self, *, renew: bool = False) -> str:
        if self._fixed_token:
            return self._fixed_token
        with self._lock:
            if renew or self._token is None or self._clock() >= self._token_expires - _TOKEN_MARGIN:
                self._token, self._token_expires = self._authenticate()
            return self._token

    def _authenticate(self) -> tuple[str, float]:
        body = json.dumps({"user": self._user, "password": self._password}).encode("utf-8")
        try:
            response = self._send("POST", "/v2/security/authenticate", body, {"Content-Type": "application/json"})
        except AmbiguousError as exc:
            # Logging in has no side effect; just report it.
            raise self._no_answer() from exc
        doc = self._json(response)
        if doc.get("status") != "success":
            code, message = split_code(str(doc.get("message") or "credenciales rechazadas"))
            raise PacError(
                f"El PAC {LABEL} rechazó el usuario o la contraseña: {message}",
                code=code or PAC_AUTENTICACION,
                pac=LABEL,
            )
        data = doc.get("data")
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise invalid_reply(LABEL, "autenticación sin token")
        expires = data.get("expires_in") if isinstance(data, dict) else None
        try:
            expires_at = float(expires) if expires is not None else self._clock() + 3600
        except (TypeError, ValueError):
            expires_at = self._clock() + 3600
        return token, expires_at

    def _authorized(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> HttpResponse:
        response = self._send(method, path, body, {**headers, "Authorization": f"Bearer {self._bearer()}"})
        if response.status == 401 and not self._fixed_token:
            # An expired or revoked session token: the call was refused before any work.
            response = self._send(
                method, path, body, {**headers, "Authorization": f"Bearer {self._bearer(renew=True)}"}
            )
        return response

    # --- stamping -----------------------------------------------------------------------

    def stamp(self, request: StampRequest) -> StampResult:
        log.info("sw stamp key=%s", request.idempotency_key)
        try:
            response = self._stamp_call(request)
            return self._stamp_outcome(response)
        except (AmbiguousError, _Unreadable) as exc:
            log.warning("sw stamp ambiguous (%s); recovering key=%s", exc, request.idempotency_key)
        with after_sending(self._no_answer):
            return self._recover_or_raise(request)

    def recover(self, request: StampRequest) -> StampResult | None:
        """Send the same bytes with the same customid: SW answers 307 with the earlier stamp.

        If SW never stamped them, this stamps them now (still exactly once) and returns
        the new stamp with ``already_stamped=False``; SW offers no read-only lookup by
        customid, and a lookup by UUID needs the UUID we are missing.
        """
        return self._recover_or_raise(request)

    def _recover_or_raise(self, request: StampRequest) -> StampResult:
        try:
            response = self._stamp_call(request)
            return self._stamp_outcome(response)
        except AmbiguousError as exc:
            raise self._no_answer() from exc
        except _Unreadable as exc:
            raise invalid_reply(LABEL, str(exc)) from exc

    def _stamp_call(self, request: StampRequest) -> HttpResponse:
        boundary = "----cobranza" + secrets.token_hex(12)
        body = b"".join(
            [
                f"--{boundary}\r\n".encode("ascii"),
                b'Content-Disposition: form-data; name="xml"; filename="xml"\r\n',
                b"Content-Type: text/xml\r\n\r\n",
                request.xml,
                f"\r\n--{boundary}--\r\n".encode("ascii"),
            ]
        )
        return self._authorized(
            "POST",
            "/v4/cfdi33/stamp/v4",
            body,
            {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "customid": request.idempotency_key,
            },
        )

    def _stamp_outcome(self, response: HttpResponse) -> StampResult:
        doc = self._json(response)
        data = doc.get("data")
        if doc.get("status") == "success":
            return self._result(data, already_stamped=False)
        code, message = split_code(str(doc.get("message") or ""))
        if code == CODE_TIMBRE_PREVIO and isinstance(data, dict) and data.get("cfdi"):
            return self._result(data, already_stamped=True)
        if not message and not code:
            raise _Unreadable(f"HTTP {response.status} without status/message")
        detail = doc.get("messageDetail")
        raise rejected(LABEL, code, message, detalle=detail if isinstance(detail, str) else "")

    def _result(self, data: Any, *, already_stamped: bool) -> StampResult:
        cfdi = data.get("cfdi") if isinstance(data, dict) else None
        if not isinstance(cfdi, str) or not cfdi:
            raise _Unreadable("success without data.cfdi")
        try:
            return stamp_result_from_xml(cfdi.encode("utf-8"), already_stamped=already_stamped)
        except ValueError as exc:
            raise _Unreadable(f"data.cfdi is not a stamped CFDI: {exc}") from exc

    # --- cancelling and status ------------------------------------------------------------

    def cancel(self, request: CancelRequest) -> CancelResult:
        if request.csd is not None:
            payload: dict[str, str] = {
                "uuid": request.uuid.upper(),
                "password": request.csd.password,
                "rfc": request.rfc_emisor,
                "motivo": request.motivo,
                "b64Cer": base64.b64encode(request.csd.cer).decode("ascii"),
                "b64Key": base64.b64encode(request.csd.key).decode("ascii"),
            }
            if request.folio_sustitucion:
                payload["foliosustitucion"] = request.folio_sustitucion.upper()
            path, body = "/cfdi33/cancel/csd", json.dumps(payload).encode("utf-8")
            headers = {"Content-Type": "application/json"}
        else:
            parts = [request.rfc_emisor, request.uuid.upper(), request.motivo]
            if request.folio_sustitucion:
                parts.append(request.folio_sustitucion.upper())
            path = "/cfdi33/cancel/" + "/".join(quote(p, safe="") for p in parts)
            body, headers = b"", {"Content-Type": "application/json"}
        try:
            response = self._authorized("POST", path, body, headers)
            doc = self._json(response)
        except AmbiguousError as exc:
            # Repeating a cancellation is harmless (the SAT answers 202); let the user retry.
            raise self._no_answer() from exc
        except _Unreadable as exc:
            raise invalid_reply(LABEL, str(exc)) from exc
        if doc.get("status") != "success":
            code, message = split_code(str(doc.get("message") or "cancelación rechazada"))
            raise rejected(LABEL, code, message)
        data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
        assert isinstance(data, dict)
        acuse = data.get("acuse")
        uuids = data.get("uuid")
        code = None
        if isinstance(uuids, dict):
            for key, value in uuids.items():
                if str(key).upper() == request.uuid.upper():
                    code = str(value)
        if code is None:
            raise invalid_reply(LABEL, "cancelación sin estatus del UUID")
        acuse_bytes = acuse.encode("utf-8") if isinstance(acuse, str) and acuse else None
        if code not in ("201", "202"):
            raise rejected(LABEL, code, "La solicitud de cancelación fue rechazada por el SAT")
        # 201/202 only say the SAT took the request; ask whether it is already cancelled
        # or waits for the receiver's acceptance.
        try:
            sat = self.status(request.uuid, request.rfc_emisor, request.rfc_receptor, request.total)
        except PacError as exc:
            log.warning("sw cancel: status lookup failed (%s); reporting en_proceso", exc.code)
            return CancelResult("en_proceso", acuse_bytes, code, "Solicitud de cancelación recibida")
        if sat.estado.lower() == "cancelado":
            return CancelResult("cancelado", acuse_bytes, code, sat.estatus_cancelacion)
        if sat.estatus_cancelacion and "rechaz" in sat.estatus_cancelacion.lower():
            return CancelResult("rechazado", acuse_bytes, code, sat.estatus_cancelacion)
        return CancelResult("en_proceso", acuse_bytes, code, sat.estatus_cancelacion)

    def status(self, uuid: str, rfc_emisor: str, rfc_receptor: str, total: str) -> SatStatus:
        return sat_status.consulta(
            self.transport, self.sat_status_url, uuid, rfc_emisor, rfc_receptor, total
        )

    # --- plumbing ---------------------------------------------------------------------------

    def _send(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> HttpResponse:
        try:
            return self.transport.request(
                method, self.base_url + path, body=body, headers={"Cache-Control": "no-cache", **headers}
            )
        except NotSentError as exc:
            raise PacError(
                f"No se pudo conectar con el PAC {LABEL}; la solicitud no se envió. "
                "Intente más tarde.",
                code=PAC_NO_DISPONIBLE,
                pac=LABEL,
            ) from exc

    def _json(self, response: HttpResponse) -> dict[str, Any]:
        try:
            doc = json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            if response.status >= 500:
                # A gateway's error page: the service behind it may have done the work.
                raise AmbiguousError(f"HTTP {response.status}", timed_out=False) from exc
            raise _Unreadable(f"HTTP {response.status}: not JSON") from exc
        if not isinstance(doc, dict):
            raise _Unreadable(f"HTTP {response.status}: JSON is not an object")
        return doc

    def _no_answer(self) -> PacError:
        return PacError(
            f"El PAC {LABEL} no respondió a tiempo y no se pudo confirmar el resultado. "
            "Reintente más tarde: con la misma solicitud se recupera el CFDI si ya se timbró, "
            "sin timbrarlo dos veces.",
            code=PAC_SIN_RESPUESTA,
            pac=LABEL,
        )

