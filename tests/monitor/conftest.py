"""Wiring of the monitor tests: stores on SQLite and on the real PostgreSQL, client settings
for a sandbox (SIASN and SIAPP NV), and a tiny SMTP sink on loopback."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from siapp_sandbox.testing import RunningSandbox
from siapp_siasn.clients.config import SiappConfig, SiasnConfig
from siapp_siasn.store import Store
from tests.flows.conftest import CLIENT_DEFAULTS, HASH_KEY, SANDBOX_CREDENTIALS


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store: a SQLite file, or a fresh database on the real PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/store.sqlite"
    else:
        url = request.getfixturevalue("postgres_db_url")
    s = Store(url, hash_key=HASH_KEY)
    s.migrate()
    try:
        yield s
    finally:
        s.close()


def siasn_config(sb: RunningSandbox, **overrides: Any) -> SiasnConfig:
    return SiasnConfig(
        base_url=sb.siasn_url, **{**SANDBOX_CREDENTIALS, **CLIENT_DEFAULTS, **overrides}
    )


def siapp_config(sb: RunningSandbox, **overrides: Any) -> SiappConfig:
    creds = {"client_id": "siapp-hub", "client_secret": "sandbox-secret"}
    return SiappConfig(base_url=sb.siapp_url, **{**creds, **CLIENT_DEFAULTS, **overrides})


class SmtpSink:
    """A minimal SMTP server on 127.0.0.1 (HELO/EHLO, MAIL, RCPT, DATA, QUIT), in a thread:
    what the notifier sends arrives in :attr:`messages` as ``(envelope recipients, Message)``."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        say("220 sink ready")
        rcpt: list[str] = []
        while True:
            raw = await reader.readline()
            if not raw:
                break
            cmd = raw.decode(errors="replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                say("250 sink")
            elif verb == "MAIL":
                rcpt = []
                say("250 ok")
            elif verb == "RCPT":
                rcpt.append(cmd.split(":", 1)[1].strip().strip("<>"))
                say("250 ok")
            elif verb == "DATA":
                say("354 end with .")
                lines = []
                while (line := await reader.readline()) not in (b".\r\n", b".\n", b""):
                    lines.append(line[1:] if line.startswith(b"..") else line)
                mail = message_from_bytes(b"".join(lines), policy=policy.default)
                self.messages.append((rcpt, mail))  # type: ignore[arg-type]
                say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                await writer.drain()
                break
            else:
                say("250 ok")
            await writer.drain()
        writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._session, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    def __enter__(self) -> SmtpSink:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink
