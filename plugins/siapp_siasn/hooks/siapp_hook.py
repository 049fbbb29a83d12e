"""Airflow hook for SIAPP NV (Kemensetneg): connection type ``siapp`` → :class:`SiappClient`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from siapp_siasn.hooks.base import ApiHookBase

if TYPE_CHECKING:  # the generic parameters below, for type checkers only
    from siapp_siasn.clients.config import SiappConfig  # noqa: F401
    from siapp_siasn.clients.siapp import SiappClient  # noqa: F401

__all__ = ["SiappHook"]


class SiappHook(ApiHookBase["SiappClient", "SiappConfig"]):
    """SIAPP NV connection: OAuth2 client id/secret in login/password, tuning in extra.

    ``AIRFLOW_CONN_SIAPP_API='{"conn_type": "siapp", "host": "https://...", "login":
    "<client_id>", "password": "<client_secret>", "extra": {"rate_limit_rps": 200}}'``
    (see :class:`SiappConfig` for every key).

    :param siapp_conn_id: the connection id (default ``siapp_api``).
    :param overrides: config fields that win over the connection (e.g. ``concurrency=8``).
    """

    conn_name_attr = "siapp_conn_id"
    default_conn_name = "siapp_api"
    conn_type = "siapp"
    hook_name = "SIAPP NV (Kemensetneg)"
    config_class = "siapp_siasn.clients.config:SiappConfig"
    client_class = "siapp_siasn.clients.siapp:SiappClient"
