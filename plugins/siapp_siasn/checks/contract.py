"""Compare a sampled API answer with what it should look like, and classify the differences.

What an endpoint should answer is an :class:`Expectation`: field paths (``a.b``, ``list[].c``,
``[].c`` for items of a top-level array, as :func:`siapp_siasn.models.contract.field_paths`
spells them) with the JSON types each may take, the opaque paths (free JSON, not descended
into) and the fields holding a code of a reference table. It comes from the SIASN contract
(``include/contract/siasn.json``) for the endpoints BKN documents, and from the hub's pydantic
model (its JSON Schema, wire names) for the PKS and SIAPP NV endpoints.

:func:`compare` classifies drift as the agreement's change notice needs it: a new field is
``info``; an unseen reference code ``warning``; a missing or retyped field ``breaking`` (as is a
broken envelope, found by :func:`unwrap_envelope`). Findings carry names and JSON types only,
and the code itself for an unseen reference value (a code, never a personal value).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from siapp_siasn.checks.findings import Finding
from siapp_siasn.models.contract import field_paths, json_type, load_siasn_contract

__all__ = [
    "ENVELOPES",
    "Expectation",
    "compare",
    "expectation_from_contract",
    "expectation_from_model",
    "unwrap_envelope",
    "values_at",
]

#: the answer shapes the hub reads: SIASN ``model.Result``, a PKS list inside it, a
#: ``/referensi_siasn`` page, a SIAPP NV cursor page
ENVELOPES = ("result", "pks_list", "referensi", "siapp_page")
#: values that mean "no value" on SIASN (not codes)
_NULL_FORMS = frozenset({"", "undefined", "null", "-"})


@dataclass(frozen=True)
class Expectation:
    """What one endpoint's ``data`` should look like (see the module docstring)."""

    system: str
    endpoint: str
    fields: Mapping[str, frozenset[str]]
    opaque: frozenset[str] = frozenset()
    #: field path -> reference table whose ids its values must be
    codes: Mapping[str, str] = field(default_factory=dict)
    #: fields that may be absent (a model's optional field); contract fields are always served
    optional: frozenset[str] = frozenset()


def expectation_from_contract(
    system: str, endpoint: str, name: str, codes: Mapping[str, str] | None = None
) -> Expectation:
    """The SIASN contract's field set of endpoint ``name`` (e.g. ``data-utama``)."""
    spec = load_siasn_contract()["endpoints"][name]["fields"]
    fields = {path: frozenset({kind}) for path, kind in spec.items()}
    # an object the contract does not describe further is free JSON (e.g. data-utama `path`)
    opaque = frozenset(
        p
        for p, kind in spec.items()
        if kind == "object" and not any(q.startswith(p + ".") for q in spec)
    )
    return Expectation(system, endpoint, fields, opaque, dict(codes or {}))


