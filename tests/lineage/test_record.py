"""The lineage record's shape and the rules that turn problems into failed tasks (pure units,
plus the store's ``latest`` on a real SQLite file)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from siapp_siasn.flows.reconciliation_run import ReconcileParams, unrepairable_failure
from siapp_siasn.flows.usulan_push import PUSH_COUNTS, PushParams, dead_letter_failure
from siapp_siasn.lineage import Counts, Endpoint, LineageRecord, upstream_ids, upstream_refs
from siapp_siasn.operators.base import verdict_problems
from siapp_siasn.operators.openlineage import (
    RUN_FACET,
    datasets_of,
    operator_lineage,
    run_facet_fields,
)
from siapp_siasn.store import Store
from siapp_siasn.summary import _run_line, counts_text

#: a record as rows stored before this shape hold it: bare upstream ids, endpoint objects,
#: the clients' telemetry inside, counts under the pull's names whatever the flow
OLD_ROW: dict[str, Any] = {
    "lineage_id": "0b7c6d0e-1111-4c4c-9d9d-000000000001",
    "flow": "F5-F8",
    "dag_id": "usulan_sync",
    "run_id": "scheduled__2026-01-05",
    "task_id": "push_siasn",
    "try_number": 1,
    "source": {"system": "hub-store", "endpoint": "outbox"},
    "target": {"system": "siasn", "endpoint": "/apisiasn/1.0/siapp/usulan"},
    "window": {"now": "2026-01-05T01:00:00+00:00"},
    "counts": {"read": 3, "valid": 0, "inserted": 2, "failed": 1, "unchanged": 0},
    "upstream": ["0b7c6d0e-1111-4c4c-9d9d-000000000000"],
    "requests": {"siasn": {"requests": 7, "retries": 1}, "siapp": {"requests": 2}},
    "extra": {"dead_lettered": 1},
    "failures": [],
}


def _push_record(**fields: Any) -> LineageRecord:
    return LineageRecord(
        flow="F5-F8",
        title="F5-F8 usulan → SIASN",
        counts=Counts.named(*PUSH_COUNTS),
        source=Endpoint(system="hub-store", endpoint="outbox"),
        target=Endpoint(system="siasn", endpoint="/apisiasn/1.0/siapp/{usulan,pic}, upload-dok"),
        **fields,
    )


# ---- thresholds --------------------------------------------------------------------------


def test_dead_letters_over_the_threshold_name_the_counts() -> None:
    assert dead_letter_failure(13, 0, sent=40, deferred=2) == (
        "13 dead letters this run (threshold 0); 40 sent, 2 deferred — view v_outbox_dead"
    )
    assert dead_letter_failure(1, 0, sent=0, deferred=0) == (
        "1 dead letter this run (threshold 0); 0 sent, 0 deferred — view v_outbox_dead"
    )
    assert dead_letter_failure(0, 0, sent=40, deferred=2) is None  # none: no problem
    assert dead_letter_failure(5, 5, sent=1, deferred=0) is None  # at the threshold: tolerated
    assert dead_letter_failure(6, 5, sent=1, deferred=0) is not None
    assert dead_letter_failure(99, None, sent=1, deferred=0) is None  # no threshold: never


def test_unrepairable_documents_over_the_threshold_name_the_count() -> None:
    assert unrepairable_failure(2, 0) == (
        "2 documents flagged unrepairable this run (threshold 0) — see reconciliation_item "
        "and the report"
    )
    assert unrepairable_failure(0, 0) is None
    assert unrepairable_failure(3, 3) is None
    assert unrepairable_failure(3, None) is None


def test_negative_thresholds_are_configuration_errors() -> None:
    from siapp_siasn.flows.context import FlowConfigError

    with pytest.raises(FlowConfigError, match="max_dead_letters"):
        PushParams(target="siasn", max_dead_letters=-1)
    with pytest.raises(FlowConfigError, match="max_unrepairable"):
        ReconcileParams(max_unrepairable=-1)


def test_the_verdict_names_each_failed_task_and_ignores_the_rest() -> None:
    states = {
        "collect": "success",
        "push_siasn": "failed",
        "status_back": "success",
        "push_siapp": "failed",
        "later": "upstream_failed",
        "skipped_one": "skipped",
    }
    records = {"push_siasn": {"failures": ["2 dead letters this run (threshold 0); ..."]}}
    assert verdict_problems(states, records) == [
        "later: not run (an upstream task failed) — see its log",
        "push_siapp: failed — see its log",  # failed by an exception: no record of problems
        "push_siasn: 2 dead letters this run (threshold 0); ...",
    ]
    assert verdict_problems({"collect": "success", "push": "skipped"}, {}) == []


# ---- the record's shape ------------------------------------------------------------------


def test_counts_are_the_flows_own_names_in_order_and_an_unset_name_reads_zero() -> None:
    record = _push_record()
    record.counts.add(due=12, sent=10, failed=2, dead=2)
    assert list(record.to_xcom()["counts"].items()) == [
        ("due", 12),
        ("sent", 10),
        ("failed", 2),
        ("dead", 2),
        ("deferred", 0),
    ]
    assert record.counts.inserted == 0 and "inserted" not in record.to_xcom()["counts"]
    # a flow that names no counts gets its flow's names (the ASN pull)
    pull = LineageRecord(
        flow="F1",
        source=Endpoint(system="siasn", endpoint="x"),
        target=Endpoint(system="h", endpoint="y"),
    )
    assert list(pull.to_xcom()["counts"])[:6] == [
        "read",
        "inserted",
        "updated",
        "unchanged",
        "quarantined",
        "departed",
    ]
    assert pull.title == "F1 ASN IV/b+ ← SIASN (data utama, keluarga)"
    # a checkpoint's counts come back equal (a resumed pull continues them)
    pull.counts.add(read=3, valid=2)
    assert pull.counts.model_validate(pull.counts.model_dump()) == pull.counts


def test_a_push_record_reads_top_down_within_sixty_lines() -> None:
    record = _push_record(
        dag_id="usulan_sync",
        run_id="scheduled__2026-01-05T01:00:00+00:00",
        task_id="push_siasn",
        try_number=1,
        window={"due_by": "2026-01-05T01:00:00+00:00"},
        upstream=[
            {"lineage_id": "u-1", "dag_id": "usulan_sync", "task_id": "collect", "flow": "F5-F8"}
        ],
    )
    record.counts.add(due=55, sent=40, failed=15, dead=13, deferred=2)
    record.failures.append(dead_letter_failure(13, 0, sent=40, deferred=2) or "")
    record.reference("dead_letters", 13, "view v_outbox_dead (outbox status dead)")
    record.content_digest = "sha256sum:" + "0" * 64
    record.requests = {
        "siasn": {"requests": 500, "endpoints": {f"GET /e{i}": {} for i in range(40)}}
    }
    record.extra = {
        "by_flow": {
            f: "sent 10, failed 4, dead 3"
            for f in ("usulan", "verifikasi-setneg", "keppres", "pic")
        },
        "errors": {"DocumentIntegrityError": 3, "ApiError:400": 10},
        "documents": {"uploaded": 80, "refused": 3},
        "max_attempts": 8,
    }
    record.finish(0.0)
    lines = json.dumps(record.to_xcom(), indent=2, ensure_ascii=False).splitlines()
    assert len(lines) <= 60, "\n".join(lines)
    keys = [line.split('"')[1] for line in lines if line.startswith('  "')]
    assert keys[:12] == [
        "title",
        "flow",
        "dag_id",
        "run_id",
        "task_id",
        "try_number",
        "lineage_id",
        "window",
        "counts",
        "failures",
        "upstream",
        "references",
    ]
    assert next(i for i, line in enumerate(lines) if line.startswith('  "counts"')) < 20
    assert "requests" not in record.to_xcom()  # telemetry: its own XCom key
    assert record.to_xcom()["source"] == "hub-store: outbox"


def test_rows_stored_before_still_read_and_summarise() -> None:
    record = LineageRecord.model_validate(OLD_ROW)
    assert record.upstream[0].lineage_id == OLD_ROW["upstream"][0]
    assert record.source.endpoint == "outbox"
    assert record.counts.inserted == 2 and record.counts.dead == 0
    line = _run_line(OLD_ROW)
    assert (line["requests"], line["retries"]) == (9, 1)
    assert line["upstream"] == OLD_ROW["upstream"]
    new = _run_line(_push_record(upstream=["u-1"]).to_xcom())
    assert new["title"] == "F5-F8 usulan → SIASN" and new["upstream"] == ["u-1"]
    assert counts_text({"sent": 40, "failed": 0, "dead": 13}) == "sent 40, dead 13"


def test_upstream_references_come_from_the_upstream_records() -> None:
    values = [
        {"lineage_id": "a", "dag_id": "d", "task_id": "collect", "flow": "F5-F8", "counts": {}},
        None,
        {"no": "record"},
    ]
    assert upstream_ids(values) == ["a"]
    (ref,) = upstream_refs(values[0])
    assert ref.model_dump() == {
        "lineage_id": "a",
        "dag_id": "d",
        "task_id": "collect",
        "flow": "F5-F8",
    }


def test_latest_finds_the_newest_record_of_a_flow(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.migrate()
    assert store.lineage.latest(flow="F1") is None
    for n in range(3):
        store.lineage.write(
            {
                "lineage_id": f"pull-{n}",
                "flow": "F1",
                "dag_id": "siasn_asn_daily",
                "task_id": "pull_asn",
            }
        )
    store.lineage.write({"lineage_id": "other", "flow": "F2", "dag_id": "siasn_asn_daily"})
    assert store.lineage.latest(flow="F1")["lineage_id"] == "pull-2"
    assert store.lineage.latest(dag_id="siasn_asn_daily")["lineage_id"] == "other"


# ---- OpenLineage -------------------------------------------------------------------------


def test_openlineage_facets_come_from_the_record() -> None:
    record = _push_record(upstream=["u-1"])
    record.counts.add(sent=3, dead=1)
    record.failures.append("1 dead letter this run (threshold 0); 3 sent, 0 deferred")
    payload = record.to_xcom()
    assert datasets_of(payload["target"]) == [
        ("siasn", "/apisiasn/1.0/siapp/{usulan,pic}"),
        ("siasn", "upload-dok"),
    ]
    assert datasets_of({"system": "hub-store", "endpoint": "a; b"}) == [
        ("hub-store", "a"),
        ("hub-store", "b"),
    ]
    lineage = operator_lineage(payload)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("hub-store", "outbox")]
    assert [d.name for d in lineage.outputs] == ["/apisiasn/1.0/siapp/{usulan,pic}", "upload-dok"]
    facet = lineage.run_facets[RUN_FACET]
    assert facet.counts == {"due": 0, "sent": 3, "failed": 0, "dead": 1, "deferred": 0}
    assert facet.failures == record.failures and facet.upstream == ["u-1"]
    assert run_facet_fields(payload)["lineage_id"] == record.lineage_id
    assert operator_lineage(None) is None


def test_without_the_openlineage_provider_there_are_no_facets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a module set to None in sys.modules raises ImportError on import: provider absent
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)
    assert operator_lineage(_push_record().to_xcom()) is None
