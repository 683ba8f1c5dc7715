"""A loopback HTTP server for fake PACs, with the failures the adapters must survive.

``http.server`` in a thread on 127.0.0.1, port 0. A fake subclasses :class:`FakePac`
and implements ``handle``; the server records every request and can:

- ``drop_after = {"stamp"}``: do the work of the named operations, then close the
  connection without answering (the exactly-once scenario);
- ``hang = 2.0``: sleep before answering anything (the timeout scenario);
- ``malformed = True``: answer every request with garbage.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "text/xml; charset=utf-8"
    operation: str = ""  # which operation answered, for drop_after


@dataclass
class FakePac:
    drop_after: set[str] = field(default_factory=set)
    hang: float = 0.0
    malformed: bool = False
    requests: list[Recorded] = field(default_factory=list)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        raise NotImplementedError

    # --- server lifecycle -----------------------------------------------------------

    def start(self) -> FakePac:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append(Recorded(self.command, self.path, headers, body))
                if fake.hang:
                    time.sleep(fake.hang)
                reply = fake.handle(self.command, self.path, headers, body)
                if reply.operation in fake.drop_after:
                    fake.drop_after.discard(reply.operation)
                    # The work is done; the client never hears about it.
                    self.close_connection = True
                    return
                payload = b"<<<not what you expected" if fake.malformed else reply.body
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)
                self.close_connection = True

            do_GET = _serve
            do_POST = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakePac:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def free_port_url() -> str:
    """A loopback URL nobody listens on (bind, read the port, close)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
