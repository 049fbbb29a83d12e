"""Document reconciliation: compare the inventories of SIAPP NV, SIASN and the hub's ledger.

Pure logic (pandas), no API or store I/O: the callers read the three inventories and hand them
over as iterables of DataFrame chunks with :data:`INVENTORY_COLUMNS`.

Identity of a document across the sides (the key)
-------------------------------------------------
``(usulan_id, direction, ref)``. ``ref`` is the hub's document identity, the ledger's
``doc_id``: the SIAPP NV document id for documents going SIAPP NV → SIASN (usulan documents, the
Keppres copy), ``"siasn:<dok_id>"`` for documents going SIASN → SIAPP NV (pertek, ralat pertek).
The inventory readers translate to it: SIAPP NV lists its own ids; the SIASN list gives ``dok_id``,
mapped through the ledger's ``target_dok_id`` to the ``doc_id`` when the hub uploaded it (else
:func:`siasn_ref`, which then meets no source: an orphan). ``usulan_id + jenis + direction``
is not a key: an usulan carries several documents of one jenis, and SIASN lists every uploaded
document as ``UPLOAD``; ``jenis`` is therefore carried along, not compared.

Which side is the source: ``siapp_to_siasn`` (usulan documents, Keppres) SIAPP NV → SIASN;
``siasn_to_siapp`` (pertek) SIASN → SIAPP NV. The ledger counts as "sent" when its ``status``
is in :data:`SENT_STATUSES`.

Categories (one per key, the first rule that holds)
---------------------------------------------------
1. ``unread``: the caller marked the usulan unread (an inventory page failed validation): the key
   is not judged; never ``missing_*`` because a page could not be read.
2. ``duplicate``: one inventory holds the key twice with different ``sha256``/``size``
   (exact repeats are collapsed silently).
3. source and destination hold it: ``size_mismatch`` when both sizes are known and differ (also
   when the hashes agree: a hash cannot match two lengths), else ``hash_mismatch`` when both
   hashes are known and differ, else ``ok`` (an unknown value is not a mismatch).
4. only the source holds it: ``missing_at_siasn`` / ``missing_at_siapp`` (the destination).
5. the source lacks it and the ledger says it was sent: ``source_missing`` (destination or not).
6. only the destination holds it: ``orphan``.
7. only a ledger row that was never sent (pending, refused, failed): ``ledger_only``.

Bounded memory
--------------
Each chunk is split into P partitions by a hash of ``usulan_id`` (all documents of one usulan
meet in one partition); partitions stay in memory up to ``spill_rows`` rows in all, then go
to files in a temporary directory (uncompressed Arrow IPC/feather when pyarrow is installed:
written and read once, so no parquet encoding is worth its time; else pickle). The sides are
then compared partition by partition, so the peak is about one partition of three sides plus the
spill buffer, whatever the size of the inventories.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siapp_siasn.reports.reconciliation import DIFF_COLUMNS
from siapp_siasn.store.documents import INVENTORY_COLUMNS, INVENTORY_DTYPES, LEDGER_DIRECTIONS

__all__ = [
    "CATEGORIES",
    "DIFF_COLUMNS",
    "DIRECTIONS",
    "INVENTORY_COLUMNS",
    "INVENTORY_DTYPES",
    "KEY",
    "SENT_STATUSES",
    "SIDES",
    "Reconciliation",
    "empty_inventory",
    "iter_reconcile",
    "normalize_inventory",
    "reconcile",
    "siasn_ref",
]

#: Direction values (as ``document_ledger.direction`` and ``flows.usulan_push`` write them).
DIRECTION_TO_SIASN, DIRECTION_TO_SIAPP = LEDGER_DIRECTIONS
DIRECTIONS: tuple[str, ...] = LEDGER_DIRECTIONS

# INVENTORY_COLUMNS / INVENTORY_DTYPES (the one column set of every inventory chunk: ``ref`` is
# the ledger's ``doc_id`` convention above, ``status`` the ledger's, None on the API sides,
# ``sha256`` 64 lowercase hex characters) live with the store, whose ledger reader yields them
# (the store may not import flows); re-exported here.

#: The key of a document across the sides.
KEY: tuple[str, ...] = ("usulan_id", "direction", "ref")

#: The three inventories, in the order of :func:`reconcile`'s arguments.
SIDES: tuple[str, ...] = ("siapp", "siasn", "ledger")

#: Ledger statuses that mean the document reached its destination.
SENT_STATUSES: frozenset[str] = frozenset({"transferred", "verified"})

#: Every category, in report order.
CATEGORIES: tuple[str, ...] = (
    "ok",
    "missing_at_siasn",
    "missing_at_siapp",
    "hash_mismatch",
    "size_mismatch",
    "orphan",
    "source_missing",
    "ledger_only",
    "duplicate",
    "unread",
)

_CATEGORY_DTYPE = pd.CategoricalDtype(CATEGORIES)


def siasn_ref(dok_id: str) -> str:
    """The ``ref`` of a SIASN document the ledger does not know (as the push flow names pertek)."""
    return f"siasn:{dok_id}"


def empty_inventory() -> pd.DataFrame:
    """An inventory with no rows (the column set and dtypes of :data:`INVENTORY_COLUMNS`)."""
    return normalize_inventory(pd.DataFrame({c: [] for c in INVENTORY_COLUMNS}))


def normalize_inventory(chunk: pd.DataFrame) -> pd.DataFrame:
    """``chunk`` with exactly :data:`INVENTORY_COLUMNS` in :data:`INVENTORY_DTYPES`.

    ``status`` may be absent (the API sides); other columns must be there (ValueError names the
    missing ones, never a value). Hashes are lower-cased; an empty key part becomes ``""``.
    """
    absent = [c for c in INVENTORY_COLUMNS if c not in chunk.columns and c != "status"]
    if absent:
        raise ValueError(f"inventory chunk lacks the columns {', '.join(absent)}")
    out = pd.DataFrame(index=pd.RangeIndex(len(chunk)))
    for col in INVENTORY_COLUMNS:
        if col not in chunk.columns:
            out[col] = pd.Series(pd.NA, index=out.index, dtype=INVENTORY_DTYPES[col])
            continue
        series = chunk[col].reset_index(drop=True)
        if col in ("usulan_id", "ref"):
            series = series.astype("str").fillna("")
        elif col == "sha256":
            series = series.astype("str").str.lower()
        elif col == "direction":
            unknown = ~series.astype("str").isin(DIRECTIONS)
            if unknown.any():
                raise ValueError(f"inventory chunk has {int(unknown.sum())} rows of no direction")
        out[col] = series.astype(INVENTORY_DTYPES[col])
    return out


# -- partitioning and spilling ----------------------------------------------------------------


#: per byte position (mod 32) an odd multiplier: fixed, so a usulan lands in the same partition
#: in every chunk and every run
_MULT = np.random.default_rng(20261130).integers(1, 2**63, size=32, dtype=np.uint64) | np.uint64(1)


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _string_hash(values: pd.Series) -> np.ndarray:
    """A 64-bit hash of each string, computed on the Arrow buffers with numpy (pandas'
    ``hash_array`` would first build a Python object per value: seconds per million)."""
    import pyarrow as pa

    arr = pa.array(values, type=pa.large_string(), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    lengths = np.diff(offsets).astype(np.uint64)
    sums = np.zeros(n, dtype=np.uint64)
    if n and offsets[-1] > offsets[0]:
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
        start = offsets[:-1] - offsets[0]
        within = np.arange(len(data), dtype=np.int64) - np.repeat(start, lengths.astype(np.int64))
        weighted = (data.astype(np.uint64) + np.uint64(1)) * _MULT[within & 31]
        filled = lengths > 0
        sums[filled] = np.add.reduceat(weighted, start[filled])
    h = sums ^ (lengths * np.uint64(0x9E3779B97F4A7C15))
    # splitmix64's finaliser: every input bit reaches every output bit
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


def _partition_of(usulan_id: pd.Series, partitions: int) -> np.ndarray:
    if _has_pyarrow():
        hashed = _string_hash(usulan_id)
    else:
        hashed = pd.util.hash_array(usulan_id.to_numpy(dtype=object), categorize=True)
    return (hashed % np.uint64(partitions)).astype(np.int64)


class _Partitions:
    """Partitions of the three inventories: in memory up to ``spill_rows`` rows, then on disk."""

    def __init__(self, partitions: int, spill_rows: int, workdir: Path | None) -> None:
        self.n = partitions
        self.spill_rows = spill_rows
        self.workdir = workdir
        self.own_dir: Path | None = None
        self.held: dict[tuple[str, int], list[pd.DataFrame]] = {}
        self.held_rows = 0
        self.files: dict[tuple[str, int], list[Path]] = {}
        self.arrow = _has_pyarrow()
        self.seq = 0

    def add(self, side: str, chunk: pd.DataFrame) -> int:
        frame = normalize_inventory(chunk)
        if frame.empty:
            return 0
        part = _partition_of(frame["usulan_id"], self.n)
        for p, piece in frame.groupby(part, sort=False):
            self.held.setdefault((side, int(p)), []).append(piece)
        self.held_rows += len(frame)
        if self.held_rows > self.spill_rows:
            self._spill()
        return len(frame)

    def _dir(self) -> Path:
        if self.own_dir is None:
            self.own_dir = Path(tempfile.mkdtemp(prefix="recon-", dir=self.workdir))
        return self.own_dir

    def _spill(self) -> None:
        root = self._dir()
        for (side, p), pieces in self.held.items():
            frame = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
            self.seq += 1
            if self.arrow:
                path = root / f"{side}-{p}-{self.seq}.arrow"
                frame.reset_index(drop=True).to_feather(path, compression="uncompressed")
            else:
                path = root / f"{side}-{p}-{self.seq}.pkl"
                frame.to_pickle(path)
            self.files.setdefault((side, p), []).append(path)
        self.held.clear()
        self.held_rows = 0

    def in_memory(self) -> bool:
        """True when nothing went to disk."""
        return not self.files

    def take(self, side: str, group: Iterable[int]) -> pd.DataFrame:
        """Partitions ``group`` of ``side`` (removed from memory and disk as they are taken)."""
        pieces: list[pd.DataFrame] = []
        for p in group:
            pieces += self.held.pop((side, p), [])
            for path in self.files.pop((side, p), []):
                pieces.append(pd.read_feather(path) if self.arrow else pd.read_pickle(path))  # noqa: S301
                path.unlink()
        if not pieces:
            return empty_inventory()
        # pieces of several chunks carry different categories: one dtype set again
        return pd.concat(pieces, ignore_index=True).astype(INVENTORY_DTYPES)

    def close(self) -> None:
        self.held.clear()
        self.files.clear()
        if self.own_dir is not None:
            shutil.rmtree(self.own_dir, ignore_errors=True)
            self.own_dir = None


# -- the comparison of one partition ----------------------------------------------------------

#: separates the key parts in the one key string (a control character no id contains)
_SEP = "\x1f"


def _key_codes(frames: Mapping[str, pd.DataFrame]) -> tuple[list[np.ndarray], int]:
    """Per side, the key of every row as an integer shared by the sides; and the number of keys.

    ``usulan_id`` and ``ref`` are joined into one string and factorised once for all sides
    (no 3-column join, no sort); the direction's category code makes the last bit.
    """
    joined = pd.concat(
        [frames[s]["usulan_id"] + _SEP + frames[s]["ref"] for s in SIDES], ignore_index=True
    )
    text, _ = pd.factorize(joined)
    direction = np.concatenate([frames[s]["direction"].cat.codes.to_numpy() for s in SIDES])
    codes, uniques = pd.factorize(text.astype(np.int64) * 2 + direction)
    out, start = [], 0
    for s in SIDES:
        out.append(codes[start : start + len(frames[s])])
        start += len(frames[s])
    return out, len(uniques)


def _as_str(values: pd.Series) -> pd.Series:
    """A categorical as strings without a Python object per row (categories taken by code)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = pd.Series(values.cat.categories.astype("str"), dtype="str")
        return pd.Series(cats.array.take(values.cat.codes.to_numpy(), allow_fill=True))
    return values.astype("str")


