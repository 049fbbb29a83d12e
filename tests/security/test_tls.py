"""Transport security over real loopback HTTPS: the sandbox serves a certificate from a CA
made by the test, and the hub's clients verify it by default.

- a CA the client does not know: both clients fail with one clear line naming the host and
  "certificate verify failed", and no request reached any sandbox endpoint;
- the right CA bundle named in the connection (``verify``): tokens and a read work, through
  the pure clients and through the Airflow hooks (``AIRFLOW_CONN_*`` JSON);
- a certificate made for another host name fails even with the right CA;
- ``verify: false`` works, and says so in a warning.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from siapp_sandbox.testing import RunningSandbox, run_sandbox
from siapp_siasn.clients.config import SiappConfig, SiasnConfig
from siapp_siasn.clients.errors import ApiError
from siapp_siasn.clients.siapp import SiappClient
from siapp_siasn.clients.siasn import DATA_UTAMA, SiasnClient
from tests.security.certs import ServerCert, TestCA

pytestmark = pytest.mark.integration

EMPLOYEES = 200
SECRETS = ("sandbox-secret", "sandbox-password")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The test's CA, a CA nobody trusts, and two server certificates from the first."""
    root = tmp_path_factory.mktemp("pki")
    ca = TestCA.create(root / "ca")
    return SimpleNamespace(
        ca=ca,
        stranger=TestCA.create(root / "stranger", name="a CA nobody configured"),
        loopback=ca.issue(root / "loopback", hosts=("127.0.0.1", "localhost")),
        elsewhere=ca.issue(root / "elsewhere", hosts=("example.invalid",)),
    )


def _start(cert: ServerCert) -> Iterator[RunningSandbox]:
    with run_sandbox(employees=EMPLOYEES, seed=5, tls=cert.tls) as sb:
        yield sb


@pytest.fixture(scope="module")
def https_sandbox(pki: SimpleNamespace) -> Iterator[RunningSandbox]:
    """A sandbox serving a certificate for 127.0.0.1 signed by the test's CA."""
    yield from _start(pki.loopback)


@pytest.fixture(scope="module")
def wrong_host_sandbox(pki: SimpleNamespace) -> Iterator[RunningSandbox]:
    """A sandbox on 127.0.0.1 serving a certificate made for ``example.invalid``."""
    yield from _start(pki.elsewhere)


def _connection(url: str, conn_type: str, **extra: Any) -> dict[str, Any]:
    """An Airflow connection as JSON would give it; SIASN gets its SSO user."""
    if conn_type == "siasn":
        extra = {"sso_username": "siapp", "sso_password": "sandbox-password", **extra}
    return {
        "conn_type": conn_type,
        "host": url,
        "login": "siapp-hub",
        "password": "sandbox-secret",
        "extra": {"max_retries": 2, "backoff_base_s": 0.01, **extra},
    }


def _configs(sb: RunningSandbox, **extra: Any) -> tuple[SiasnConfig, SiappConfig]:
    """Both configs read the way the hooks read a connection (no ``verify``: the default)."""

    def conn(c: dict[str, Any]) -> SimpleNamespace:
        return SimpleNamespace(conn_id="tls_test", extra_dejson=c.pop("extra"), **c)

    return (
        SiasnConfig.from_connection(conn(_connection(sb.siasn_url, "siasn", **extra))),
        SiappConfig.from_connection(conn(_connection(sb.siapp_url, "siapp", **extra))),
    )


async def _siasn_read(cfg: SiasnConfig, nip: str) -> tuple[dict[str, str], Any]:
    async with SiasnClient.from_config(cfg) as client:
        return await client.check_tokens(), await client.get_data(DATA_UTAMA, nip=nip)


async def _siapp_read(cfg: SiappConfig) -> tuple[dict[str, str], Any]:
    async with SiappClient.from_config(cfg) as client:
        tokens = await client.check_tokens()
        async for row in client.iter_list("usulan", page_size=5):
            return tokens, row
        return tokens, None


def _failure(coro: Any) -> ApiError:
    with pytest.raises(ApiError) as err:
        asyncio.run(coro)
    return err.value


