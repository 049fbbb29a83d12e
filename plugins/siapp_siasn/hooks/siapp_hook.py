"""Airflow hook for SIAPP NV (Kemensetneg): connection ``siapp`` → :class:`SiappClient`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from siapp_siasn.hooks.base import ApiHookBase, _mask

if TYPE_CHECKING:
    from siapp_siasn.clients.config import SiappConfig
    from siapp_siasn.clients.siapp import SiappClient

__all__ = ["SiappHook"]


class SiappHook(ApiHookBase["SiappClient"]):
    """SIAPP NV connection: OAuth2 client id/secret in login/password, tuning in extra.

    ``AIRFLOW_CONN_SIAPP_API='{"conn_type": "siapp", "host": "https://...", "login":
    "<client_id>", "password": "<client_secret>", "extra": {"rate_limit_rps": 200}}'``
    (see :class:`SiappConfig` for every key).

    :param siapp_conn_id: the connection id.
    :param overrides: config fields that win over the connection (e.g. ``concurrency=8``).
    """

    conn_name_attr = "siapp_conn_id"
    conn_attr = "siapp_conn_id"
    default_conn_name = "siapp_api"
    conn_type = "siapp"
    hook_name = "SIAPP NV (Kemensetneg)"

    def __init__(self, siapp_conn_id: str = default_conn_name, **overrides: Any) -> None:
        super().__init__(siapp_conn_id, **overrides)

    @classmethod
    def _config_class(cls) -> type[SiappConfig]:
        from siapp_siasn.clients.config import SiappConfig

        return SiappConfig

    def _client_from_config(self, config: SiappConfig) -> SiappClient:
        from siapp_siasn.clients.siapp import SiappClient

        return SiappClient.from_config(config, on_token=_mask)

    def get_config(self) -> SiappConfig:
        """The connection as a validated :class:`SiappConfig`."""
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
