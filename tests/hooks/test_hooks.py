"""The Airflow hooks: connection → config → client, connection test, form metadata, import cost."""

from __future__ import annotations

import json
import logging
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from siapp_siasn.clients.config import SiappConfig, SiasnConfig
from siapp_siasn.clients.siasn import DATA_UTAMA

CONN = {
    "conn_type": "siasn",
    "host": "https://apimws.bkn.example:8243",
    "login": "client-id-1",
    "password": "client-secret-XYZ",
    "extra": {
        "gateway_auth_url": "https://apimws.bkn.example:8243/oauth2/token",
        "sso_auth_url": "https://sso.bkn.example/auth/realms/public-siasn/protocol/openid-connect/token",
        "sso_client_id": "siasn-sso-client",
        "sso_username": "operator",
        "sso_password": "sso-password-XYZ",
        "api_mode": "public",
        "export_dir": "/var/lib/siapp/siasn-export",
        "verify": True,
        "timeout": 30,
        "concurrency": 32,
        "rate_limit_rps": 500,
        "max_retries": 8,
    },
}


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
    # the SSO client is its own setting, not the gateway consumer key
    assert cfg.sso_client_id == "siasn-sso-client" != cfg.client_id
    assert (cfg.api_mode, cfg.export_dir) == ("public", "/var/lib/siapp/siasn-export")
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
    assert cfg.resolve(cfg.auth_url) == "https://siapp.example/oauth/token"


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
    assert secret_fields == {"sso_password", "sso_token", "proxy"}
    # auth as operated: the SSO client, the API mode, the export folder, the proxy
    siasn_fields = conn_fields("siasn")
    assert siasn_fields["sso_client_id"]["label"] == "SSO client id"
    assert "not the gateway consumer key" in siasn_fields["sso_client_id"]["description"]
    assert siasn_fields["api_mode"]["schema"]["default"] == "pks"
    assert {"export_dir", "proxy", "trust_env"} <= set(siasn_fields)
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
    # what makes the import cheap is that nothing heavy comes with it (the time itself is a
    # speed figure: bench/ prints DAG parse times, a unit test does not time)
    seconds, heavy = float(out[0]), out[1].strip()
    assert heavy == "[]", (heavy, seconds)


def test_hook_constructor_forms_and_lazy_exports(monkeypatch: pytest.MonkeyPatch) -> None:
    import siapp_siasn.hooks as hooks
    from siapp_siasn.hooks.siapp_hook import SiappHook
    from siapp_siasn.hooks.siasn_hook import SiasnHook
    from siapp_siasn.hooks.store import StoreHook

    assert (hooks.SiasnHook, hooks.SiappHook, hooks.StoreHook) == (SiasnHook, SiappHook, StoreHook)
    assert {"SiasnHook", "SiappHook", "StoreHook"} <= set(dir(hooks))
    # Airflow's form (conn_name_attr=...), the positional form, and the default connection
    monkeypatch.setenv("AIRFLOW_CONN_SIASN_FORMS", json.dumps(CONN))
    for hook in (SiasnHook(siasn_conn_id="siasn_forms"), SiasnHook("siasn_forms", timeout=5)):
        assert hook.conn_id == hook.siasn_conn_id == "siasn_forms"
        assert hook.get_config().base_url == "https://apimws.bkn.example:8243"
    assert SiasnHook("siasn_forms", timeout=5).get_config().timeout == 5.0
    assert SiappHook().conn_id == SiappHook().siapp_conn_id == "siapp_api"
    assert SiasnHook().conn_id == "siasn_api"


@pytest.fixture(scope="module")
def nips(sandbox: Any) -> list[str]:
    return sandbox.truth("asn")["nips"]


@pytest.mark.integration
def test_hooks_from_connection_json_and_test_connection(
    sandbox: Any, nips: list[str], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    from siapp_siasn.hooks.siapp_hook import SiappHook
    from siapp_siasn.hooks.siasn_hook import SiasnHook

    siasn_conn = {
        "conn_type": "siasn",
        "host": sandbox.siasn_url,
        "login": "siapp-hub",
        "password": "sandbox-secret",
        "extra": {"sso_username": "siapp", "sso_password": "sandbox-password", "verify": True},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SIASN_HOOKTEST", json.dumps(siasn_conn))
    bad = {**siasn_conn, "password": "wrong-secret-value"}
    monkeypatch.setenv("AIRFLOW_CONN_SIASN_HOOKTEST_BAD", json.dumps(bad))
    siapp_conn = {
        "conn_type": "siapp",
        "host": sandbox.siapp_url,
        "login": "siapp-hub",
        "password": "sandbox-secret",
    }
    monkeypatch.setenv("AIRFLOW_CONN_SIAPP_HOOKTEST", json.dumps(siapp_conn))

    with caplog.at_level(logging.DEBUG):
        ok, msg = SiasnHook("siasn_hooktest").test_connection()
        assert ok, msg
        assert "gateway token ok" in msg and "sso token ok" in msg
        ok, msg = SiasnHook("siasn_hooktest_bad").test_connection()
        assert not ok and "401" in msg and "/oauth2/token" in msg
        assert "wrong-secret-value" not in msg
        ok, msg = SiappHook("siapp_hooktest").test_connection()
        assert ok, msg

        result, metrics = SiasnHook("siasn_hooktest", concurrency=4).run(
            lambda c: c.get_data(DATA_UTAMA, nip=nips[0])
        )
    assert result["nipBaru"] == nips[0]
    assert metrics["concurrency"]["limit"] == 4
    assert metrics["endpoints"][f"GET {DATA_UTAMA}"]["requests"] == 1
    for secret in ("sandbox-secret", "sandbox-password", "wrong-secret-value", nips[0]):
        assert secret not in caplog.text
