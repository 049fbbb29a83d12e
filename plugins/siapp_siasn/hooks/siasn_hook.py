"""Airflow hook for SIASN (BKN): connection ``siasn`` → :class:`SiasnClient`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from siapp_siasn.hooks.base import ApiHookBase, _mask

if TYPE_CHECKING:
    from siapp_siasn.clients.config import SiasnConfig
    from siapp_siasn.clients.siasn import SiasnClient

__all__ = ["SiasnHook"]


class SiasnHook(ApiHookBase["SiasnClient"]):
    """SIASN connection: gateway client credentials in login/password, SSO and tuning in extra.

    ``AIRFLOW_CONN_SIASN_API='{"conn_type": "siasn", "host": "https://...", "login":
    "<client_id>", "password": "<client_secret>", "extra": {"sso_username": "...",
    "sso_password": "...", "rate_limit_rps": 500}}'`` (see :class:`SiasnConfig` for every key).

    :param siasn_conn_id: the connection id.
    :param overrides: config fields that win over the connection (e.g. ``concurrency=8``).
    """

    conn_name_attr = "siasn_conn_id"
    conn_attr = "siasn_conn_id"
    default_conn_name = "siasn_api"
    conn_type = "siasn"
    hook_name = "SIASN (BKN)"

    def __init__(self, siasn_conn_id: str = default_conn_name, **overrides: Any) -> None:
        super().__init__(siasn_conn_id, **overrides)

    @classmethod
    def _config_class(cls) -> type[SiasnConfig]:
        from siapp_siasn.clients.config import SiasnConfig

        return SiasnConfig

    def _client_from_config(self, config: SiasnConfig) -> SiasnClient:
        from siapp_siasn.clients.siasn import SiasnClient

        return SiasnClient.from_config(config, on_token=_mask)

    def get_config(self) -> SiasnConfig:
        """The connection as a validated :class:`SiasnConfig`."""
        return super().get_config()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden and relabelled fields of the connection form."""
        from siapp_siasn.hooks.provider_info import ui_field_behaviour

        return ui_field_behaviour(cls.conn_type)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (needs the FAB UI packages)."""
        return cls._form_widgets(cls.conn_type)
