"""HTTP for the SAT's SOAP services: connect/read timeouts, retries with backoff on
transient failures only, and bodies streamed to a file when they may be large.

Transient: the connection could not be opened (nothing was sent), the answer timed out
or broke off, or the server answered 5xx **without** a SOAP Fault (a gateway page, "503
Service Unavailable"). A 5xx carrying a SOAP Fault is the service's own answer and is
never retried. A request that is not idempotent (``idempotent=False``: asking for a new
download) is retried only when nothing was sent, or the server answered a bare 5xx.

``requests`` is not used (satcfdi's client has no timeouts); ``http.client`` is enough.
Bodies are never logged: they carry the e.firma's certificate and the access token.
"""

from __future__ import annotations

import http.client
import logging
import shutil
import ssl
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MAX_IN_MEMORY = 8 * 1024 * 1024  # answers read into memory (auth, request, verify) are small


class HttpFailure(Exception):
    """Transport failure after the retries (developer text; the client makes the Spanish error)."""

    def __init__(self, message: str, *, kind: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # no_conecta | sin_respuesta | http
        self.status = status


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 120.0  # a package of 200,000 CFDI takes a while to start


@dataclass(frozen=True)
class Retry:
    attempts: int = 4  # counts the first try
    backoff: float = 1.0  # seconds before the 2nd attempt; doubles
    max_backoff: float = 30.0


@dataclass
class Answer:
    status: int
    body: IO[bytes]  # a spooled temporary file, at position 0; the caller closes it

    def read_all(self) -> bytes:
        self.body.seek(0)
        return self.body.read()


def _looks_like_fault(head: bytes) -> bool:
    return b"Fault" in head and b"Envelope" in head


class SoapHttp:
    def __init__(self, *, timeouts: Timeouts | None = None, retry: Retry | None = None,
                 sleep: Callable[[float], None] = time.sleep, ssl_context: ssl.SSLContext | None = None) -> None:
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or Retry()
        self._sleep = sleep
        self._ssl = ssl_context or ssl.create_default_context()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], *, idempotent: bool = True) -> Answer:
        """POST with retries; the answer body in a temporary file (spooled in memory while small)."""
        delay = self.retry.backoff
        attempts = max(1, self.retry.attempts)
        for attempt in range(1, attempts + 1):
            try:
                answer = self._once(url, body, headers)
            except HttpFailure as exc:
                retryable = exc.kind == "no_conecta" or idempotent
                if not retryable or attempt >= attempts:
                    raise
                log.warning("SAT %s: %s (attempt %d); retrying in %.1fs", _safe(url), exc, attempt, delay)
            else:
                if answer.status < 500:
                    return answer
                answer.body.seek(0)
                head = answer.body.read(4096)
                answer.body.seek(0)
                if _looks_like_fault(head) or attempt >= attempts:
                    return answer  # the service's own fault, or the last bare 5xx: the client reports it
                answer.body.close()
                log.warning("SAT %s: HTTP %d (attempt %d); retrying in %.1fs", _safe(url), answer.status, attempt, delay)
            self._sleep(delay)
            delay = min(delay * 2, self.retry.max_backoff)
        raise AssertionError("unreachable")

    def _once(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpFailure(f"unsupported URL {_safe(url)!r}", kind="no_conecta")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.timeouts.connect,
                                               context=self._ssl)
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeouts.connect)
        try:
            try:
                conn.connect()
            except (OSError, http.client.HTTPException) as exc:
                raise HttpFailure(f"{type(exc).__name__}: {exc}", kind="no_conecta") from exc
            if conn.sock is not None:
                conn.sock.settimeout(self.timeouts.read)
            sink = tempfile.SpooledTemporaryFile(max_size=MAX_IN_MEMORY)  # noqa: SIM115  (returned to the caller)
            try:
                conn.request("POST", path, body=body, headers=dict(headers))
                resp = conn.getresponse()
                shutil.copyfileobj(resp, sink, CHUNK)
                if resp.length not in (None, 0):
                    raise http.client.IncompleteRead(b"", resp.length)
            except TimeoutError as exc:
                sink.close()
                raise HttpFailure(f"no answer within {self.timeouts.read}s", kind="sin_respuesta") from exc
            except (OSError, http.client.HTTPException) as exc:
                sink.close()
                raise HttpFailure(f"{type(exc).__name__}: {exc}", kind="sin_respuesta") from exc
            sink.seek(0)
            return Answer(resp.status, sink)
        finally:
            conn.close()


def _safe(url: str) -> str:
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