def _assert_clear_tls_error(exc: ApiError, url: str, *, detail: str) -> None:
    """One line naming host and cause; no traceback, OpenSSL source location or secret."""
    text = str(exc)
    host_port = url.split("://", 1)[1]
    assert exc.status is None and exc.attempts == 1, text  # a bad certificate is not retried
    assert f"certificate verify failed for {host_port}" in text, text
    assert detail in text, text
    assert "\n" not in text and "Traceback" not in text and "_ssl.c" not in text, text
    assert not any(s in text for s in SECRETS), text
    assert exc.__suppress_context__, "the aiohttp exception must not print as a chained cause"


def _api_requests(sb: RunningSandbox) -> int:
    """Requests any sandbox endpoint (tokens included, controls excluded) has answered."""
    return int(sb.stats()["total"])


# ------------------------------------------------------------------------------ the sandbox


def test_sandbox_serves_https_with_the_given_certificate(
    https_sandbox: RunningSandbox, pki: SimpleNamespace
) -> None:
    for url in (https_sandbox.siasn_url, https_sandbox.siapp_url):
        assert url.startswith("https://127.0.0.1:")
        host, port = url.removeprefix("https://").split(":")
        served = ssl.get_server_certificate((host, int(port)))
        assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(
            pki.loopback.certfile.read_text()
        )
    # the harness's controls trust the pinned certificate
    assert https_sandbox.clock()["day"] == 0


# ------------------------------------------------------------------------- unknown CA → fail


