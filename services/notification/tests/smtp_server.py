"""A real SMTP server (aiosmtpd) on a free loopback port, for tests of anything that sends e-mail.

    async with smtp_server() as smtp:
        smtp.fail_next("451 4.3.0 try later", times=2)   # the next two messages are refused at RCPT
        ...
        smtp.messages[0].message["Subject"]

A fixture is three lines (see test_email.py); move it into a conftest.py once a second test module needs it.
"""

import asyncio
import contextlib
import email
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from typing import Literal

from aiosmtpd.controller import Controller

Stage = Literal["RCPT", "DATA"]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage  # parsed with the modern policy: headers and bodies come back decoded

    def header(self, name: str) -> str:
        """A header decoded as RFC 2047 §6.2 says and mail clients do: the space between two adjacent encoded
        words is dropped. Python 3.11's modern parser keeps it inside address display names (CPython
        gh-128110), so `message["From"]` can read "công t ỉnh" where a client shows "công tỉnh"."""
        raw = email.message_from_bytes(self.raw, policy=policy.compat32)[name]
        return str(make_header(decode_header(raw))) if raw is not None else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RecordingHandler:
    """Records accepted messages; refuses the next N with a chosen reply at RCPT or DATA.

    aiosmtpd calls it on the controller's own thread, hence the lock."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self._failures: list[tuple[Stage, str]] = []
        self._lock = threading.Lock()

    def fail_next(self, reply: str, times: int = 1, at: Stage = "RCPT") -> None:
        """E.g. "550 5.1.1 no such user" (at RCPT, as real relays do) or "451 4.3.0 try later" (at DATA)."""
        with self._lock:
            self._failures.extend([(at, reply)] * times)

    def _failure(self, stage: Stage) -> str | None:
        with self._lock:
            if self._failures and self._failures[0][0] == stage:
                return self._failures.pop(0)[1]
        return None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if reply := self._failure("RCPT"):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if reply := self._failure("DATA"):
            return reply
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=policy.default)
        with self._lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, parsed))
        return "250 2.0.0 Message accepted"


class SmtpServer:
    def __init__(self, handler: RecordingHandler, host: str, port: int) -> None:
        self.handler = handler
        self.host = host
        self.port = port

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def fail_next(self, reply: str, times: int = 1, at: Stage = "RCPT") -> None:
        self.handler.fail_next(reply, times, at)


@contextlib.asynccontextmanager
async def smtp_server() -> AsyncIterator[SmtpServer]:
    handler = RecordingHandler()
    # The controller runs its own event loop on a thread; starting it blocks briefly, so off our loop.
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    await asyncio.to_thread(controller.start)
    try:
        yield SmtpServer(handler, controller.hostname, controller.port)
    finally:
        await asyncio.to_thread(controller.stop)
