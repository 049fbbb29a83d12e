"""Provider metadata: the ``siasn`` and ``siapp`` connection types and their connection form.

Airflow reads :func:`get_provider_info` through the ``apache_airflow_provider`` entry point
(that is how it finds the hooks). The form's fields derive from the pydantic config models, the
one source of truth for the Airflow 3.2+ declarative form (``conn-fields`` /
``ui-field-behaviour``) and for the legacy hook methods ``get_connection_form_widgets`` /
``get_ui_field_behaviour``. Importing this module imports neither Airflow nor the clients.
"""

from __future__ import annotations

import types
import typing
from typing import Any

__all__ = ["conn_fields", "get_provider_info", "ui_field_behaviour"]

_FROM_CORE_FIELDS = ("base_url", "client_id", "client_secret")

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


def _json_type(annotation: Any) -> tuple[list[str], bool]:
    """JSON Schema type list of a pydantic field annotation, and whether it is a secret."""
    from pydantic import SecretStr

    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    members = list(args) if origin in (typing.Union, types.UnionType) else [annotation]
    out: list[str] = []
    secret = False
    for member in members:
        if member is type(None):
            continue
        if member is SecretStr:
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
    return [*dict.fromkeys(out), "null"], secret


def conn_fields(conn_type: str) -> dict[str, dict[str, Any]]:
    """``conn-fields`` of a connection type, derived from its config model."""
    from siapp_siasn.clients.config import SiappConfig, SiasnConfig

    model = {"siasn": SiasnConfig, "siapp": SiappConfig}[conn_type]
    fields: dict[str, dict[str, Any]] = {}
    for name, info in model.model_fields.items():
        if name in _FROM_CORE_FIELDS:
            continue
        types_, secret = _json_type(info.annotation)
        schema: dict[str, Any] = {"type": types_}
        default = info.default
        if default is not None and not secret:
            schema["default"] = str(default).lower() if isinstance(default, bool) else default
            if types_[0] == "string":
                schema["default"] = str(schema["default"])
        if secret:
            schema["format"] = "password"
        fields[name] = {
            "label": name.replace("_", " ").capitalize().replace("Sso", "SSO"),
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
