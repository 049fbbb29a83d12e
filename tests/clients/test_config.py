"""Connection settings: connection → config, defaults, UI-saved extras, validation errors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from siapp_siasn.clients.config import SiappConfig, SiasnConfig, base_url_from_connection


class FakeConn:
    """What ``from_connection`` reads of an Airflow Connection."""

    def __init__(self, **kw: Any) -> None:
        self.conn_id = kw.get("conn_id", "x")
        self.conn_type = kw.get("conn_type", "siasn")
        self.host = kw.get("host")
        self.schema = kw.get("schema")
        self.port = kw.get("port")
        self.login = kw.get("login")
        self.password = kw.get("password")
        self.extra_dejson = kw.get("extra", {})


def test_defaults_and_url_resolution() -> None:
    cfg = SiasnConfig(
        base_url="https://h.example:8243/", client_id="c", client_secret="s", sso_token="t"
    )
    assert cfg.verify is True and cfg.timeout == 30 and cfg.max_retries == 8
    assert cfg.sso_mode == "static"
    assert cfg.resolve(cfg.gateway_token_url) == "https://h.example:8243/oauth2/token"
    assert cfg.resolve("https://sso.example/t") == "https://sso.example/t"
    assert base_url_from_connection("h.example", "http", 8080) == "http://h.example:8080"
    assert base_url_from_connection("h.example", None, None) == "https://h.example"
    assert base_url_from_connection("https://h.example:1/", "x", 5) == "https://h.example:1"


def test_ui_saved_extras_are_normalised(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    extra = {
        "extra__siasn__sso_token": "static-token-value",
        "extra__siasn__timeout": "45",
        "sso_username": "",  # blank UI fields mean "default"
        "rate_limit_rps": None,
        "verify": "false",
        "mystery_knob": "value-of-mystery",
    }
    with caplog.at_level(logging.WARNING):
        cfg = SiasnConfig.from_connection(
            FakeConn(host="h.example", login="c", password="s", extra=extra)
        )
    assert cfg.sso_mode == "static" and cfg.timeout == 45.0 and cfg.verify is False
    assert cfg.rate_limit_rps == 100.0  # the default
    assert "mystery_knob" in caplog.text and "value-of-mystery" not in caplog.text
    with_ca = SiasnConfig.from_connection(
        FakeConn(host="h", login="c", password="s", extra={"sso_token": "t", "verify": str(bundle)})
    )
    assert with_ca.verify == str(bundle)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({}, "sso"),
        ({"sso_username": "u", "sso_password": "p", "concurrency": 0}, "concurrency"),
        ({"sso_token": "t", "verify": "/no/such/ca.pem"}, "verify"),
        ({"sso_token": "t", "max_retries": -1}, "max_retries"),
    ],
)
def test_invalid_connections_fail_without_echoing_values(extra: dict, problem: str) -> None:
    with pytest.raises(ValidationError) as err:
        SiasnConfig.from_connection(
            FakeConn(host="h.example", login="c", password="client-secret-XYZ", extra=extra)
        )
    text = str(err.value)
    assert problem.lower() in text.lower()
    assert "client-secret-XYZ" not in text


def test_missing_host_or_login_is_rejected() -> None:
    with pytest.raises(ValueError, match="host"):
        SiappConfig.from_connection(FakeConn(host=None, login="c", password="s"))
    with pytest.raises(ValidationError, match="client_id"):
        SiappConfig.from_connection(FakeConn(host="h", login=None, password="s"))


# ------------------------------------------------------------------------------ auth as operated
def _siasn(**kw: Any) -> SiasnConfig:
    base = {"client_id": "gateway-key", "client_secret": "client-secret-XYZ"}
    return SiasnConfig(**{**base, **kw})


def test_sso_client_id_is_required_for_the_password_grant_against_bkn() -> None:
    with pytest.raises(ValidationError) as err:
        _siasn(base_url="https://apimws.bkn.go.id:8243", sso_username="u", sso_password="pw-XYZ")
    text = str(err.value)
    assert "sso_client_id" in text
    assert "apimws.bkn.go.id" in text and "pw-XYZ" not in text and "client-secret-XYZ" not in text
    # the SSO host decides (an absolute sso_token_url elsewhere than base_url)
    with pytest.raises(ValidationError, match="sso_client_id"):
        _siasn(
            base_url="http://127.0.0.1:8000",
            sso_token_url="https://sso-siasn.bkn.go.id/auth/realms/public-siasn/protocol/"
            "openid-connect/token",
            sso_username="u",
            sso_password="p",
        )
    ok = _siasn(
        base_url="https://apimws.bkn.go.id:8243",
        sso_client_id="siasn-sso-client",
        sso_username="u",
        sso_password="p",
    )
    assert ok.sso_client_id == "siasn-sso-client" != ok.client_id
    # not needed: a pasted SSO token, or the local sandbox (loopback)
    assert _siasn(base_url="https://apimws.bkn.go.id:8243", sso_token="t").sso_mode == "static"
    for host in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"):
        assert _siasn(base_url=host, sso_username="u", sso_password="p").sso_client_id is None


def test_api_mode_and_export_dir(tmp_path: Path) -> None:
    cfg = _siasn(base_url="http://127.0.0.1:1", sso_token="t")
    assert (cfg.api_mode, cfg.export_dir) == ("pks", None)
    cfg = SiasnConfig.from_connection(
        FakeConn(
            host="http://127.0.0.1:1",
            login="c",
            password="s",
            extra={"sso_token": "t", "api_mode": " Public ", "export_dir": str(tmp_path)},
        )
    )
    assert (cfg.api_mode, cfg.export_dir) == ("public", str(tmp_path))
    with pytest.raises(ValidationError) as err:
        _siasn(base_url="http://127.0.0.1:1", sso_token="t", api_mode="soap-XYZ")
    assert "api_mode must be one of pks, public" in str(err.value)
    assert "soap-XYZ" not in str(err.value)
    with pytest.raises(ValidationError, match="absolute"):
        _siasn(base_url="http://127.0.0.1:1", sso_token="t", export_dir="relative/dir")
    with pytest.raises(ValidationError, match="set export_dir"):
        _siasn(base_url="http://127.0.0.1:1", sso_token="t", api_mode="public")


def test_proxy_setting_and_proxy_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    bkn = {"base_url": "https://apimws.bkn.go.id:8243", "sso_token": "t"}
    assert _siasn(**bkn).client_kwargs()["proxy"] is None
    explicit = _siasn(**bkn, proxy="http://egress.internal:3128")
    assert explicit.client_kwargs()["proxy"] == "http://egress.internal:3128"
    with pytest.raises(ValidationError, match="proxy"):
        _siasn(**bkn, proxy="egress.internal")
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy.internal:8080")
    assert _siasn(**bkn).client_kwargs()["proxy"] is None  # the environment only on request
    from_env = _siasn(**bkn, proxy_from_env=True)
    assert from_env.client_kwargs()["proxy"] == "http://env-proxy.internal:8080"
    assert explicit.model_copy(update={"proxy_from_env": True}).client_kwargs()["proxy"] == (
        "http://egress.internal:3128"
    )
    monkeypatch.setenv("NO_PROXY", ".bkn.go.id")
    assert _siasn(**bkn, proxy_from_env=True).client_kwargs()["proxy"] is None
