"""Airflow hooks only: a connection in, a client or a store out.

:class:`SiasnHook` and :class:`SiappHook` (connection types ``siasn``, ``siapp``) build the pure
async clients of :mod:`siapp_siasn.clients`; :class:`StoreHook` builds the hub's
:class:`~siapp_siasn.store.Store`. Keeping Airflow here keeps the clients and the store plain
Python. Names resolve lazily, so importing this package costs nothing until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siapp_siasn.hooks.siapp_hook import SiappHook
    from siapp_siasn.hooks.siasn_hook import SiasnHook
    from siapp_siasn.hooks.store import StoreHook

_LAZY = {
    "SiappHook": "siapp_siasn.hooks.siapp_hook",
    "SiasnHook": "siapp_siasn.hooks.siasn_hook",
    "StoreHook": "siapp_siasn.hooks.store",
}

__all__ = ["SiappHook", "SiasnHook", "StoreHook"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
