"""A real SMTP server on loopback (aiosmtpd) for the email tests, with the failures delivery must survive.

``with FakeSmtp() as smtp:`` listens on 127.0.0.1, a free port; ``smtp.url`` is the
``COBRANZA_SMTP_URL`` to use and ``smtp.messages`` what it accepted (envelope and the raw
bytes of DATA). Failure modes, each consumed once per connection that meets it:

- ``refuse_rcpt = "550 5.1.1 ..."``: answer RCPT with that line (a permanent or temporary refusal);
- ``tempfail_data = n``: answer DATA with ``451`` the next ``n`` times;
- ``drop_data = n``: close the connection without answering DATA the next ``n`` times
  (nothing kept);
- ``stop()`` then nothing listens on the port: the connection is refused.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def parsed(self) -> EmailMessage:
        msg = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class _Handler:
    owner: FakeSmtp

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.owner.refuse_rcpt:
            return self.owner.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.owner.data_attempts += 1
        if self.owner.drop_data > 0:
            self.owner.drop_data -= 1
            server.transport.abort()  # the connection drops before any answer to DATA
            return "451 nunca se envía"
        if self.owner.tempfail_data > 0:
            self.owner.tempfail_data -= 1
            return "451 4.3.0 Intente más tarde"
        self.owner.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 Aceptado"


@dataclass
class FakeSmtp:
    refuse_rcpt: str | None = None
    tempfail_data: int = 0
    drop_data: int = 0
    messages: list[Received] = field(default_factory=list)
    data_attempts: int = 0
    port: int = 0
    _controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=0"

    def start(self) -> FakeSmtp:
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> FakeSmtp:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
