"""Shared Airflow hook machinery for the SIASN and SIAPP NV hooks (thin over the pure clients).

The hooks only read the connection, validate it into a config model and build the async
client; everything else lives in pure modules importable without Airflow. Subclassing
providers-http's ``HttpHook`` was considered and rejected: its session is synchronous
(``requests``), it sends every unknown extra as an HTTP header (our extras hold the SSO
password), defaults the scheme to ``http`` and would add HTTP Basic auth to every call.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from siapp_siasn.clients.config import ApiConfig

__all__ = ["ApiHookBase", "run_sync"]

C = TypeVar("C")
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


class ApiHookBase(BaseHook, Generic[C]):
    """Connection → validated config → pure async client."""

    conn_attr: ClassVar[str]

    def __init__(self, conn_id: str, **overrides: Any) -> None:
        super().__init__()
        setattr(self, self.conn_attr, conn_id)
        self.conn_id = conn_id
        self.overrides = overrides
        self._config: Any = None

    # subclasses set these
    @classmethod
    @abc.abstractmethod
    def _config_class(cls) -> type[ApiConfig]:
        """The pydantic settings model of the connection."""

    @abc.abstractmethod
    def _client_from_config(self, config: Any) -> C:
        """The pure async client for validated settings."""

    def get_config(self) -> Any:
        """The connection validated into the config model (cached per hook)."""
        if self._config is None:
            conn = self.get_connection(self.conn_id)
            self._config = self._config_class().from_connection(conn, **self.overrides)
        return self._config

    def get_client(self) -> C:
        """A new pure async client (one HTTP session): ``async with hook.get_client() as c``."""
        return self._client_from_config(self.get_config())

    def get_conn(self) -> C:
        """Same as :meth:`get_client` (Airflow's conventional name)."""
        return self.get_client()

    def run(self, fn: Callable[[C], Awaitable[R]]) -> tuple[R, dict[str, Any]]:
        """Open a client, await ``fn(client)``, close; return ``(result, metrics)``."""

        async def main() -> tuple[R, dict[str, Any]]:
            client: Any = self.get_client()
            async with client:
                result = await fn(client)
                return result, client.metrics()

        return run_sync(main)

    def test_connection(self) -> tuple[bool, str]:
        """Token round trip against the configured endpoints (no personal data involved)."""
        from pydantic import ValidationError

        from siapp_siasn.clients.errors import ApiError

        try:
            result, _ = self.run(lambda client: client.check_tokens())  # type: ignore[attr-defined]
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

    @staticmethod
    def _form_widgets(conn_type: str) -> dict[str, Any]:
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import IntegerField, PasswordField, StringField

        from siapp_siasn.hooks.provider_info import conn_fields

        widgets: dict[str, Any] = {}
        for name, spec in conn_fields(conn_type).items():
            schema = spec["schema"]
            label = lazy_gettext(spec["label"])
            kwargs = {"description": spec.get("description", "")}
            if schema.get("format") == "password":
                widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget(), **kwargs)
            elif schema["type"][0] == "integer":
                widgets[name] = IntegerField(
                    label, widget=BS3TextFieldWidget(), default=schema.get("default"), **kwargs
                )
            else:
                widgets[name] = StringField(
                    label, widget=BS3TextFieldWidget(), default=schema.get("default"), **kwargs
                )
        return widgets
