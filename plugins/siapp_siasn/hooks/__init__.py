"""Hooks and async API clients for SIASN (BKN) and SIAPP NV.

Import what you need from the submodules, or from here (names resolve lazily, so importing
this package costs nothing until a name is used):

- Airflow: :class:`SiasnHook`, :class:`SiappHook` (connection types ``siasn``, ``siapp``).
- Pure async clients: :class:`SiasnClient`, :class:`SiappClient`, :class:`ApiClient`.
- Settings: :class:`SiasnConfig`, :class:`SiappConfig`. Errors: :class:`ApiError`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siapp_siasn.hooks.config import SiappConfig, SiasnConfig
    from siapp_siasn.hooks.errors import ApiError, ChecksumMismatchError
    from siapp_siasn.hooks.http import ApiClient
    from siapp_siasn.hooks.ratelimit import RateLimiter
    from siapp_siasn.hooks.siapp import SiappClient
    from siapp_siasn.hooks.siapp_hook import SiappHook
    from siapp_siasn.hooks.siasn import SiasnClient
    from siapp_siasn.hooks.siasn_hook import SiasnHook

_LAZY = {
    "ApiClient": "siapp_siasn.hooks.http",
    "ApiError": "siapp_siasn.hooks.errors",
    "ChecksumMismatchError": "siapp_siasn.hooks.errors",
    "RateLimiter": "siapp_siasn.hooks.ratelimit",
    "SiappClient": "siapp_siasn.hooks.siapp",
    "SiappConfig": "siapp_siasn.hooks.config",
    "SiappHook": "siapp_siasn.hooks.siapp_hook",
    "SiasnClient": "siapp_siasn.hooks.siasn",
    "SiasnConfig": "siapp_siasn.hooks.config",
    "SiasnHook": "siapp_siasn.hooks.siasn_hook",
}

__all__ = [
    "ApiClient",
    "ApiError",
    "ChecksumMismatchError",
    "RateLimiter",
    "SiappClient",
    "SiappConfig",
    "SiappHook",
    "SiasnClient",
    "SiasnConfig",
    "SiasnHook",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
