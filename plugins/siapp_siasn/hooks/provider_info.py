"""Provider metadata: the ``siasn`` and ``siapp`` connection types and their connection form.

Airflow reads :func:`get_provider_info` through the ``apache_airflow_provider`` entry point
(that is how it finds the hooks). The form's fields derive from the pydantic config models, the
one source of truth for the Airflow 3.2+ declarative form (``conn-fields`` /
``ui-field-behaviour``) and for the legacy hook methods ``get_connection_form_widgets`` /
``get_ui_field_behaviour``. Importing this module imports neither Airflow nor the clients.

What the form sends must be what the config reads: numbers are JSON numbers (``integer`` /
``number`` with the model's bounds), booleans booleans, choices an ``enum``, and secrets
(:class:`~pydantic.SecretStr`: the SSO password and token, a proxy URL that may carry a
password) ``format: password``. No field name contains a word Airflow's secrets masker hides
(``token``, ``proxy``, ... — see ``RENAMED_EXTRAS`` in ``clients/config.py``) unless the field is
a secret: a masked default would be shown and saved as ``***``.
"""

from __future__ import annotations

import types
import typing
from typing import Any

__all__ = ["conn_fields", "get_provider_info", "ui_field_behaviour"]

_FROM_CORE_FIELDS = ("base_url", "client_id", "client_secret")
#: Labels that say more than the field name (labels are not masked, names are).
_LABELS = {
    "verify": "Verify TLS (true, false or a CA bundle path)",
    "timeout": "Timeout per attempt (s)",
    "download_timeout": "Timeout per download (s)",
    "rate_limit_rps": "Rate limit (requests/s)",
    "backoff_base_s": "Backoff base (s)",
    "backoff_max_s": "Backoff max (s)",
    "max_retry_after_s": "Longest Retry-After honoured (s)",
    "refresh_early_s": "Refresh tokens early (s before expiry)",
    "proxy": "Proxy URL",
    "trust_env": "Use HTTPS_PROXY / NO_PROXY of the environment",
    "gateway_auth_url": "Gateway token endpoint",
    "sso_auth_url": "SSO token endpoint",
    "auth_url": "Token endpoint",
    "client_auth_method": "Client authentication at the token endpoint",
    "api_mode": "API mode",
}

_BEHAVIOUR: dict[str, dict[str, Any]] = {
    "siasn": {
        "hidden_fields": ["schema", "port"],
        "relabeling": {
            "host": "Base URL",
            "login": "Gateway client ID",
            "password": "Gateway client secret",
        },
        "placeholders": {
            "host": "https://apimws.bkn.go.id:8243",
            "login": "WSO2 consumer key",
            "password": "WSO2 consumer secret",
        },
    },
    "siapp": {
        "hidden_fields": ["schema", "port"],
        "relabeling": {
            "host": "Base URL",
            "login": "Client ID",
            "password": "Client secret",
        },
        "placeholders": {"host": "https://siapp.setneg.go.id"},
    },
}


def _json_type(annotation: Any) -> tuple[list[str], bool, list[Any] | None]:
    """JSON Schema type list of a pydantic field annotation, whether it is a secret, and its
    choices (a ``Literal``)."""
    from pydantic import SecretStr

    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    members = list(args) if origin in (typing.Union, types.UnionType) else [annotation]
    out: list[str] = []
    secret = False
    choices: list[Any] | None = None
    for member in members:
        if member is type(None):
            continue
        if typing.get_origin(member) is typing.Literal:
            choices = list(typing.get_args(member))
            out.append("string")
        elif member is SecretStr:
            secret = True
            out.append("string")
        elif member is bool:
            out.append("boolean")
        elif member is int:
            out.append("integer")
        elif member is float:
            out.append("number")
        else:
            out.append("string")
    # A field that accepts a string (``verify``: bool or CA path) is entered as text.
    if "string" in out:
        out = ["string"]
    return [*dict.fromkeys(out), "null"], secret, choices


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    """JSON Schema bounds of a numeric field from its pydantic constraints (``ge``, ``le``...)."""
    out: dict[str, Any] = {}
    for item in metadata:
        for attr, key in (
            ("ge", "minimum"),
            ("le", "maximum"),
            ("gt", "exclusiveMinimum"),
            ("lt", "exclusiveMaximum"),
        ):
            value = getattr(item, attr, None)
            if value is not None:
                out[key] = value
    return out


def conn_fields(conn_type: str) -> dict[str, dict[str, Any]]:
    """``conn-fields`` of a connection type, derived from its config model."""
    from siapp_siasn.clients.config import SiappConfig, SiasnConfig

    model = {"siasn": SiasnConfig, "siapp": SiappConfig}[conn_type]
    fields: dict[str, dict[str, Any]] = {}
    for name, info in model.model_fields.items():
        if name in _FROM_CORE_FIELDS:
            continue
        types_, secret, choices = _json_type(info.annotation)
        schema: dict[str, Any] = {"type": types_}
        default = info.default
        if default is not None and not secret:
            if types_[0] == "string":
                # ``verify`` (bool or CA path) is text: "true"/"false" as the config parses it
                default = str(default).lower() if isinstance(default, bool) else str(default)
            schema["default"] = default
        if choices is not None:
            schema["enum"] = choices
        if types_[0] in ("integer", "number"):
            schema.update(_bounds(info.metadata))
        if secret:
            schema["format"] = "password"
        fields[name] = {
            "label": _LABELS.get(name) or name.replace("_", " ").capitalize().replace("Sso", "SSO"),
            "schema": schema,
        }
        if info.description:
            fields[name]["description"] = info.description
    return fields


def ui_field_behaviour(conn_type: str) -> dict[str, Any]:
    """Hidden, relabelled and placeholder fields (the hook-method format)."""
    b = _BEHAVIOUR[conn_type]
    return {
        "hidden_fields": list(b["hidden_fields"]),
        "relabeling": dict(b["relabeling"]),
        "placeholders": dict(b["placeholders"]),
    }


def get_provider_info() -> dict[str, Any]:
    """Provider metadata, for ``[project.entry-points.apache_airflow_provider]``."""
    conn_types = []
    for conn_type, hook, name in (
        ("siasn", "siapp_siasn.hooks.siasn_hook.SiasnHook", "SIASN (BKN)"),
        ("siapp", "siapp_siasn.hooks.siapp_hook.SiappHook", "SIAPP NV (Kemensetneg)"),
    ):
        behaviour = ui_field_behaviour(conn_type)
        conn_types.append(
            {
                "connection-type": conn_type,
                "hook-class-name": hook,
                "hook-name": name,
                "conn-fields": conn_fields(conn_type),
                "ui-field-behaviour": {
                    "hidden-fields": behaviour["hidden_fields"],
                    "relabeling": behaviour["relabeling"],
                    "placeholders": behaviour["placeholders"],
                },
            }
        )
    return {
        "package-name": "siapp-siasn",
        "name": "SIAPP NV ⇄ SIASN integration hub",
        "description": "Hooks and connection types for SIASN (BKN) and SIAPP NV (Kemensetneg).",
        "connection-types": conn_types,
    }
