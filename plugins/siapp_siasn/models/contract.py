"""The SIASN API contract as data: endpoint → field paths and JSON types.

The contract is derived from BKN's own API definition (the WSO2 swagger export of
`apimws.bkn.go.id:8243/apisiasn/1.0`, kept verbatim in `include/contract/source/`) plus the few
fields public clients show that the export lacks (`include/contract/supplements.json`, each with
its source). `include/contract/build_siasn.py` writes `include/contract/siasn.json`; the wheel
ships that file as `siapp_siasn/contract/siasn.json`. The sandbox, the models and the contract
monitor are all checked against it.

Field paths are dotted paths into the envelope's `data`: `listAnak[].nama`, `[].golonganId`
for a top-level array. Types are JSON types: string, integer, boolean, number, object, array.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "ENVELOPES",
    "contract_from_swagger",
    "field_paths",
    "json_type",
    "load_siasn_contract",
]

#: The two envelopes of `model.Result` (reads) and `model.ResultCreate` (writes).
ENVELOPES: dict[str, dict[str, str]] = {
    "result": {"code": "integer", "count": "integer", "data": "any", "message": "string"},
    "result_create": {"success": "boolean", "message": "string", "mapData": "any"},
}

#: Contract name → (HTTP method, swagger path) of every SIASN endpoint the hub calls.
ENDPOINTS: dict[str, tuple[str, str]] = {
    "data-utama": ("get", "/pns/data-utama/{nipBaru}"),
    "data-anak": ("get", "/pns/data-anak/{nipBaru}"),
    "data-ortu": ("get", "/pns/data-ortu/{nipBaru}"),
    "data-pasangan": ("get", "/pns/data-pasangan/{nipBaru}"),
    "rw-golongan": ("get", "/pns/rw-golongan/{nipBaru}"),
    "ref-unor": ("get", "/referensi/ref-unor"),
    "list-kp-instansi": ("get", "/pns/list-kp-instansi"),
    "list-pensiun-instansi": ("get", "/pns/list-pensiun-instansi"),
    "download-dok": ("get", "/download-dok"),
    "upload-dok": ("post", "/upload-dok"),
    "upload-dok-sk-kp": ("post", "/upload-dok-sk-kp"),
}

_REPO_CONTRACT = Path(__file__).resolve().parents[3] / "include" / "contract" / "siasn.json"


@cache
def load_siasn_contract() -> dict[str, Any]:
    """The SIASN contract (shipped in the wheel; the checkout's `include/contract` otherwise)."""
    shipped = resources.files("siapp_siasn").joinpath("contract/siasn.json")
    if shipped.is_file():
        return json.loads(shipped.read_text(encoding="utf-8"))
    return json.loads(_REPO_CONTRACT.read_text(encoding="utf-8"))


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value (`null` for None)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def field_paths(
    value: Any, opaque: frozenset[str] | set[str] = frozenset(), prefix: str = ""
) -> dict[str, set[str]]:
    """Flatten a decoded `data` value into ``{path: {json types seen}}``.

    Objects at a path in `opaque` (free JSON such as `path`) are not descended into. Paths
    follow the contract: `a.b`, `list[].c`, `[].c` for items of a top-level array.
    """
    out: dict[str, set[str]] = {}
    _walk(value, opaque, prefix, out)
    return out


def _walk(
    value: Any, opaque: frozenset[str] | set[str], path: str, out: dict[str, set[str]]
) -> None:
    if path and not path.endswith("[]"):  # array items are described by their fields
        out.setdefault(path, set()).add(json_type(value))
    if path in opaque:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            _walk(item, opaque, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        for item in value:
            _walk(item, opaque, f"{path}[]", out)


def _definition_fields(
    definitions: Mapping[str, Any], schema: Mapping[str, Any], path: str, out: dict[str, str]
) -> None:
    """Resolve a swagger schema into dotted field paths (depth-first, `$ref` followed)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        target = definitions[name]
        if not target.get("properties") and target.get("type") in (None, "object"):
            out[path] = "object"  # free JSON (model.JSONB)
            return
        _definition_fields(definitions, target, path, out)
        return
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind == "array":
        if path:
            out[path] = "array"
        _definition_fields(definitions, schema.get("items", {}), f"{path}[]", out)
        return
    if kind == "object" and "properties" in schema:
        if path and not path.endswith("[]"):
            out[path] = "object"
        for key, sub in schema["properties"].items():
            _definition_fields(definitions, sub, f"{path}.{key}" if path else key, out)
        return
    if path:
        out[path] = kind or "any"


def _data_schema(response: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None, str | None]:
    """(envelope, data schema, definition name) of a swagger 200 response schema."""
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[-1]
        return ("result_create" if name == "model.ResultCreate" else "result", None, None)
    envelope = "result"
    data: Mapping[str, Any] | None = None
    for part in response.get("allOf", []):
        if "$ref" in part and part["$ref"].endswith("model.ResultCreate"):
            envelope = "result_create"
        data = part.get("properties", {}).get("data", data)
    definition = None
    if data is not None:
        ref = data.get("$ref") or data.get("items", {}).get("$ref")
        definition = ref.rsplit("/", 1)[-1] if ref else None
    return envelope, data, definition


def contract_from_swagger(
    swagger: Mapping[str, Any], supplements: Mapping[str, Any]
) -> dict[str, Any]:
    """Build the contract from BKN's swagger export and the documented supplements."""
    definitions = swagger["definitions"]
    base = swagger["basePath"]
    endpoints: dict[str, Any] = {}
    for name, (method, path) in ENDPOINTS.items():
        operation = swagger["paths"][path][method]
        envelope, data, definition = _data_schema(operation["responses"]["200"]["schema"])
        fields: dict[str, str] = {}
        if data is not None:
            _definition_fields(definitions, data, "", fields)
        extra = supplements.get(name, {})
        if extra.get("replace_fields"):
            # The export's type for this endpoint is not what it answers (the reason is noted
            # in the supplement): the supplement's field set replaces it.
            fields = {}
        sources = {key: "swagger" for key in fields}
        for key, kind in extra.get("fields", {}).items():
            fields[key] = kind
            sources[key] = extra["sources"].get(key, extra["sources"].get("*", ""))
        endpoints[name] = {
            "method": method.upper(),
            "path": f"{base}{path}",
            "params": {
                p["name"]: {"in": p["in"], "type": p.get("type", "object")}
                for p in operation.get("parameters", [])
                if p["name"] != "Auth"
            },
            "envelope": envelope,
            "envelope_fields": ENVELOPES[envelope],
            "definition": definition,
            "data": extra.get(
                "data", "array" if data is not None and data.get("type") == "array" else "object"
            ),
            "fields": dict(sorted(fields.items())),
            "field_sources": {k: v for k, v in sorted(sources.items()) if v != "swagger"},
        }
    for name, extra in supplements.items():
        if name.startswith("_") or name in ENDPOINTS:
            continue
        # An endpoint public clients call that the export does not list (documented source).
        fields = dict(sorted(extra["fields"].items()))
        endpoints[name] = {
            "method": extra["method"],
            "path": extra["path"],
            "params": extra.get("params", {}),
            "envelope": extra.get("envelope", "result"),
            "envelope_fields": ENVELOPES[extra.get("envelope", "result")],
            "definition": None,
            "data": extra.get("data", "object"),
            "fields": fields,
            "field_sources": {
                k: extra["sources"].get(k, extra["sources"].get("*", "")) for k in fields
            },
        }
    return {
        "source": {
            **swagger.get("_source", {}),
            "host": swagger["host"],
            "basePath": base,
            "supplements": "include/contract/supplements.json",
        },
        "endpoints": endpoints,
    }
