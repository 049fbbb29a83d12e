"""Retention (issue 14, PKS art. 11): rows and files on both sides of the cutoff; after the
purge exactly the old ones are gone or emptied, the young ones and every lineage row stay, an
owed outbox item stays whatever its age, and a second run purges nothing. On SQLite and on
PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from siapp_siasn.flows.context import FlowConfigError, RunContext
from siapp_siasn.flows.retention import purge_expired
from siapp_siasn.store import Store
from siapp_siasn.store.tables import asn_history, lineage, outbox, quarantine

NOW = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=400)  # past the 365-day cutoff
YOUNG = NOW - dt.timedelta(days=30)
RAW = {"nipBaru": "X", "nik": "3200000000000001", "nama": "RAW BODY"}


def ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def history_row(nip: str, valid_from: dt.datetime, valid_to: dt.datetime | None) -> dict[str, Any]:
    return {
        "nip": nip,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "record_hash": f"h-{nip}-{valid_from:%Y%m%d}",
        "is_active": True,
        "nama": "TYPED",
        "payload": RAW,
    }


def outbox_row(key: str, status: str, updated: dt.datetime) -> dict[str, Any]:
    return {
        "flow": "usulan",
        "entity_id": key,
        "version_hash": f"v-{key}",
        "idempotency_key": key,
        "payload": {"body": key, "nip": "X"},
        "status": status,
        "response": {"ok": True} if status == "sent" else None,
        "created_at": updated - dt.timedelta(days=1),
        "updated_at": updated,
    }


def quarantine_row(n: int, created: dt.datetime) -> dict[str, Any]:
    return {
        "flow": "F1",
        "entity_kind": "asn",
        "key_hash": f"k{n}",
        "reason": "invalid",
        "payload": {"n": n},
        "run_id": f"r{n}",
        "created_at": created,
    }


def lineage_row(lineage_id: str, created: dt.datetime, report: Any) -> dict[str, Any]:
    return {
        "lineage_id": lineage_id,
        "flow": "monitoring_report",
        "record": {"lineage_id": lineage_id, "counts": {"runs": 3}, "extra": {"report": report}},
        "created_at": created,
    }


def write(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("report", encoding="utf-8")
    return str(path)


@pytest.fixture
def filled(store: Store, tmp_path: Path) -> dict[str, Any]:
    """Rows and report files on both sides of the cutoff (NOW - 365 days)."""
    old_dir, young_dir = tmp_path / "reports" / "old", tmp_path / "reports" / "young"
    files = {
        "old_html": write(old_dir / "monitoring_report.html"),
        "old_csv": write(old_dir / "flows.csv"),
        "old_other": write(tmp_path / "keep" / "notes.txt"),  # not a report suffix
        "young_html": write(young_dir / "report.html"),
    }
    with store.transaction() as c:
        c.execute(
            sa.insert(asn_history),
            [
                history_row("A", ago(800), ago(400)),  # closed long ago: emptied
                history_row("A", ago(400), ago(30)),  # closed recently: kept
                history_row("A", ago(30), None),  # open: kept
                history_row("B", ago(900), None),  # open though old: kept
            ],
        )
        c.execute(
            sa.insert(quarantine),
            [quarantine_row(n, OLD) for n in range(5)] + [quarantine_row(9, YOUNG)],
        )
        c.execute(
            sa.insert(outbox),
            [
                outbox_row("sent-old", "sent", OLD),
                outbox_row("dead-old", "dead", OLD),
                outbox_row("rejected-old", "rejected", OLD),
                outbox_row("pending-old", "pending", OLD),
                outbox_row("retry-old", "retry", OLD),
                outbox_row("sent-young", "sent", YOUNG),
            ],
        )
        c.execute(
            sa.insert(lineage),
            [
                lineage_row(
                    "old", OLD, {"html": files["old_html"], "csv": {"flows": files["old_csv"]}}
                ),
                lineage_row("old-txt", OLD, [files["old_other"]]),
                lineage_row("young", YOUNG, {"html": files["young_html"]}),
            ],
        )
    return files


def snapshot(store: Store) -> dict[str, Any]:
    with store.engine.connect() as c:
        history = {
            (nip, valid_to is None, payload == {}, record_hash)
            for nip, valid_to, payload, record_hash in c.execute(
                sa.select(
                    asn_history.c.nip,
                    asn_history.c.valid_to,
                    asn_history.c.payload,
                    asn_history.c.record_hash,
                )
            )
        }
        history_by_hash = {
            h: p for h, p in c.execute(sa.select(asn_history.c.record_hash, asn_history.c.payload))
        }
        boxes = {
            key: (status, payload, response)
            for key, status, payload, response in c.execute(
                sa.select(
                    outbox.c.idempotency_key, outbox.c.status, outbox.c.payload, outbox.c.response
                )
            )
        }
        quarantined = sorted(c.scalars(sa.select(quarantine.c.key_hash)))
        lineage_rows = {
            i: rec for i, rec in c.execute(sa.select(lineage.c.lineage_id, lineage.c.record))
        }
    return {
        "history": history,
        "history_by_hash": history_by_hash,
        "outbox": boxes,
        "quarantine": quarantined,
        "lineage": lineage_rows,
    }


def test_purge_removes_exactly_the_old_and_keeps_lineage(
    store: Store, filled: dict[str, Any]
) -> None:
    before = snapshot(store)
    record = purge_expired(store, 365, run=RunContext(task_id="retention", now=NOW))

    assert record.counts.as_dict() == {
        "history_payloads": 1,
        "quarantine_rows": 5,
        "outbox_bodies": 3,
        "report_files": 2,
    }
    after = snapshot(store)

    # asn_history: only the version closed before the cutoff lost its body; keys and hashes stay
    emptied = {h for h, p in after["history_by_hash"].items() if p == {}}
    assert emptied == {f"h-A-{ago(800):%Y%m%d}"}
    assert {h: p for h, p in after["history_by_hash"].items() if h not in emptied} == {
        h: p for h, p in before["history_by_hash"].items() if h not in emptied
    }
    assert len(after["history"]) == 4

    # quarantine: the five old rows gone, the young one stays
    assert after["quarantine"] == ["k9"]

    # outbox: every row stays; finished old bodies emptied; owed items whole whatever their age
    assert set(after["outbox"]) == set(before["outbox"])
    for key in ("sent-old", "dead-old", "rejected-old"):
        status, payload, response = after["outbox"][key]
        assert payload == {} and response is None, key
        assert status == before["outbox"][key][0]
    for key in ("pending-old", "retry-old", "sent-young"):
        assert after["outbox"][key] == before["outbox"][key], key

    # lineage rows unchanged
    assert after["lineage"] == before["lineage"]

    # report files: old reports removed (and their emptied folder); others stay
    assert not Path(filled["old_html"]).exists() and not Path(filled["old_csv"]).exists()
    assert not Path(filled["old_html"]).parent.exists()
    assert Path(filled["old_other"]).exists()
    assert Path(filled["young_html"]).exists()

    assert record.window["cutoff_utc"] == (NOW - dt.timedelta(days=365)).isoformat()


def test_second_run_purges_nothing(store: Store, filled: dict[str, Any]) -> None:
    run = RunContext(task_id="retention", now=NOW)
    purge_expired(store, 365, run=run)
    once = snapshot(store)
    again = purge_expired(store, 365, run=run)
    assert set(again.counts.as_dict().values()) == {0}
    assert snapshot(store) == once


def test_purge_goes_chunk_by_chunk(store: Store, filled: dict[str, Any]) -> None:
    """Five old quarantine rows in chunks of two: three transactions, all five gone."""
    cutoff = NOW - dt.timedelta(days=365)
    assert store.retention.purge_quarantine(cutoff, chunk=2) == 5
    assert store.retention.purge_outbox_bodies(cutoff, chunk=2) == 3
    assert store.retention.purge_history_payloads(cutoff, chunk=1) == 1
    assert snapshot(store)["quarantine"] == ["k9"]


def test_a_shorter_age_purges_the_young_too(store: Store, filled: dict[str, Any]) -> None:
    record = purge_expired(store, 7, run=RunContext(task_id="retention", now=NOW))
    counts = record.counts.as_dict()
    # plus the version closed 30 days ago, the young quarantine row, the young sent item
    assert counts == {
        "history_payloads": 2,
        "quarantine_rows": 6,
        "outbox_bodies": 4,
        "report_files": 3,
    }
    after = snapshot(store)
    assert after["outbox"]["pending-old"][1] == {"body": "pending-old", "nip": "X"}
    assert after["outbox"]["retry-old"][1] == {"body": "retry-old", "nip": "X"}
    assert sum(1 for _, is_open, empty, _ in after["history"] if is_open and empty) == 0


@pytest.mark.parametrize("bad", [0, -1, True])
def test_max_age_must_be_a_positive_number_of_days(store: Store, bad: Any) -> None:
    with pytest.raises(FlowConfigError):
        purge_expired(store, bad, run=RunContext(now=NOW))
