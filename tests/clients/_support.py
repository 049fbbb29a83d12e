"""Loopback HTTP servers for the hook tests: real sockets, real HTTP, no mocked client.

``loopback(app_setup)`` runs an ``aiohttp.web`` app on 127.0.0.1 (optionally over TLS) in the
test's own event loop and records every request (arrival time, path, headers, in-flight
count), so tests can assert what actually went over the wire.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Hit:
    t: float  # time.monotonic() at arrival
    wall: float  # time.time() at arrival
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Recorder:
    hits: list[Hit] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    def paths(self, prefix: str = "") -> list[Hit]:
        return [h for h in self.hits if h.path.startswith(prefix)]


@dataclass
class Server:
    url: str
    rec: Recorder
    app: web.Application
    state: dict[str, Any]


@asynccontextmanager
async def loopback(
    routes: Callable[[web.Application, dict[str, Any]], None],
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[Server]:
    """Start an aiohttp app on a free loopback port; ``routes(app, state)`` adds handlers."""
    rec = Recorder()
    state: dict[str, Any] = {}

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        rec.hits.append(
            Hit(
                time.monotonic(),
                time.time(),
                request.method,
                request.path,
                dict(request.headers),
            )
        )
        rec.in_flight += 1
        rec.max_in_flight = max(rec.max_in_flight, rec.in_flight)
        try:
            return await handler(request)
        finally:
            rec.in_flight -= 1

    app = web.Application(middlewares=[record])
    routes(app, state)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "https" if ssl_context else "http"
    try:
        yield Server(f"{scheme}://127.0.0.1:{port}", rec, app, state)
    finally:
        await runner.cleanup()


@asynccontextmanager
async def raw_tcp(respond: Callable[[int], bytes]) -> AsyncIterator[tuple[str, list[int]]]:
    """A hand-written HTTP/1.1 server: ``respond(n)`` gives the raw bytes of the n-th
    response (0-based), after which the connection is closed. For malformed wire responses
    (a Content-Length longer than the body) that aiohttp.web refuses to produce."""
    count = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            n = count[0]
            count[0] += 1
            writer.write(respond(n))
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", count
    finally:
        server.close()
        await server.wait_closed()


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost; returns (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "siapp-siasn test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def max_in_window(times: list[float], window: float) -> int:
    """Largest number of ``times`` inside any half-open interval of length ``window``."""
    ts = sorted(times)
    best = 0
    j = 0
    for i in range(len(ts)):
        while ts[i] - ts[j] >= window:
            j += 1
        best = max(best, i - j + 1)
    return best
