"""HTTP transport shared by the PAC adapters: timeouts, retries and "was it sent?".

The one question that matters for exactly-once stamping is whether the PAC may have
received the request. The transport answers it by connecting first and sending only
on an open connection:

- a failure while connecting (refused, DNS, connect timeout) means nothing was sent,
  so the call is retried with exponential backoff and finally raises
  :class:`NotSentError`;
- a failure after the first byte was written (read timeout, connection reset or closed
  before a complete answer) may hide a request the PAC processed, so it is never
  retried here and raises :class:`AmbiguousError`; the adapter then recovers.

Only the standard library is used (``http.client``); ``requests`` is not a dependency.
Request and response bodies are never logged: they hold credentials and tokens.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


class TransportError(Exception):
    """Base of transport failures (developer text only; adapters make the PacError)."""


class NotSentError(TransportError):
    """The request never left: safe to retry or to report "PAC no disponible"."""


class AmbiguousError(TransportError):
    """The request was (possibly) delivered but no complete answer came back."""

    def __init__(self, message: str, *, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class AddressNotAllowedError(NotSentError):
    """The host resolved to an address the PAC may not use (internal, link-local...);
    nothing of the request was written."""


def _peer_address(conn: http.client.HTTPConnection) -> str | None:
    try:
        peer = conn.sock.getpeername() if conn.sock is not None else None
    except OSError:
        return None
    return str(peer[0]) if peer else None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class RetryPolicy:
    """Retries for :class:`NotSentError` only; ``attempts`` counts the first try."""

    attempts: int = 3
    backoff: float = 0.5  # seconds before the 2nd attempt; doubles each time
    max_backoff: float = 8.0


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 60.0  # a stamp may wait on the SAT's LCO checks at the PAC


class HttpTransport:
    """POST/GET with separate connect and read timeouts and pre-send retries."""

    def __init__(
        self,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        ssl_context: ssl.SSLContext | None = None,
        allow_address: Callable[[str], bool] | None = None,
    ) -> None:
        self.timeouts = timeouts or Timeouts()
        # Checked on the address the socket reached, before the request is written
        # (``cfdi_cobranza.pac.urls``: no internal addresses for a production PAC).
        self.allow_address = allow_address
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._ssl_context = ssl_context or ssl.create_default_context()

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        delay = self.retry.backoff
        last: NotSentError | None = None
        for attempt in range(1, max(1, self.retry.attempts) + 1):
            try:
                return self._once(method, url, body, headers or {})
            except NotSentError as exc:
                last = exc
                if attempt >= self.retry.attempts:
                    break
                log.warning(
                    "PAC not reachable (%s %s, attempt %d): %s; retrying in %.1fs",
                    method, _safe_url(url), attempt, exc, delay,
                )
                self._sleep(delay)
                delay = min(delay * 2, self.retry.max_backoff)
        assert last is not None
        raise last

    def _connection(self, url: str) -> tuple[http.client.HTTPConnection, str]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NotSentError(f"unsupported URL {_safe_url(url)!r}")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=self.timeouts.connect,
                context=self._ssl_context,
            )
        else:
            conn = http.client.HTTPConnection(
                parts.hostname, parts.port, timeout=self.timeouts.connect
            )
        return conn, path

    def _once(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> HttpResponse:
        conn, path = self._connection(url)
        try:
            try:
                conn.connect()
            except (OSError, http.client.HTTPException) as exc:
                # Refused, unreachable, DNS failure, connect timeout, TLS handshake:
                # the PAC has not seen a single byte of the request.
                raise NotSentError(f"{type(exc).__name__}: {exc}") from exc
            if self.allow_address is not None:
                peer = _peer_address(conn)
                if peer is None or not self.allow_address(peer):
                    raise AddressNotAllowedError(f"the PAC host resolved to a refused address ({peer})")
            if conn.sock is not None:
                conn.sock.settimeout(self.timeouts.read)
            try:
                conn.request(method, path, body=body, headers=dict(headers))
                resp = conn.getresponse()
                data = resp.read()
            except TimeoutError as exc:
                raise AmbiguousError(f"no answer within {self.timeouts.read}s", timed_out=True) from exc
            except (OSError, http.client.HTTPException) as exc:
                raise AmbiguousError(f"{type(exc).__name__}: {exc}", timed_out=False) from exc
            return HttpResponse(
                status=resp.status,
                headers={k.lower(): v for k, v in resp.getheaders()},
                body=data,
            )
        finally:
            conn.close()


def _safe_url(url: str) -> str:
    # SW puts RFC and UUID in the path but never secrets; drop query and userinfo anyway.
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