def _gather(values: pd.Series, pos: np.ndarray) -> pd.Series:
    """``values`` at the row positions ``pos`` (-1: missing)."""
    return pd.Series(values.array.take(pos, allow_fill=True))


def _compare(
    frames: Mapping[str, pd.DataFrame], unread: frozenset[str], *, partial: bool = False
) -> pd.DataFrame:
    """Every key of one partition with its category (columns :data:`DIFF_COLUMNS`); with
    ``partial`` (a side was not read whole) every key not ``ok`` is ``unread``.

    The keys of the three sides are factorised together; each side becomes an array of row
    positions per key (-1: not there), so no join (and no sort) is needed.
    """
    side_codes, n = _key_codes(frames)
    if n == 0:
        return pd.DataFrame({c: [] for c in DIFF_COLUMNS})
    pos: dict[str, np.ndarray] = {}
    is_dup = np.zeros(n, bool)
    for side, c in zip(SIDES, side_codes, strict=True):
        frame = frames[side]
        where = np.full(n, -1, dtype=np.int64)
        where[c] = np.arange(len(c))
        pos[side] = where
        repeated = np.bincount(c, minlength=n) > 1
        if repeated.any():
            # exact repeats collapse; the same key with other values is a ``duplicate``
            rows = repeated[c]
            sub = pd.DataFrame(
                {
                    "code": c[rows],
                    "sha256": frame["sha256"].array[rows],
                    "size": frame["size"].array[rows],
                }
            ).drop_duplicates()
            is_dup[sub["code"][sub["code"].duplicated()].to_numpy()] = True
    has = {s: pos[s] >= 0 for s in SIDES}
    col = {
        (s, name): _gather(frames[s][name], pos[s])
        for s in SIDES
        for name in ("usulan_id", "ref", "sha256", "size")
    }
    # the key parts of the first side that holds the key
    first = np.where(has["siapp"], 0, np.where(has["siasn"], 1, 2))
    usulan_id = col[("siapp", "usulan_id")].where(first != 1, col[("siasn", "usulan_id")])
    usulan_id = usulan_id.where(first != 2, col[("ledger", "usulan_id")])
    ref = col[("siapp", "ref")].where(first != 1, col[("siasn", "ref")])
    ref = ref.where(first != 2, col[("ledger", "ref")])
    dir_codes = np.full(n, -1, dtype=np.int8)
    for k, s in enumerate(SIDES):
        here = first == k
        dir_codes[here] = frames[s]["direction"].cat.codes.to_numpy()[pos[s][here]]
    direction = pd.Categorical.from_codes(dir_codes, dtype=INVENTORY_DTYPES["direction"])
    jenis = _as_str(_gather(frames["siapp"]["jenis"], pos["siapp"]))
    for s in ("siasn", "ledger"):
        jenis = jenis.fillna(_as_str(_gather(frames[s]["jenis"], pos[s])))

    to_siasn = dir_codes == DIRECTIONS.index(DIRECTION_TO_SIASN)
    has_src = np.where(to_siasn, has["siapp"], has["siasn"])
    has_dst = np.where(to_siasn, has["siasn"], has["siapp"])
    sha_a, sha_b = col[("siapp", "sha256")], col[("siasn", "sha256")]
    size_a, size_b = col[("siapp", "size")], col[("siasn", "size")]
    size_diff = (size_a != size_b).fillna(False).to_numpy(dtype=bool)
    size_diff &= size_a.notna().to_numpy() & size_b.notna().to_numpy()
    known = sha_a.notna().to_numpy() & sha_b.notna().to_numpy()
    sha_diff = (sha_a != sha_b).to_numpy(dtype=bool) & known
    ledger_status = _as_str(_gather(frames["ledger"]["status"], pos["ledger"]))
    sent = ledger_status.isin(SENT_STATUSES).to_numpy() & has["ledger"]
    is_unread = usulan_id.isin(unread).to_numpy() if unread else np.zeros(n, bool)
    both = has_src & has_dst
    category = np.select(
        [is_unread, is_dup, both & size_diff, both & sha_diff, both, has_src, sent, has_dst],
        [
            "unread",
            "duplicate",
            "size_mismatch",
            "hash_mismatch",
            "ok",
            np.where(to_siasn, "missing_at_siasn", "missing_at_siapp"),
            "source_missing",
            "orphan",
        ],
        default="ledger_only",
    )
    if partial:
        category = np.where(category == "ok", category, "unread")
    out = pd.DataFrame(
        {
            "category": pd.Categorical(category, dtype=_CATEGORY_DTYPE),
            "usulan_id": usulan_id,
            "direction": direction,
            "jenis": jenis,
            "ref": ref,
        }
    )
    for s in SIDES:
        out[f"{s}_sha256"] = col[(s, "sha256")]
        out[f"{s}_size"] = col[(s, "size")]
    out["ledger_status"] = ledger_status
    return out[list(DIFF_COLUMNS)]