def _schema_types(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> set[str]:
    if "$ref" in schema:
        return {"object"}
    if "anyOf" in schema:
        out: set[str] = set()
        for part in schema["anyOf"]:
            out |= _schema_types(part, defs)
        return out
    kind = schema.get("type")
    if isinstance(kind, list):
        return set(kind)
    if isinstance(kind, str):
        return {kind}
    if "enum" in schema or "const" in schema:
        return {json_type(v) for v in schema.get("enum", [schema.get("const")])}
    return {"string", "integer", "number", "boolean", "object", "array", "null"}


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The object schema to descend into, if ``schema`` is one object model (or an array of
    one); None for free JSON or a union of shapes (treated as opaque)."""
    if "$ref" in schema:
        return defs[schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        parts = [p for p in schema["anyOf"] if p.get("type") != "null"]
        return _resolve(parts[0], defs) if len(parts) == 1 else None
    if schema.get("type") == "object" and "properties" in schema:
        return schema
    return None


def _flatten(
    schema: Mapping[str, Any],
    defs: Mapping[str, Any],
    prefix: str,
    fields: dict[str, frozenset[str]],
    opaque: set[str],
    optional: set[str],
) -> None:
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        types = _schema_types(prop, defs)
        fields[path] = frozenset(types - {"null"}) or frozenset({"null"})
        if name not in required:
            optional.add(path)
        items = prop.get("items") if prop.get("type") == "array" else None
        inner = _resolve(items, defs) if isinstance(items, Mapping) else _resolve(prop, defs)
        if inner is not None and "properties" in inner:
            _flatten(inner, defs, f"{path}[]." if items else f"{path}.", fields, opaque, optional)
        elif "object" in types:
            opaque.add(path)


def expectation_from_model(
    system: str,
    endpoint: str,
    model: type[BaseModel],
    *,
    array: bool = False,
    codes: Mapping[str, str] | None = None,
) -> Expectation:
    """The wire field set of ``model`` (its JSON Schema by alias); ``array``: the endpoint's
    ``data`` is a list of such rows (paths ``[].x``)."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    defs = schema.get("$defs", {})
    fields: dict[str, frozenset[str]] = {}
    opaque: set[str] = set()
    optional: set[str] = set()
    _flatten(schema, defs, "[]." if array else "", fields, opaque, optional)
    return Expectation(
        system, endpoint, fields, frozenset(opaque), dict(codes or {}), frozenset(optional)
    )


def unwrap_envelope(
    envelope: str, body: Any, system: str, endpoint: str
) -> tuple[Any, Finding | None]:
    """``(data, None)`` of an answer in ``envelope``, or ``(None, finding)`` when the body is
    not that envelope (``broken_envelope``, breaking). ``data`` is None for SIASN's "no data"
    (``code`` 0)."""

    def broken(problem: str) -> tuple[Any, Finding]:
        detail = {"problem": problem, "envelope": envelope, "actual": json_type(body)}
        return None, Finding("drift", "breaking", system, endpoint, "broken_envelope", "", detail)

    if not isinstance(body, Mapping):
        return broken("the body is not a JSON object")
    if envelope in ("result", "pks_list"):
        if "code" not in body:
            return broken("no `code` in the envelope")
        code = str(body["code"])
        if code == "0":
            return None, None
        if code != "1":
            return broken("`code` is neither 1 nor 0")
        if "data" not in body:
            return broken("no `data` in the envelope")
        data = body["data"]
        if envelope == "pks_list":
            if not isinstance(data, Mapping) or not isinstance(data.get("list", ()), list | None):
                return broken("`data.list` is not a list")
            return data.get("list") or [], None
        return data, None
    if envelope == "referensi":
        if not isinstance(body.get("results"), list):
            return broken("`results` is not a list")
        return body["results"], None
    if envelope == "siapp_page":
        if not isinstance(body.get("data"), list):
            return broken("`data` is not a list")
        if "next_cursor" not in body:
            return broken("no `next_cursor`")
        return body["data"], None
    raise ValueError(f"unknown envelope {envelope!r}; one of {ENVELOPES}")


def values_at(value: Any, path: str) -> Iterator[Any]:
    """Every value at ``path`` (``a.b``, ``list[].c``, ``[].c``) of a decoded answer."""
    if not path:
        yield value
        return
    if path.startswith("[]"):
        if isinstance(value, list):
            rest = path[2:].removeprefix(".")
            for item in value:
                yield from values_at(item, rest)
        return
    head, dot, rest = path.partition(".")
    key, brackets, _ = head.partition("[]")
    if not isinstance(value, Mapping) or key not in value:
        return
    inner = value[key]
    if brackets:
        if isinstance(inner, list):
            for item in inner:
                yield from values_at(item, rest)
        return
    if dot:
        yield from values_at(inner, rest)
    else:
        yield inner


def _parent(path: str) -> str:
    if "." in path:
        return path.rsplit(".", 1)[0]
    return "[]" if path.startswith("[]") else ""


#: spellings SIASN serves for a contract name besides the casing variants (which the models
#: accept too: camelCase, snake_case, PascalCase): ``gelarBlk`` is pns.OrangResp's spelling of
#: ``gelarBelakang`` (docs/CONTRACT.md; :class:`siapp_siasn.models.siasn.DataUtama`)
ALIASES: dict[str, str] = {"gelarBlk": "gelarBelakang"}


def _norm(name: str) -> str:
    return name.replace("_", "").lower()


def _canonical(
    observed: Mapping[str, set[str]], fields: Mapping[str, frozenset[str]]
) -> dict[str, set[str]]:
    """``observed`` with each spelling variant of a contract name renamed to that name (the
    models read the variants as the same field: they are not drift)."""
    by_parent: dict[str, dict[str, str]] = {}
    for path in fields:
        parent, leaf = _split(path)
        by_parent.setdefault(parent, {})[_norm(leaf)] = leaf
    renamed: dict[str, str] = {}
    out: dict[str, set[str]] = {}
    for path in sorted(observed, key=lambda p: p.count(".")):
        parent, leaf = _split(path)
        base, brackets = (parent[:-2], "[]") if parent.endswith("[]") else (parent, "")
        parent = renamed.get(base, base) + brackets
        name = leaf
        if _join(parent, leaf) not in fields:
            known = by_parent.get(parent, {})
            name = known.get(_norm(ALIASES.get(leaf, leaf)), leaf)
        target = _join(parent, name)
        renamed[path] = target
        out.setdefault(target, set()).update(observed[path])
    return out


def _split(path: str) -> tuple[str, str]:
    if "." in path:
        parent, _, leaf = path.rpartition(".")
        return parent, leaf
    return "", path


def _join(parent: str, leaf: str) -> str:
    return f"{parent}.{leaf}" if parent else leaf


def _containers(data: Any, observed: Mapping[str, set[str]]) -> set[str]:
    """Paths whose object the sample holds (their fields are expected): the root, each path
    seen as an object, each array path whose items were seen (``list[]``)."""
    out = set()
    if isinstance(data, Mapping):
        out.add("")
    if isinstance(data, list) and any(isinstance(i, Mapping) for i in data):
        out.add("[]")
    for path, types in observed.items():
        if "object" in types:
            out.add(path)
        if "array" in types and any(p.startswith(path + "[].") for p in observed):
            out.add(path + "[]")
    return out


def compare(
    expected: Expectation, data: Any, known_codes: Mapping[str, set[str]] | None = None
) -> list[Finding]:
    """Findings of one sampled ``data`` against ``expected``, ordered by field path.

    ``known_codes``: reference table -> ids the hub holds; a code field whose table is known
    and non-empty is checked (an unknown code is ``unseen_value``, warning)."""
    sys_, ep = expected.system, expected.endpoint
    observed = _canonical(
        {p: t for p, t in field_paths(data, expected.opaque).items() if not p.endswith("[]")},
        expected.fields,
    )
    containers = _containers(data, observed)
    out: list[Finding] = []

    new = sorted(p for p in observed if p not in expected.fields)
    # a new object's own fields are part of it: report the top-most new path only
    new_top = [p for p in new if _parent(p).removesuffix("[]") not in new]
    missing = sorted(
        p
        for p in expected.fields
        if p not in observed and _parent(p) in containers and p not in expected.optional
    )
    for path in missing:
        allowed = sorted(expected.fields[path])
        detail: dict[str, Any] = {"expected": allowed}
        siblings = [
            n
            for n in new_top
            if _parent(n) == _parent(path) and observed[n] - {"null"} <= set(allowed)
        ]
        if len(siblings) == 1:
            detail["possibly_renamed_to"] = siblings[0].rsplit(".", 1)[-1]
        out.append(Finding("drift", "breaking", sys_, ep, "missing_field", path, detail))
    for path in sorted(observed):
        if path not in expected.fields:
            continue
        actual = observed[path] - {"null"}
        allowed = expected.fields[path]
        if actual and not actual <= allowed:
            detail = {"expected": sorted(allowed), "actual": sorted(actual)}
            out.append(Finding("drift", "breaking", sys_, ep, "retyped_field", path, detail))
    for path in new_top:
        detail = {"actual": sorted(observed[path])}
        out.append(Finding("drift", "info", sys_, ep, "new_field", path, detail))
    retyped = {f.subject for f in out if f.code == "retyped_field"}
    for path, table in sorted(expected.codes.items()):
        known = (known_codes or {}).get(table)
        if not known or path in retyped:
            continue
        unseen = sorted(
            {
                str(v)
                for v in values_at(data, path)
                if isinstance(v, str | int)
                and not isinstance(v, bool)
                and str(v).strip() not in _NULL_FORMS
                and str(v) not in known
            }
        )
        for value in unseen:
            detail = {"reference": table, "value": value}
            out.append(Finding("drift", "warning", sys_, ep, "unseen_value", path, detail))
    return sorted(out, key=lambda f: (f.subject, f.code))
