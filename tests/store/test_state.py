"""Watermarks and checkpoints, alone and in the same transaction as a batch."""

from __future__ import annotations

import datetime as dt

import pytest

from siapp_siasn.store import Store

from .conftest import T0, make_row, snapshot


class Boom(RuntimeError):
    pass


def test_watermark_round_trip(store: Store) -> None:
    assert store.state.get_watermark("asn.updated_since") is None
    store.state.set_watermark("asn.updated_since", dt.date(2026, 1, 5))
    assert store.state.get_watermark("asn.updated_since") == "2026-01-05"
    store.state.set_watermark("asn.updated_since", dt.datetime(2026, 1, 6, 7, 0, tzinfo=dt.UTC))
    assert store.state.get_watermark("asn.updated_since") == "2026-01-06T07:00:00+00:00"
    store.state.set_watermark("usulan.cursor", "opaque-cursor")
    assert store.state.get_watermark("usulan.cursor") == "opaque-cursor"
    assert store.stats()["tables"]["sync_state"] == 2


def test_checkpoint_round_trip(store: Store) -> None:
    assert store.state.load_checkpoint("run-1", "asn") is None
    store.state.save_checkpoint("run-1", "asn", 3, {"offset": 3000, "nips": ["a", "b"]})
    store.state.save_checkpoint("run-1", "asn", 4, {"offset": 4000, "nips": []})
    store.state.save_checkpoint("run-1", "family", 1, None)
    cp = store.state.load_checkpoint("run-1", "asn")
    assert cp is not None
    assert (cp.batch_no, cp.state) == (4, {"offset": 4000, "nips": []})
    assert cp.updated_at.tzinfo is not None
    assert store.state.clear_checkpoint("run-1", "asn") == 1
    assert store.state.load_checkpoint("run-1", "asn") is None
    assert store.state.load_checkpoint("run-1", "family") is not None
    assert store.state.clear_checkpoint("run-1") == 1
    assert store.state.load_checkpoint("run-1", "family") is None


def test_batch_checkpoint_and_watermark_commit_together(store: Store) -> None:
    counts = store.asn.apply_batch(
        [make_row(i) for i in range(5)],
        "run-1",
        T0,
        checkpoint=("run-1", "asn", 0, {"offset": 5}),
        watermark=("asn.updated_since", "2026-01-05"),
    )
    assert counts.inserted == 5
    cp = store.state.load_checkpoint("run-1", "asn")
    assert cp is not None
    assert cp.state == {"offset": 5}
    assert store.state.get_watermark("asn.updated_since") == "2026-01-05"


def test_failure_in_transaction_leaves_neither(store: Store) -> None:
    store.asn.apply_batch([make_row(0)], "run-0", T0)
    store.state.set_watermark("asn.updated_since", "2026-01-04")
    before = snapshot(store)
    with pytest.raises(Boom), store.transaction() as conn:
        store.asn.apply_batch([make_row(i, version=1) for i in range(5)], "run-1", T0, conn=conn)
        store.state.save_checkpoint("run-1", "asn", 0, {"offset": 5}, conn=conn)
        store.state.set_watermark("asn.updated_since", "2026-01-05", conn=conn)
        # visible inside the transaction ...
        assert store.state.get_watermark("asn.updated_since", conn=conn) == "2026-01-05"
        raise Boom("after the last write")
    # ... and gone after the rollback
    assert snapshot(store) == before
    assert store.state.get_watermark("asn.updated_since") == "2026-01-04"
    assert store.state.load_checkpoint("run-1", "asn") is None


def test_failing_batch_does_not_save_its_checkpoint(store: Store) -> None:
    store.state.save_checkpoint("run-1", "asn", 0, {"offset": 0})
    bad = make_row(1)
    bad.record_hash = None  # type: ignore[assignment]  # NOT NULL in the database
    with pytest.raises(Exception, match=r"asn\.apply_batch failed"):
        store.asn.apply_batch(
            [make_row(0), bad],
            "run-1",
            T0,
            checkpoint=("run-1", "asn", 1, {"offset": 2}),
            watermark=("asn.updated_since", "2026-01-05"),
        )
    cp = store.state.load_checkpoint("run-1", "asn")
    assert cp is not None
    assert cp.batch_no == 0
    assert store.state.get_watermark("asn.updated_since") is None
    assert store.stats()["tables"]["asn"] == 0
