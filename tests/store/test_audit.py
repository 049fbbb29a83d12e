"""Quarantine (keyed hash, redacted payload, idempotent per run) and lineage round trips."""

from __future__ import annotations

import json

import siapp_siasn.store
from siapp_siasn.models.redact import keyed_hash as models_keyed_hash
from siapp_siasn.models.redact import redact as models_redact
from siapp_siasn.store import QuarantineItem, Store, keyed_hash

from .conftest import HASH_KEY, make_row


def test_keyless_records_of_one_run_stay_apart(store: Store) -> None:
    """Records without a key are keyed by content: two garbled rows are two rows (counted),
    the same garbled row twice (a retried task, a duplicated page) is one."""
    garbled = [
        QuarantineItem("F1", "enumeration", "", "malformed_row", {"nipBaru": None, "x": 1}),
        QuarantineItem("F1", "enumeration", "", "malformed_row", {"nipBaru": None, "x": 2}),
        QuarantineItem("F1", "enumeration", "", "malformed_row", "<html>"),
    ]
    assert store.quarantine.add([*garbled, garbled[0]], run_id="r") == 3
    assert store.quarantine.add(garbled, run_id="r") == 0
    assert len({q["key_hash"] for q in store.quarantine.list(run_id="r")}) == 3


def test_quarantine_round_trip(store: Store) -> None:
    row = make_row(1)
    raw = {
        "nipBaru": row.nip,
        "nama": "BUDI SANTOSO",
        "tglLahir": "31-02-1972",
        "nik": "3273011503720004",
        "golRuangAkhirId": "42",
        "orang": {"nama": "SITI", "StatusHidup": "1"},
        "catatan": "hubungi budi@example.org",
    }
    items = [
        QuarantineItem("F1", "data-utama", row.nip, "invalid_date", raw, detail="tglLahir"),
        QuarantineItem("F1", "data-utama", make_row(2).nip, "malformed_json", '{"nama": "BUD'),
        QuarantineItem("F1", "referensi", "golongan:99", "unknown_field_type", None),
    ]
    assert store.quarantine.add(items, run_id="run-1") == 3
    # a retried task stores nothing twice
    assert store.quarantine.add(items, run_id="run-1") == 0
    # the next run records again
    assert store.quarantine.add(items[:1], run_id="run-2") == 1

    stored = store.quarantine.list(run_id="run-1")
    assert len(stored) == 3
    first = next(q for q in stored if q["reason"] == "invalid_date")
    assert (
        first["key_hash"]
        == keyed_hash(row.nip, secret=HASH_KEY)
        == store.quarantine.key_hash(row.nip)
    )
    assert first["detail"] == "tglLahir"
    assert first["payload"]["golRuangAkhirId"] == "42"
    assert first["payload"]["orang"]["StatusHidup"] == "1"
    assert first["payload"]["nama"] == "<redacted str len=12>"
    malformed = next(q for q in stored if q["reason"] == "malformed_json")
    assert malformed["payload"] == {"raw": "<redacted str len=13>"}
    text = json.dumps([dict(q, created_at=None) for q in store.quarantine.list()])
    for secret in (row.nip, "BUDI", "SITI", "3273011503720004", "31-02-1972", "budi@", "BUD"):
        assert secret not in text
    stats = store.stats()["quarantine"]
    assert stats == {
        "total": 4,
        "by_reason": {"invalid_date": 2, "malformed_json": 1, "unknown_field_type": 1},
    }


def test_store_redaction_is_the_models_one() -> None:
    # one implementation (tested in tests/models/test_redact.py), re-exported by the store
    assert siapp_siasn.store.redact is models_redact
    assert siapp_siasn.store.keyed_hash is models_keyed_hash


def test_lineage_round_trip(store: Store) -> None:
    record = {
        "lineage_id": "0b7c6d0e-1111-4c4c-9d9d-000000000001",
        "flow": "F1",
        "dag_id": "siasn_asn_daily",
        "run_id": "scheduled__2026-01-05T00:00:00+00:00",
        "task_id": "pull_asn",
        "try_number": 1,
        "source": {"system": "siasn", "endpoint": "/apisiasn/1.0/pns/data-utama/{nip}"},
        "counts": {"read": 10, "valid": 9, "quarantined": 1},
        "upstream": ["0b7c6d0e-1111-4c4c-9d9d-000000000000"],
        "started_at": "2026-01-05T00:00:01+00:00",
        "rate": 12.5,
    }
    lid = store.lineage.write(record)
    assert lid == record["lineage_id"]
    assert store.lineage.get(lid) == record
    # a retry overwrites (try 2), never duplicates
    store.lineage.write({**record, "try_number": 2})
    assert store.stats()["tables"]["lineage"] == 1
    got = store.lineage.get(lid)
    assert got is not None
    assert got["try_number"] == 2
    assert store.lineage.list(dag_id="siasn_asn_daily", run_id=record["run_id"])[0] == got
    assert store.lineage.list(flow="F2") == []

    # nested airflow context and a derived, deterministic id
    nested = {"flow": "F5", "airflow": {"dag_id": "usulan_sync", "task_id": "push"}, "n": 1}
    lid2 = store.lineage.write(nested)
    assert store.lineage.write(nested) == lid2
    assert store.lineage.list(dag_id="usulan_sync") == [nested]