# -- the public API -----------------------------------------------------------------------------


@dataclass
class Reconciliation:
    """The result of :func:`reconcile`: the differences (every key not ``ok``, or every key
    with ``include_ok``), the count per category and the rows read per side."""

    differences: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def iter_reconcile(
    siapp: Iterable[pd.DataFrame],
    siasn: Iterable[pd.DataFrame],
    ledger: Iterable[pd.DataFrame],
    *,
    unread_usulan: Collection[str] | Callable[[], Collection[str]] = (),
    incomplete: bool | Callable[[], bool] = False,
    counts: Counter[str] | None = None,
    rows: Counter[str] | None = None,
    include_ok: bool = False,
    partitions: int = 16,
    spill_rows: int = 1_000_000,
    workdir: Path | None = None,
) -> Iterator[pd.DataFrame]:
    """The differences, one DataFrame (columns :data:`DIFF_COLUMNS`) per partition.

    Reads the three inventories (chunks of :data:`INVENTORY_COLUMNS`) once, partitions them
    (spilling past ``spill_rows`` rows), then compares partition by partition. Keys of the
    usulan in ``unread_usulan`` (an inventory page of theirs failed validation) are counted
    ``unread`` and never judged; with ``incomplete`` (a side could not be read whole) every key
    that is not ``ok`` is. Both may be callables: they are evaluated once every inventory has
    been read, since the readers learn which pages were bad only while reading. ``counts`` (per
    category) and ``rows`` (read per side) are updated as the partitions go, when given.
    """
    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    counts = counts if counts is not None else Counter()
    for c in CATEGORIES:
        counts.setdefault(c, 0)
    store = _Partitions(partitions, spill_rows, workdir)
    try:
        for side, chunks in zip(SIDES, (siapp, siasn, ledger), strict=True):
            for chunk in chunks:
                n = store.add(side, chunk)
                if rows is not None:
                    rows[side] += n
        # the readers know which usulan they could not read only now that they are done
        unread_ids = unread_usulan() if callable(unread_usulan) else unread_usulan
        unread = frozenset(str(u) for u in unread_ids)
        partial = bool(incomplete() if callable(incomplete) else incomplete)
        # nothing spilled: everything fits in ``spill_rows``, one comparison is cheapest
        groups = [range(partitions)] if store.in_memory() else [[p] for p in range(partitions)]
        for group in groups:
            frames = {s: store.take(s, group) for s in SIDES}
            if not any(len(f) for f in frames.values()):
                continue
            result = _compare(frames, unread, partial=partial)
            counts.update(result["category"].value_counts().to_dict())
            diff = result if include_ok else result[result["category"] != "ok"]
            if len(diff):
                yield diff.reset_index(drop=True)
    finally:
        store.close()


def reconcile(
    siapp: Iterable[pd.DataFrame],
    siasn: Iterable[pd.DataFrame],
    ledger: Iterable[pd.DataFrame],
    **options: Any,
) -> Reconciliation:
    """All of :func:`iter_reconcile` at once: the differences ordered by key, the counts.

    Options as :func:`iter_reconcile` (``unread_usulan``, ``include_ok``, ``partitions``,
    ``spill_rows``, ``workdir``). The differences are kept in memory: meant for results much
    smaller than the inventories; iterate :func:`iter_reconcile` otherwise.
    """
    counts: Counter[str] = Counter()
    rows: Counter[str] = Counter({s: 0 for s in SIDES})
    parts = list(iter_reconcile(siapp, siasn, ledger, counts=counts, rows=rows, **options))
    if parts:
        diff = pd.concat(parts, ignore_index=True)
        diff["category"] = diff["category"].astype(_CATEGORY_DTYPE)
        diff = diff.sort_values(["usulan_id", "direction", "ref"], ignore_index=True)
    else:
        diff = _compare({s: empty_inventory() for s in SIDES}, frozenset())
    return Reconciliation(
        differences=diff,
        counts={c: int(counts[c]) for c in CATEGORIES},
        rows=dict(rows),
    )
