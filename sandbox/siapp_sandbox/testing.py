"""Start a sandbox in a subprocess for tests and benchmarks.

::

    from siapp_sandbox.testing import run_sandbox

    with run_sandbox(employees=3000, seed=7, faults="flaky") as sb:
        sb.siasn_url, sb.siapp_url, sb.pid
        g, s = sb.siasn_tokens()             # fresh gateway + SSO tokens
        sb.siasn_headers()                   # {"Authorization": "Bearer g", "Auth": "bearer s"}
        sb.advance(30)                       # -> {"day": 30, "date": "2026-02-04"}
        sb.set_faults({"error_5xx_rate": 0.1})   # PUT /_sandbox/faults (replaces all fields)
        sb.truth("asn/199001012015011001")   # GET /_sandbox/truth/<path> as JSON
        sb.stats(); sb.reset_stats(); sb.received("usulan"); sb.clock(); sb.faults()

The subprocess runs ``python -m siapp_sandbox serve`` on free loopback ports (port 0; the real
ports come from its ready line), so each sandbox has its own state and memory; the context
manager stops it (SIGTERM, then SIGKILL after a grace period).

``run_sandbox(tls=(certfile, keyfile))`` serves HTTPS (``sb.siasn_url`` is ``https://...``).
The handle's own control calls then trust exactly that server certificate (pinned, whatever
its host names or CA), so a test can give the sandbox a certificate the code under test must
reject and still drive the sandbox.
"""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from .server import READY_PREFIX

__all__ = ["RunningSandbox", "SandboxStartError", "pinned_context", "run_sandbox"]


class SandboxStartError(RuntimeError):
    """The sandbox subprocess did not become ready."""


def pinned_context(certfile: str | Path) -> ssl.SSLContext:
    """An SSL context that trusts exactly the certificate(s) in ``certfile``.

    For the harness's own control calls to a sandbox it started: the leaf is a trust anchor
    (partial chain) and the host name is not checked, because the certificate is the one the
    harness handed the server, possibly made for another host on purpose.
    """
    ctx = ssl.create_default_context(cafile=str(certfile))
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    ctx.check_hostname = False
    return ctx


class RunningSandbox:
    """Handle on a running sandbox subprocess (see the module docstring)."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        siasn_url: str,
        siapp_url: str,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.siasn_url = siasn_url
        self.siapp_url = siapp_url
        self._verify = verify
        self.client = httpx.Client(base_url=siasn_url, timeout=30.0, verify=verify)

    # ------------------------------------------------------------------ controls
    def _ctl(self, method: str, path: str, **kw: Any) -> Any:
        r = self.client.request(method, f"/_sandbox/{path.lstrip('/')}", **kw)
        r.raise_for_status()
        return r.json()

    def clock(self) -> dict[str, Any]:
        """``{"day": n, "date": "yyyy-mm-dd"}``."""
        return self._ctl("GET", "clock")

    def advance(self, days: int = 1) -> dict[str, Any]:
        """Advance the simulated clock; returns the new clock."""
        return self._ctl("POST", "clock/advance", params={"days": days})

    def set_faults(self, faults: dict[str, Any] | str) -> dict[str, Any]:
        """Replace the fault settings (a dict of fields or a profile name)."""
        return self._ctl("PUT", "faults", content=orjson.dumps(faults))

    def faults(self) -> dict[str, Any]:
        return self._ctl("GET", "faults")

    def truth(self, path: str, /, **params: Any) -> Any:
        """``GET /_sandbox/truth/<path>`` as JSON (None on 404)."""
        r = self.client.get(f"/_sandbox/truth/{path.lstrip('/')}", params=params or None)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()

    def stats(self) -> dict[str, Any]:
        return self._ctl("GET", "stats")

    def reset_stats(self) -> None:
        self._ctl("POST", "stats/reset")

    def received(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Entries of ``GET /_sandbox/received?kind=``."""
        return self._ctl("GET", "received", params={"kind": kind} if kind else None)["entries"]

    # ------------------------------------------------------------------ auth helpers
    def siasn_tokens(self) -> tuple[str, str]:
        """A fresh (gateway, SSO) token pair with the default sandbox credentials."""
        g = self.client.post(
            "/oauth2/token",
            auth=("siapp-hub", "sandbox-secret"),
            data={"grant_type": "client_credentials"},
        )
        g.raise_for_status()
        s = self.client.post(
            "/auth/realms/public-siasn/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "siapp-hub",
                "username": "siapp",
                "password": "sandbox-password",
            },
        )
        s.raise_for_status()
        return g.json()["access_token"], s.json()["access_token"]

    def siasn_headers(self) -> dict[str, str]:
        """Headers carrying fresh SIASN tokens."""
        g, s = self.siasn_tokens()
        return {"Authorization": f"Bearer {g}", "Auth": f"bearer {s}"}

    def siapp_token(self) -> str:
        """A fresh SIAPP NV token (client credentials)."""
        r = httpx.post(
            f"{self.siapp_url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "siapp-hub",
                "client_secret": "sandbox-secret",
            },
            timeout=30.0,
            verify=self._verify,
        )
        r.raise_for_status()
        return r.json()["access_token"]

    def rss_mb(self) -> float:
        """Resident memory of the sandbox process (MB)."""
        import psutil

        return psutil.Process(self.pid).memory_info().rss / 2**20

    def close(self) -> None:
        self.client.close()
        _stop(self.proc)


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def run_sandbox(
    employees: int = 3000,
    seed: int = 1,
    faults: str | dict[str, Any] | None = None,
    ivb_share: float = 0.08,
    startup_timeout_s: float = 120.0,
    extra_args: list[str] | None = None,
    tls: tuple[str | Path, str | Path] | None = None,
) -> Iterator[RunningSandbox]:
    """Run a sandbox subprocess on free loopback ports; yields a :class:`RunningSandbox`.

    ``tls=(certfile, keyfile)`` (PEM) serves HTTPS with that certificate; HTTP otherwise.
    """
    faults_arg = orjson.dumps(faults).decode() if isinstance(faults, dict) else faults or "none"
    cmd = [
        sys.executable,
        "-m",
        "siapp_sandbox",
        "serve",
        "--siasn-port",
        "0",
        "--siapp-port",
        "0",
        "--employees",
        str(employees),
        "--seed",
        str(seed),
        "--ivb-share",
        repr(float(ivb_share)),
        "--faults",
        faults_arg,
        *(["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])] if tls else []),
        *(extra_args or []),
    ]
    err = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)  # noqa: S603
    ready: list[str] = []
    got = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if line.startswith(READY_PREFIX) and not got.is_set():
                ready.append(line)
                got.set()
        got.set()

    threading.Thread(target=pump, daemon=True, name="sandbox-stdout").start()
    sb: RunningSandbox | None = None
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not got.wait(0.05):
            if time.monotonic() > deadline:
                break
        if not ready:
            _stop(proc, 2.0)
            err.seek(0)
            tail = err.read()[-2000:].decode("utf-8", "replace")
            raise SandboxStartError(f"sandbox did not start (exit {proc.poll()}): {tail}")
        fields = dict(p.split("=", 1) for p in ready[0].split() if "=" in p)
        verify = pinned_context(tls[0]) if tls else True
        sb = RunningSandbox(proc, fields["siasn"], fields["siapp"], verify)
        yield sb
    finally:
        if sb is not None:
            sb.close()
        else:
            _stop(proc, 2.0)
        err.close()
