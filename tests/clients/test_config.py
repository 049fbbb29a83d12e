"""Connection → config, validation, UI metadata and the cost of importing the hook modules."""

from __future__ import annotations

import json
import logging
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from siapp_siasn.clients.config import SiappConfig, SiasnConfig, base_url_from_connection

CONN = {
    "conn_type": "siasn",
    "host": "https://apimws.bkn.example:8243",
    "login": "client-id-1",
    "password": "client-secret-XYZ",
    "extra": {
        "gateway_token_url": "https://apimws.bkn.example:8243/oauth2/token",
        "sso_token_url": "https://sso.bkn.example/auth/realms/public-siasn/protocol/openid-connect/token",
        "sso_username": "operator",
        "sso_password": "sso-password-XYZ",
        "verify": True,
        "timeout": 30,
        "concurrency": 32,
        "rate_limit_rps": 500,
        "max_retries": 8,
    },
}


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


def test_connection_json_to_config_via_airflow(monkeypatch: pytest.MonkeyPatch) -> None:
    from siapp_siasn.clients.siasn import SiasnClient
    from siapp_siasn.hooks.siasn_hook import SiasnHook

    monkeypatch.setenv("AIRFLOW_CONN_SIASN_CFGTEST", json.dumps(CONN))
    hook = SiasnHook(siasn_conn_id="siasn_cfgtest")
    cfg = hook.get_config()
    assert isinstance(cfg, SiasnConfig)
    assert cfg.base_url == "https://apimws.bkn.example:8243"
    assert (cfg.client_id, cfg.client_secret.get_secret_value()) == (
        "client-id-1",
        "client-secret-XYZ",
    )
    assert cfg.sso_mode == "password" and cfg.sso_username == "operator"
    assert (
        cfg.sso_password is not None and cfg.sso_password.get_secret_value() == "sso-password-XYZ"
    )
    assert (cfg.verify, cfg.timeout, cfg.concurrency, cfg.rate_limit_rps, cfg.max_retries) == (
        True,
        30.0,
        32,
        500.0,
        8,
    )
    assert "client-secret-XYZ" not in repr(cfg) and "sso-password-XYZ" not in repr(cfg)
    client = hook.get_client()
    assert isinstance(client, SiasnClient)
    api = client.api
    assert api.concurrency == 32 and api.limiter.target == 500.0 and api.max_retries == 8
    assert isinstance(api._ssl, ssl.SSLContext) and api._ssl.verify_mode == ssl.CERT_REQUIRED
    # per-task overrides win over the connection
    assert SiasnHook("siasn_cfgtest", concurrency=4).get_config().concurrency == 4


def test_siapp_connection_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from siapp_siasn.hooks.siapp_hook import SiappHook

    conn = {"conn_type": "siapp", "host": "siapp.example", "login": "c", "password": "s"}
    monkeypatch.setenv("AIRFLOW_CONN_SIAPP_CFGTEST", json.dumps(conn))
    cfg = SiappHook(siapp_conn_id="siapp_cfgtest").get_config()
    assert isinstance(cfg, SiappConfig)
    assert cfg.base_url == "https://siapp.example"  # https unless told otherwise
    assert cfg.verify is True
    assert cfg.resolve(cfg.token_url) == "https://siapp.example/oauth/token"


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


def test_test_connection_reports_invalid_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from siapp_siasn.hooks.siasn_hook import SiasnHook

    conn = {**CONN, "extra": {"concurrency": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_SIASN_CFGBAD", json.dumps(conn))
    ok, msg = SiasnHook("siasn_cfgbad").test_connection()
    assert not ok and msg.startswith("invalid connection:") and "concurrency" in msg
    assert "client-secret-XYZ" not in msg


def test_provider_info_and_ui_metadata_are_valid() -> None:
    import airflow
    import jsonschema

    from siapp_siasn.hooks.provider_info import conn_fields, get_provider_info
    from siapp_siasn.hooks.siapp_hook import SiappHook
    from siapp_siasn.hooks.siasn_hook import SiasnHook

    root = Path(airflow.__file__).parent
    info = get_provider_info()
    jsonschema.validate(info, json.loads((root / "provider_info.schema.json").read_text()))
    behaviour_schema = json.loads(
        (root / "customized_form_field_behaviours.schema.json").read_text()
    )
    for hook, model in ((SiasnHook, SiasnConfig), (SiappHook, SiappConfig)):
        jsonschema.validate(hook.get_ui_field_behaviour(), behaviour_schema)
        fields = conn_fields(hook.conn_type)
        extras = set(model.model_fields) - {"base_url", "client_id", "client_secret"}
        assert set(fields) == extras  # every setting can be entered in the UI
        entry = next(c for c in info["connection-types"] if c["connection-type"] == hook.conn_type)
        assert entry["hook-class-name"] == f"{hook.__module__}.{hook.__name__}"
        assert entry["hook-name"] == hook.hook_name
    secret_fields = {n for n, f in conn_fields("siasn").items() if f["schema"].get("format")}
    assert secret_fields == {"sso_password", "sso_token"}
    # legacy wtforms widgets: built when the FAB UI packages exist, otherwise the ImportError
    # that Airflow's ProvidersManager expects (and tolerates)
    try:
        import wtforms  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError):
            SiasnHook.get_connection_form_widgets()
    else:
        assert set(SiasnHook.get_connection_form_widgets()) == set(conn_fields("siasn"))


def test_hook_modules_are_cheap_to_import() -> None:
    code = (
        "import sys, time; import airflow.sdk; t = time.perf_counter();"
        "import siapp_siasn.hooks.siasn_hook, siapp_siasn.hooks.siapp_hook;"
        "dt = time.perf_counter() - t;"
        "heavy = [m for m in ('aiohttp', 'siapp_siasn.clients.http', 'siapp_siasn.clients.siasn',"
        " 'pydantic_settings') if m in sys.modules];"
        "print(dt, heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split(maxsplit=1)
    seconds, heavy = float(out[0]), out[1].strip()
    assert heavy == "[]", heavy
    assert seconds < 0.2, seconds
