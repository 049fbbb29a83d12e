"""The one Airflow hook behind both API connection types (``siasn``, ``siapp``).

A connection is read, validated into the API's pydantic config model and turned into the pure
async client of :mod:`siapp_siasn.clients`; nothing else happens here, so everything but the
connection lookup stays testable without Airflow. A subclass only names its connection and its
config and client classes. Subclassing providers-http's ``HttpHook`` was considered and
rejected: its session is synchronous (``requests``), it sends every unknown extra as an HTTP
header (our extras hold the SSO password), defaults the scheme to ``http`` and would add HTTP
Basic auth to every call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import pkgutil
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from siapp_siasn.clients.config import ApiConfig
    from siapp_siasn.clients.http import ServiceClient

__all__ = ["ApiHookBase", "run_sync"]

ClientT = TypeVar("ClientT", bound="ServiceClient")
ConfigT = TypeVar("ConfigT", bound="ApiConfig")
R = TypeVar("R")


def run_sync(factory: Callable[[], Coroutine[Any, Any, R]]) -> R:
    """Run a coroutine to completion from synchronous code.

    Uses ``asyncio.run`` in this thread, or a worker thread when an event loop is already
    running here (e.g. inside the triggerer or a notebook).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="siapp-siasn") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def _mask(token: str) -> None:
    """Register a fresh token with Airflow's secrets masker (best effort)."""
    try:
        from airflow.sdk.log import mask_secret

        mask_secret(token)
    except Exception:  # noqa: S110 - masking is defence in depth; never fail a call for it
        pass


class ApiHookBase(BaseHook, Generic[ClientT, ConfigT]):
    """Connection → validated config → pure async client.

    ``Hook(conn_id, **overrides)`` or ``Hook(<conn_name_attr>=conn_id, **overrides)`` (the
    form Airflow uses); ``overrides`` are config fields that win over the connection (e.g.
    ``concurrency=8``).

    Subclasses set the class attributes below. The config and client classes are named by
    import path (``"module:Class"``) and imported on first use: the DAG processor imports the
    hooks, and the clients pull in aiohttp.
    """

    conn_name_attr: ClassVar[str]
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]
    #: import path of the pydantic config model (an :class:`ApiConfig`)
    config_class: ClassVar[str]
    #: import path of the client (a :class:`ServiceClient` with ``from_config``)
    client_class: ClassVar[str]

    def __init__(self, conn_id: str | None = None, /, **overrides: Any) -> None:
        super().__init__()
        named = overrides.pop(self.conn_name_attr, None)
        self.conn_id: str = conn_id or named or self.default_conn_name
        setattr(self, self.conn_name_attr, self.conn_id)
        self.overrides = overrides
        self._config: ConfigT | None = None

    def get_config(self) -> ConfigT:
        """The connection validated into the config model (cached per hook)."""
        if self._config is None:
            model = pkgutil.resolve_name(self.config_class)
            conn = self.get_connection(self.conn_id)
            self._config = model.from_connection(conn, **self.overrides)
        return self._config

    def get_client(self) -> ClientT:
        """A new pure async client (one HTTP session): ``async with hook.get_client() as c``."""
        client = pkgutil.resolve_name(self.client_class)
        return client.from_config(self.get_config(), on_token=_mask)

    def get_conn(self) -> ClientT:
        """Same as :meth:`get_client` (Airflow's conventional name)."""
        return self.get_client()

    def run(self, fn: Callable[[ClientT], Awaitable[R]]) -> tuple[R, dict[str, Any]]:
        """Open a client, await ``fn(client)``, close; return ``(result, metrics)``."""

        async def main() -> tuple[R, dict[str, Any]]:
            async with self.get_client() as client:
                return await fn(client), client.metrics()

        return run_sync(main)

    def test_connection(self) -> tuple[bool, str]:
        """Token round trip against the configured endpoints (no personal data involved)."""
        from pydantic import ValidationError

        from siapp_siasn.clients.errors import ApiError

        try:
            result, _ = self.run(lambda client: client.check_tokens())
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            )
            return False, f"invalid connection: {problems}"
        except (ApiError, ValueError) as exc:
            return False, str(exc)
        tokens = ", ".join(f"{name} token {state}" for name, state in result.items())
        return True, f"Connection successfully tested ({tokens})"

    # The connection form. Airflow 3.2+ takes it from the provider info (``conn-fields``,
    # ``ui-field-behaviour`` in provider_info.py); these legacy methods serve older UIs and
    # tools, from the same source.

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden and relabelled fields of the connection form."""
        from siapp_siasn.hooks.provider_info import ui_field_behaviour

        return ui_field_behaviour(cls.conn_type)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (needs the FAB UI packages)."""
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, FloatField, IntegerField, PasswordField, StringField

        from siapp_siasn.hooks.provider_info import conn_fields

        widgets: dict[str, Any] = {}
        for name, spec in conn_fields(cls.conn_type).items():
            schema = spec["schema"]
            label = lazy_gettext(spec["label"])
            kwargs = {"description": spec.get("description", "")}
            if schema.get("format") == "password":
                widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget(), **kwargs)
            elif schema["type"][0] == "boolean":
                widgets[name] = BooleanField(label, default=schema.get("default"), **kwargs)
            elif schema["type"][0] in ("integer", "number"):
                numeric = IntegerField if schema["type"][0] == "integer" else FloatField
                widgets[name] = numeric(
                    label, widget=BS3TextFieldWidget(), default=schema.get("default"), **kwargs
                )
            else:
                widgets[name] = StringField(
                    label, widget=BS3TextFieldWidget(), default=schema.get("default"), **kwargs
                )
        return widgets
