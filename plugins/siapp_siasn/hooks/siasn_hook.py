"""Airflow hook for SIASN (BKN): connection type ``siasn`` → :class:`SiasnClient`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from siapp_siasn.hooks.base import ApiHookBase

if TYPE_CHECKING:  # the generic parameters below, for type checkers only
    from siapp_siasn.clients.config import SiasnConfig  # noqa: F401
    from siapp_siasn.clients.siasn import SiasnClient  # noqa: F401

__all__ = ["SiasnHook"]


class SiasnHook(ApiHookBase["SiasnClient", "SiasnConfig"]):
    """SIASN connection: gateway client credentials in login/password, SSO and tuning in extra.

    ``AIRFLOW_CONN_SIASN_API='{"conn_type": "siasn", "host": "https://...", "login":
    "<gateway consumer key>", "password": "<consumer secret>", "extra": {"sso_client_id":
    "<SSO client id>", "sso_username": "...", "sso_password": "...", "api_mode": "pks",
    "proxy": "http://<whitelisted egress>:3128", "rate_limit_rps": 500}}'`` (see
    :class:`SiasnConfig` for every key). The SSO ``client_id`` is its own setting, required for
    the password grant against BKN; ``api_mode`` ``public`` uses only endpoints BKN publishes
    (with ``export_dir``); BKN admits whitelisted source IPs only, hence ``proxy``.

    :param siasn_conn_id: the connection id (default ``siasn_api``).
    :param overrides: config fields that win over the connection (e.g. ``concurrency=8``).
    """

    conn_name_attr = "siasn_conn_id"
    default_conn_name = "siasn_api"
    conn_type = "siasn"
    hook_name = "SIASN (BKN)"
    config_class = "siapp_siasn.clients.config:SiasnConfig"
    client_class = "siapp_siasn.clients.siasn:SiasnClient"