@pytest.mark.parametrize("verify", ["default", "stranger CA bundle"])
def test_unknown_ca_fails_clearly_before_any_request(
    https_sandbox: RunningSandbox,
    pki: SimpleNamespace,
    verify: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    extra = {} if verify == "default" else {"verify": str(pki.stranger.bundle)}
    siasn_cfg, siapp_cfg = _configs(https_sandbox, **extra)
    assert siasn_cfg.verify == (True if verify == "default" else str(pki.stranger.bundle))
    nip = https_sandbox.truth("asn")["nips"][0]
    https_sandbox.reset_stats()

    with caplog.at_level(logging.DEBUG):
        siasn_err = _failure(_siasn_read(siasn_cfg, nip))
        siapp_err = _failure(_siapp_read(siapp_cfg))

    hint = "unable to get local issuer certificate"
    _assert_clear_tls_error(siasn_err, https_sandbox.siasn_url, detail=hint)
    _assert_clear_tls_error(siapp_err, https_sandbox.siapp_url, detail=hint)
    assert siasn_err.endpoint == siasn_cfg.gateway_auth_url  # the first call: a token
    assert siapp_err.endpoint == siapp_cfg.auth_url
    assert _api_requests(https_sandbox) == 0  # nothing passed the TLS handshake
    for secret in (*SECRETS, nip):
        assert secret not in caplog.text


# ------------------------------------------------------------------------ right CA → works


def test_ca_bundle_named_in_the_connection_is_trusted(
    https_sandbox: RunningSandbox, pki: SimpleNamespace
) -> None:
    siasn_cfg, siapp_cfg = _configs(https_sandbox, verify=str(pki.ca.bundle))
    assert siasn_cfg.verify == str(pki.ca.bundle)
    nip = https_sandbox.truth("asn")["nips"][0]
    https_sandbox.reset_stats()

    tokens, utama = asyncio.run(_siasn_read(siasn_cfg, nip))
    assert tokens == {"gateway": "ok", "sso": "ok"}
    assert utama["nipBaru"] == nip
    tokens, row = asyncio.run(_siapp_read(siapp_cfg))
    assert tokens and set(tokens.values()) == {"ok"}
    assert isinstance(row, dict) and row.get("id")

    routes = https_sandbox.stats()["routes"]
    assert routes["siasn"]["GET /apisiasn/1.0/pns/data-utama/{nipBaru}"]["status"] == {"200": 1}
    assert routes["siasn"]["POST /oauth2/token"]["status"] == {"200": 1}


def test_hooks_from_airflow_connection_json_verify_with_the_named_ca(
    https_sandbox: RunningSandbox, pki: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siapp_siasn.hooks.siapp_hook import SiappHook
    from siapp_siasn.hooks.siasn_hook import SiasnHook

    bundle = str(pki.ca.bundle)
    for conn_id, conn in {
        "SIASN_TLS_CA": _connection(https_sandbox.siasn_url, "siasn", verify=bundle),
        "SIASN_TLS_DEFAULT": _connection(https_sandbox.siasn_url, "siasn"),
        "SIAPP_TLS_CA": _connection(https_sandbox.siapp_url, "siapp", verify=bundle),
        "SIAPP_TLS_DEFAULT": _connection(https_sandbox.siapp_url, "siapp"),
    }.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", json.dumps(conn))
    nip = https_sandbox.truth("asn")["nips"][0]

    ok, msg = SiasnHook("siasn_tls_ca").test_connection()
    assert ok, msg
    ok, msg = SiappHook("siapp_tls_ca").test_connection()
    assert ok, msg
    utama, _ = SiasnHook("siasn_tls_ca").run(lambda c: c.get_data(DATA_UTAMA, nip=nip))
    assert utama["nipBaru"] == nip

    https_sandbox.reset_stats()
    for hook, url in (
        (SiasnHook("siasn_tls_default"), https_sandbox.siasn_url),
        (SiappHook("siapp_tls_default"), https_sandbox.siapp_url),
    ):
        ok, msg = hook.test_connection()
        assert not ok
        assert f"certificate verify failed for {url.split('://', 1)[1]}" in msg, msg
        assert "\n" not in msg and not any(s in msg for s in SECRETS), msg
    assert _api_requests(https_sandbox) == 0


# ------------------------------------------------------------------- wrong host name → fail


def test_certificate_for_another_host_fails_even_with_the_right_ca(
    wrong_host_sandbox: RunningSandbox, pki: SimpleNamespace
) -> None:
    siasn_cfg, siapp_cfg = _configs(wrong_host_sandbox, verify=str(pki.ca.bundle))
    wrong_host_sandbox.reset_stats()

    siasn_err = _failure(_siasn_read(siasn_cfg, "199001012015011001"))
    siapp_err = _failure(_siapp_read(siapp_cfg))

    detail = "certificate is not valid for '127.0.0.1'"
    _assert_clear_tls_error(siasn_err, wrong_host_sandbox.siasn_url, detail=detail)
    _assert_clear_tls_error(siapp_err, wrong_host_sandbox.siapp_url, detail=detail)
    assert _api_requests(wrong_host_sandbox) == 0


# ----------------------------------------------------------------- verify: false → warning


def test_verify_false_works_and_is_logged_as_a_warning(
    wrong_host_sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    # a certificate no setting could accept: only switching verification off gets through
    nip = wrong_host_sandbox.truth("asn")["nips"][0]
    with caplog.at_level(logging.WARNING):
        siasn_cfg, siapp_cfg = _configs(wrong_host_sandbox, verify="false")
        assert siasn_cfg.verify is False and siapp_cfg.verify is False
        tokens, utama = asyncio.run(_siasn_read(siasn_cfg, nip))
        asyncio.run(_siapp_read(siapp_cfg))
    assert tokens == {"gateway": "ok", "sso": "ok"} and utama["nipBaru"] == nip

    warnings = [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING
        and r.name.startswith("siapp_siasn")
        and "verif" in r.getMessage().lower()
    ]
    assert warnings, "verify: false must be logged as a warning"
    for record in warnings:
        assert not any(s in record.getMessage() for s in (*SECRETS, nip))


# -------------------------------------------------------------------------- the sandbox CLI


def test_sandbox_cli_tls_options_are_checked(tmp_path: Path, pki: SimpleNamespace) -> None:
    from typer.testing import CliRunner

    from siapp_sandbox.cli import sandbox_app

    runner = CliRunner()
    base = ["serve", "--siasn-port", "0", "--siapp-port", "0", "--employees", "1"]

    half = runner.invoke(sandbox_app, [*base, "--tls-cert", str(pki.loopback.certfile)])
    assert half.exit_code == 2
    assert "--tls-cert and --tls-key" in half.output

    garbage = tmp_path / "not-a-cert.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    bad = runner.invoke(sandbox_app, [*base, "--tls-cert", str(garbage), "--tls-key", str(garbage)])
    assert bad.exit_code == 1
    assert "cannot load the TLS certificate or key" in bad.output
