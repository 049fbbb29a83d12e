"""The categories of ``flows.reconciliation`` on hand-built inventories."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from siapp_siasn.flows import reconciliation
from siapp_siasn.flows.reconciliation import (
    CATEGORIES,
    DIFF_COLUMNS,
    INVENTORY_COLUMNS,
    INVENTORY_DTYPES,
    iter_reconcile,
    normalize_inventory,
    reconcile,
)

A, B = "a" * 64, "b" * 64
UP, DOWN = "siapp_to_siasn", "siasn_to_siapp"


def inv(*rows: tuple) -> pd.DataFrame:
    """An inventory: rows ``(usulan_id, direction, ref, sha256, size[, status])``."""
    out = []
    for r in rows:
        u, d, ref, sha, size, *status = r
        jenis = "PERTEK" if d == DOWN else "SURAT_PENGANTAR"
        out.append((u, jenis, d, ref, sha, size, status[0] if status else None))
    return pd.DataFrame(out, columns=list(INVENTORY_COLUMNS))


def categories(siapp: pd.DataFrame, siasn: pd.DataFrame, ledger: pd.DataFrame, **kw) -> dict:
    result = reconcile([siapp], [siasn], [ledger], include_ok=True, **kw)
    diff = result.differences
    return {
        (u, d, r): c
        for u, d, r, c in zip(
            diff["usulan_id"],
            diff["direction"].astype(str),
            diff["ref"],
            diff["category"],
            strict=True,
        )
    }


def test_every_category_by_its_rule() -> None:
    siapp = inv(
        ("U1", UP, "d-ok", A, 10),
        ("U1", UP, "d-miss", A, 10),
        ("U1", UP, "d-hash", A, 10),
        ("U2", UP, "d-size", A, 10),
        ("U3", DOWN, "siasn:p-ok", A, 7),
        ("U3", DOWN, "siasn:p-orphan", A, 7),
    )
    siasn = inv(
        ("U1", UP, "d-ok", A, 10),
        ("U1", UP, "d-hash", B, 10),
        ("U2", UP, "d-size", A, 11),
        ("U2", UP, "d-orphan", A, 3),
        ("U2", UP, "d-gone", A, 10),
        ("U3", DOWN, "siasn:p-ok", A, 7),
        ("U3", DOWN, "siasn:p-miss", A, 7),
    )
    ledger = inv(
        ("U1", UP, "d-ok", A, 10, "transferred"),
        ("U2", UP, "d-gone", A, 10, "verified"),
        ("U4", UP, "d-never", A, 10, "refused"),
        ("U4", UP, "d-vanished", A, 10, "transferred"),
    )
    assert categories(siapp, siasn, ledger) == {
        ("U1", UP, "d-ok"): "ok",
        ("U1", UP, "d-miss"): "missing_at_siasn",
        ("U1", UP, "d-hash"): "hash_mismatch",
        ("U2", UP, "d-size"): "size_mismatch",
        ("U2", UP, "d-orphan"): "orphan",
        # the source lost it after it was sent: at the destination or not
        ("U2", UP, "d-gone"): "source_missing",
        ("U4", UP, "d-vanished"): "source_missing",
        ("U4", UP, "d-never"): "ledger_only",
        ("U3", DOWN, "siasn:p-ok"): "ok",
        # pertek: SIASN is the source, SIAPP NV the destination
        ("U3", DOWN, "siasn:p-miss"): "missing_at_siapp",
        ("U3", DOWN, "siasn:p-orphan"): "orphan",
    }


def test_ties() -> None:
    siapp = inv(
        ("U1", UP, "same-hash-other-size", A, 10),
        ("U1", UP, "both-differ", A, 10),
        ("U1", UP, "hash-unknown", None, 10),
        ("U1", UP, "size-unknown", A, None),
    )
    siasn = inv(
        ("U1", UP, "same-hash-other-size", A, 12),
        ("U1", UP, "both-differ", B, 12),
        ("U1", UP, "hash-unknown", A, 10),
        ("U1", UP, "size-unknown", A, 10),
    )
    # in the ledger only, never at either side: missing on both sides
    ledger = inv(("U1", UP, "nowhere", A, 10, "transferred"), ("U1", UP, "queued", A, 1, "pending"))
    assert categories(siapp, siasn, ledger) == {
        ("U1", UP, "same-hash-other-size"): "size_mismatch",
        ("U1", UP, "both-differ"): "size_mismatch",
        ("U1", UP, "hash-unknown"): "ok",
        ("U1", UP, "size-unknown"): "ok",
        ("U1", UP, "nowhere"): "source_missing",
        ("U1", UP, "queued"): "ledger_only",
    }


def test_duplicates_exact_repeats_collapse_conflicts_are_flagged() -> None:
    siapp = inv(
        ("U1", UP, "twice", A, 10),
        ("U1", UP, "twice", A, 10),
        ("U1", UP, "conflict", A, 10),
        ("U1", UP, "conflict", B, 10),
    )
    siasn = inv(("U1", UP, "twice", A, 10), ("U1", UP, "conflict", A, 10))
    result = reconcile([siapp], [siasn], [inv()], include_ok=True)
    got = dict(zip(result.differences["ref"], result.differences["category"], strict=True))
    assert got == {"twice": "ok", "conflict": "duplicate"}
    assert result.counts["duplicate"] == 1 and result.counts["ok"] == 1
    assert result.rows == {"siapp": 4, "siasn": 2, "ledger": 0}


def test_unread_usulan_are_never_missing() -> None:
    """A page that failed validation for U2: its keys are ``unread``, not missing/orphan."""
    siapp = inv(("U1", UP, "d1", A, 10), ("U2", UP, "d2", A, 10))
    siasn = inv(("U2", UP, "d3", A, 10))  # SIASN's page of U2 failed: d2 may well be there
    ledger = inv(("U2", UP, "d4", A, 10, "transferred"))
    result = reconcile([siapp], [siasn], [ledger], unread_usulan={"U2"})
    got = dict(zip(result.differences["ref"], result.differences["category"], strict=True))
    assert got == {"d1": "missing_at_siasn", "d2": "unread", "d3": "unread", "d4": "unread"}
    assert result.counts["unread"] == 3
    assert result.counts["missing_at_siasn"] == 1
    assert result.counts["orphan"] == result.counts["source_missing"] == 0


def test_unread_usulan_are_taken_after_the_inventories_are_read() -> None:
    """The readers learn which usulan are unread while reading (a bad page comes late):
    ``iter_reconcile`` asks for them only once every chunk has been read."""
    unread: set[str] = set()
    broken = {"whole": False}

    def siasn_pages():
        yield inv(("U1", UP, "d1", A, 10))
        unread.add("U2")  # the second page, U2's, failed validation
        broken["whole"] = True  # and a third named no usulan at all

    siapp = inv(("U1", UP, "d1", A, 10), ("U2", UP, "d2", A, 10), ("U3", UP, "d3", A, 10))
    ledger = inv(("U3", UP, "d4", A, 10, "transferred"))
    counts: Counter[str] = Counter()
    parts = iter_reconcile(
        [siapp], siasn_pages(), [ledger], counts=counts, unread_usulan=lambda: unread
    )
    got = {r: c for part in parts for r, c in zip(part["ref"], part["category"], strict=True)}
    assert got == {"d2": "unread", "d3": "missing_at_siasn", "d4": "source_missing"}
    assert counts["unread"] == 1 and counts["ok"] == 1

    # a side not read whole: nothing but ``ok`` is judged
    counts = Counter()
    parts = iter_reconcile(
        [siapp], siasn_pages(), [ledger], counts=counts, incomplete=lambda: broken["whole"]
    )
    got = {r: c for part in parts for r, c in zip(part["ref"], part["category"], strict=True)}
    assert got == {"d2": "unread", "d3": "unread", "d4": "unread"}
    assert counts["unread"] == 3 and counts["ok"] == 1
    assert sum(counts[c] for c in CATEGORIES if c not in ("ok", "unread")) == 0


def _big(n: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows = [(f"U{i // 3}", UP if i % 5 else DOWN, f"r{i}", A, 100 + i) for i in range(n)]
    siapp = inv(*[r for i, r in enumerate(rows) if i % 7 != 1])
    siasn = inv(
        *[
            (u, d, ref, B if i % 11 == 2 else sha, s)
            for i, (u, d, ref, sha, s) in enumerate(rows)
            if i % 13 != 3
        ]
    )
    ledger = inv(*[(*r, "transferred") for i, r in enumerate(rows) if i % 17 != 4])
    return siapp, siasn, ledger


def _chunks(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]


@pytest.mark.parametrize("arrow", [True, False], ids=["arrow", "pickle"])
def test_chunked_spilled_and_whole_give_identical_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arrow: bool
) -> None:
    # without pyarrow: another partition hash and pickle spill files, the same result
    monkeypatch.setattr(reconciliation, "_has_pyarrow", lambda: arrow)
    written: list[str] = []
    spill = reconciliation._Partitions._spill

    def counted(self: reconciliation._Partitions) -> None:
        spill(self)
        written.extend(p.suffix for paths in self.files.values() for p in paths)

    monkeypatch.setattr(reconciliation._Partitions, "_spill", counted)
    siapp, siasn, ledger = _big(3000)
    whole = reconcile([siapp], [siasn], [ledger], include_ok=True, partitions=1)
    chunked = reconcile(
        _chunks(siapp, 211),
        _chunks(siasn, 97),
        _chunks(ledger, 500),
        include_ok=True,
        partitions=7,
        spill_rows=300,  # forces several spills to disk
        workdir=tmp_path,
    )
    pd.testing.assert_frame_equal(whole.differences, chunked.differences)
    assert whole.counts == chunked.counts
    # every key of any side once (2 of the 3000 are in none: i % 7 == 1, 13 == 3, 17 == 4)
    assert sum(whole.counts.values()) == 2998
    assert {"ok", "missing_at_siasn", "missing_at_siapp", "hash_mismatch"} <= {
        c for c, n in whole.counts.items() if n
    }
    assert set(written) == {".arrow" if arrow else ".pkl"}  # it did spill, in that format
    assert list(tmp_path.iterdir()) == []  # spill files are removed


def test_iter_reconcile_yields_only_differences_and_counts_all() -> None:
    siapp, siasn, ledger = _big(600)
    counts: Counter[str] = Counter()
    parts = list(iter_reconcile([siapp], [siasn], [ledger], counts=counts, partitions=4))
    diff = pd.concat(parts, ignore_index=True)
    assert "ok" not in set(diff["category"].astype(str))
    assert len(diff) == sum(n for c, n in counts.items() if c != "ok")
    assert set(counts) == set(CATEGORIES)
    assert list(diff.columns) == list(DIFF_COLUMNS)


def test_normalize_inventory_dtypes_and_errors() -> None:
    raw = pd.DataFrame(
        {
            "usulan_id": [1],
            "jenis": ["X"],
            "direction": [UP],
            "ref": ["r"],
            "sha256": [A.upper()],
            "size": [5],
        }
    )
    out = normalize_inventory(raw)
    assert tuple(out.columns) == INVENTORY_COLUMNS
    assert out["sha256"][0] == A and out["usulan_id"][0] == "1"
    assert {c: str(out[c].dtype) for c in out} == {
        c: str(pd.Series(dtype=d).dtype) if d != "category" else "category"
        for c, d in INVENTORY_DTYPES.items()
    }
    with pytest.raises(ValueError, match="lacks the columns ref"):
        normalize_inventory(raw.drop(columns="ref"))
    with pytest.raises(ValueError, match="no direction"):
        normalize_inventory(raw.assign(direction="sideways"))


def test_empty_inventories() -> None:
    result = reconcile([], [], [])
    assert result.differences.empty
    assert list(result.differences.columns) == list(DIFF_COLUMNS)
    assert set(result.counts.values()) == {0}
