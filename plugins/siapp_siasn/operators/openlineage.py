"""OpenLineage facets of a hub task, built from its lineage record.

`apache-airflow-providers-openlineage` is optional (extra ``openlineage``): nothing here is
imported at module level, and :func:`operator_lineage` returns None when the provider or the
client is absent, so the operators behave the same without it. With it, the provider's
listener asks each operator for ``get_openlineage_facets_on_complete`` (``HubOperator``) and
emits the inputs, outputs and a ``siapp_siasn`` run facet (counts, problems, references,
digest: ids and numbers only, no personal data).
"""

from __future__ import annotations

import functools
from typing import Any

#: the run facet's key in the OpenLineage event
RUN_FACET = "siapp_siasn"
#: no published JSON Schema: a stable URN names the facet and its version
_SCHEMA_URL = "urn:siapp-siasn:openlineage:SiappSiasnRunFacet:1"


def datasets_of(endpoint: dict[str, Any] | str | None) -> list[tuple[str, str]]:
    """``(namespace, name)`` per endpoint template or table of a record's source or target
    (``"system: endpoint"``, or the object of older rows): the system is the namespace; a
    comma-separated list is several datasets (braces stay)."""
    if isinstance(endpoint, str):
        system, _, rest = endpoint.partition(": ")
        endpoint = {"system": system, "endpoint": rest}
    endpoint = endpoint or {}
    system = str(endpoint.get("system") or "unknown")
    names = [part.strip() for part in _split_top_level(str(endpoint.get("endpoint") or ""))]
    return [(system, name) for name in names if name]


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside braces and on ``;`` (``/pns/{a,b}, upload-dok`` → 2 names)."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(depth - 1, 0)
        if ch in ",;" and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def run_facet_fields(record: dict[str, Any]) -> dict[str, Any]:
    """What the run facet carries from a record: identity, counts, problems, references."""
    return {
        "lineage_id": str(record.get("lineage_id") or ""),
        "flow": str(record.get("flow") or ""),
        "title": str(record.get("title") or record.get("flow") or ""),
        "counts": {k: int(v) for k, v in (record.get("counts") or {}).items()},
        "failures": [str(f) for f in record.get("failures") or []],
        "references": {
            name: int((ref or {}).get("count") or 0)
            for name, ref in (record.get("references") or {}).items()
        },
        "upstream": [
            str(u.get("lineage_id") if isinstance(u, dict) else u)
            for u in record.get("upstream") or []
        ],
        "content_digest": record.get("content_digest"),
    }


@functools.cache
def _facet_class() -> type:
    import attr
    from openlineage.client.facet_v2 import RunFacet

    @attr.define
    class SiappSiasnRunFacet(RunFacet):  # type: ignore[misc]
        """Counts and problems of one hub task run (ids and numbers only)."""

        lineage_id: str
        flow: str
        title: str
        counts: dict[str, int]
        failures: list[str]
        references: dict[str, int]
        upstream: list[str]
        content_digest: str | None = None

        @staticmethod
        def _get_schema() -> str:
            return _SCHEMA_URL

    return SiappSiasnRunFacet


def operator_lineage(record: dict[str, Any] | None) -> Any:
    """An ``OperatorLineage`` for ``record`` (None without a record or without the provider)."""
    if not record:
        return None
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset
    except ImportError:
        return None
    return OperatorLineage(
        inputs=[Dataset(namespace=ns, name=n) for ns, n in datasets_of(record.get("source"))],
        outputs=[Dataset(namespace=ns, name=n) for ns, n in datasets_of(record.get("target"))],
        run_facets={RUN_FACET: _facet_class()(**run_facet_fields(record))},
    )
