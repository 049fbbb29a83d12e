"""The connection forms: what Airflow's form shows and saves is what the config reads.

Airflow masks every extra whose name contains a sensitive word (its secrets masker's
``DEFAULT_SENSITIVE_FIELDS``: "token", "proxy", "password", ...): the form shows ``***`` for it
and a form saved unchanged stores ``***``. So no non-secret setting carries such a word, the
earlier names still work, and ``***`` means "unset".
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from siapp_siasn.clients.config import MASKED_VALUE, RENAMED_EXTRAS, SiappConfig, SiasnConfig
from siapp_siasn.hooks.provider_info import conn_fields


class _Conn:
    """The attributes of an Airflow ``Connection`` that the config reads."""

    def __init__(self, conn_type: str, extra: dict[str, Any], host: str = "https://h.example"):
        self.conn_id = f"{conn_type}_form"
        self.conn_type = conn_type
        self.host = host
        self.schema = None
        self.port = None
        self.login = "client-id"
        self.password = "client-secret"
        self.extra_dejson = extra


SSO = {"sso_username": "u", "sso_password": "p", "sso_client_id": "c"}


def _masked(name: str) -> bool:
    from airflow._shared.secrets_masker import should_hide_value_for_key

    return bool(should_hide_value_for_key(name))


@pytest.mark.parametrize("conn_type", ["siasn", "siapp"])
def test_only_secret_fields_have_names_airflow_masks(conn_type: str) -> None:
    fields = conn_fields(conn_type)
    for name, spec in fields.items():
        secret = spec["schema"].get("format") == "password"
        # a masked name on a non-secret would show and save "***"; a secret must be masked
        assert _masked(name) == secret, name
    # the renamed settings are in the form under their new names only
    assert not set(RENAMED_EXTRAS) & set(fields)


def test_form_field_types_defaults_and_secrets() -> None:
    siasn, siapp = conn_fields("siasn"), conn_fields("siapp")
    # numbers are numbers (with the model's bounds), booleans booleans, choices enums
    assert siasn["concurrency"]["schema"] == {
        "type": ["integer", "null"],
        "default": 32,
        "minimum": 1,
        "maximum": 512,
    }
    assert siasn["refresh_early_s"]["schema"]["type"] == ["number", "null"]
    assert siasn["refresh_early_s"]["schema"]["default"] == 60.0
    assert siasn["trust_env"]["schema"] == {"type": ["boolean", "null"], "default": False}
    assert siasn["api_mode"]["schema"]["enum"] == ["pks", "public"]
    assert siapp["client_auth_method"]["schema"]["enum"] == [
        "client_secret_post",
        "client_secret_basic",
    ]
    # secrets: no default, rendered as password fields
    for name in ("sso_password", "sso_token", "proxy"):
        assert siasn[name]["schema"].get("format") == "password"
        assert "default" not in siasn[name]["schema"]
    assert siapp["auth_url"]["schema"]["default"] == "/oauth/token"


def test_earlier_extra_names_still_configure_the_client() -> None:
    old = {
        "gateway_token_url": "/gw/token",
        "sso_token_url": "https://sso.example/t",
        "token_skew_s": 5,
        "proxy_from_env": True,
        **SSO,
    }
    cfg = SiasnConfig.from_connection(_Conn("siasn", old))
    assert (cfg.gateway_auth_url, cfg.sso_auth_url) == ("/gw/token", "https://sso.example/t")
    assert (cfg.refresh_early_s, cfg.trust_env) == (5.0, True)
    # the earlier attribute names read the new settings
    assert (cfg.gateway_token_url, cfg.sso_token_url, cfg.token_skew_s, cfg.proxy_from_env) == (
        "/gw/token",
        "https://sso.example/t",
        5.0,
        True,
    )
    siapp = SiappConfig.from_connection(
        _Conn("siapp", {"token_url": "/o/t", "token_auth_method": "client_secret_basic"})
    )
    assert (siapp.auth_url, siapp.client_auth_method) == ("/o/t", "client_secret_basic")
    assert (siapp.token_url, siapp.token_auth_method) == ("/o/t", "client_secret_basic")
    # the new name wins over the earlier one when a connection has both
    both = SiappConfig.from_connection(_Conn("siapp", {"token_url": "/old", "auth_url": "/new"}))
    assert both.auth_url == "/new"
    # keyword construction and model_copy take either name
    assert (
        SiappConfig(base_url="https://h", client_id="c", client_secret="s", token_url="/x").auth_url
        == "/x"
    )
    assert cfg.model_copy(update={"token_skew_s": 9}).refresh_early_s == 9


def test_masked_value_is_unset() -> None:
    """A form saved with ``***`` (Airflow's mask) in a field means the default, not ``***``."""
    masked = {name: MASKED_VALUE for name in conn_fields("siasn")} | SSO
    cfg = SiasnConfig.from_connection(_Conn("siasn", masked))
    assert cfg.gateway_auth_url == "/oauth2/token"
    assert cfg.refresh_early_s == 60.0 and cfg.proxy is None and cfg.trust_env is False
    assert cfg.sso_token is None and cfg.concurrency == 32
    old_masked = {"token_skew_s": "***", "gateway_token_url": " *** ", "token_url": "***"}
    cfg = SiasnConfig.from_connection(_Conn("siasn", old_masked | SSO))
    assert (cfg.refresh_early_s, cfg.gateway_auth_url) == (60.0, "/oauth2/token")


def test_form_defaults_saved_as_the_form_sends_them_make_a_valid_config() -> None:
    """Every default of the form, as JSON, round-trips into the config unchanged."""
    for conn_type, model in (("siasn", SiasnConfig), ("siapp", SiappConfig)):
        defaults = {
            name: spec["schema"]["default"]
            for name, spec in conn_fields(conn_type).items()
            if "default" in spec["schema"]
        }
        extra = json.loads(json.dumps(defaults | (SSO if conn_type == "siasn" else {})))
        cfg = model.from_connection(_Conn(conn_type, extra))
        reference = model.from_connection(_Conn(conn_type, SSO if conn_type == "siasn" else {}))
        assert cfg == reference, conn_type


def test_proxy_is_a_secret_in_repr_and_errors() -> None:
    cfg = SiasnConfig.from_connection(
        _Conn("siasn", {"proxy": "http://user:proxy-pass-XYZ@egress.internal:3128"} | SSO)
    )
    assert "proxy-pass-XYZ" not in repr(cfg)
    assert cfg.client_kwargs()["proxy"] == "http://user:proxy-pass-XYZ@egress.internal:3128"
