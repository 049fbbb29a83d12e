"""Run both sandbox apps (SIASN and SIAPP NV) in one process on two loopback ports.

One asyncio loop (uvloop when installed), two uvicorn servers (httptools when installed, access
log off) sharing one :class:`~siapp_sandbox.common.SandboxState`. Port 0 picks a free port; the
ready line printed to stdout carries the real URLs::

    siapp-sandbox ready siasn=http://127.0.0.1:8081 siapp=http://127.0.0.1:8082 pid=1234 ...

With ``tls=(certfile, keyfile)`` (PEM files; the CLI's ``--tls-cert``/``--tls-key``) both apps
serve HTTPS with that certificate (uvicorn's ``ssl_certfile``/``ssl_keyfile``) and the URLs are
``https://``. HTTP stays the default.

The SIAPP NV app comes from ``siapp_sandbox.siapp_app.create_app(state)`` when that module
exists; otherwise a bare app with only the ``/_sandbox`` controls is served on the SIAPP port.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import os
import signal
import ssl
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from . import siasn_app
from .common import Faults, SandboxState, install_sandbox, parse_faults
from .world import World

__all__ = [
    "READY_PREFIX",
    "SandboxServeError",
    "TlsFiles",
    "build_apps",
    "build_state",
    "run",
    "serve",
]

READY_PREFIX = "siapp-sandbox ready"

#: ``(certfile, keyfile)``: PEM server certificate (chain) and its unencrypted private key.
TlsFiles = tuple[str | Path, str | Path]


def build_state(
    employees: int = 3000,
    seed: int = 1,
    ivb_share: float = 0.08,
    faults: Faults | str | dict[str, Any] | None = None,
    day: int = 0,
) -> SandboxState:
    """A fresh world and state."""
    f = faults if isinstance(faults, Faults) else parse_faults(faults)
    return SandboxState(World(seed=seed, employees=employees, ivb_share=ivb_share, day=day), f)


def build_apps(state: SandboxState) -> tuple[FastAPI, FastAPI]:
    """(SIASN app, SIAPP NV app) over one shared state."""
    siasn = siasn_app.create_app(state)
    if importlib.util.find_spec(f"{__package__}.siapp_app") is not None:
        mod = importlib.import_module(f"{__package__}.siapp_app")
        siapp = mod.create_app(state)
    else:  # the SIAPP side is not there yet: controls only
        siapp = FastAPI(title="SIAPP NV sandbox (controls only)")
        install_sandbox(siapp, state, "siapp")
    return siasn, siapp


class SandboxServeError(RuntimeError):
    """A sandbox server could not start (e.g. the port is in use)."""


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to :func:`serve`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _config(app: FastAPI, host: str, port: int, tls: TlsFiles | None = None) -> uvicorn.Config:
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=http,
        loop="none",
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
        backlog=2048,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    try:
        # loads the certificate now, so a bad file is a clear error instead of a server task
        # dying before it listens
        config.load()
    except (OSError, ssl.SSLError) as exc:
        raise SandboxServeError(f"cannot load the TLS certificate or key: {exc}") from exc
    return config


def _bound_port(server: uvicorn.Server) -> int:
    for srv in server.servers:
        for sock in srv.sockets:
            return int(sock.getsockname()[1])
    raise RuntimeError("server has no socket")


async def serve(
    state: SandboxState,
    host: str = "127.0.0.1",
    siasn_port: int = 0,
    siapp_port: int = 0,
    on_ready: Callable[[str, str], None] | None = None,
    tls: TlsFiles | None = None,
) -> None:
    """Serve both apps until SIGINT/SIGTERM. ``on_ready(siasn_url, siapp_url)`` once listening.

    ``tls=(certfile, keyfile)`` serves HTTPS on both ports (one certificate for both).
    """
    siasn, siapp = build_apps(state)
    servers = [
        _Server(_config(siasn, host, siasn_port, tls)),
        _Server(_config(siapp, host, siapp_port, tls)),
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for s in servers:
            s.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)

    async def run_one(server: _Server) -> None:
        try:
            await server.serve()
        except SystemExit as exc:  # uvicorn exits when it cannot bind
            raise SandboxServeError(f"cannot listen on {host}:{server.config.port}") from exc

    tasks = [asyncio.create_task(run_one(s)) for s in servers]
    while not all(s.started for s in servers):
        if any(t.done() for t in tasks):
            stop()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            raise errors[0] if errors else SandboxServeError("a sandbox server stopped")
        await asyncio.sleep(0.01)
    scheme = "https" if tls else "http"
    urls = [f"{scheme}://{host}:{_bound_port(s)}" for s in servers]
    if on_ready is not None:
        on_ready(urls[0], urls[1])
    await asyncio.gather(*tasks)


def run(
    employees: int = 3000,
    seed: int = 1,
    ivb_share: float = 0.08,
    faults: str | None = None,
    host: str = "127.0.0.1",
    siasn_port: int = 0,
    siapp_port: int = 0,
    static_sso_token: str | None = None,
    tls: TlsFiles | None = None,
) -> None:
    """Build the world and serve it (blocking); prints the ready line (``https://`` URLs with
    ``tls=(certfile, keyfile)``)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    state = build_state(employees, seed, ivb_share, faults)
    if static_sso_token is not None:
        state.credentials.static_sso_token = static_sso_token or None

    def ready(siasn_url: str, siapp_url: str) -> None:
        print(
            f"{READY_PREFIX} siasn={siasn_url} siapp={siapp_url} pid={os.getpid()} "
            f"employees={employees} seed={seed} ivb_share={ivb_share} day={state.day}",
            flush=True,
        )

    coro = serve(state, host, siasn_port, siapp_port, ready, tls)
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)
