"""The reconciliation report: CSV + self-contained HTML, only the allowed columns."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pandas as pd

from siapp_siasn.flows.reconciliation import INVENTORY_COLUMNS, reconcile
from siapp_siasn.reports.reconciliation import DIFF_COLUMNS, category_chart_png, write_report

A, B = "a" * 64, "b" * 64
UP = "siapp_to_siasn"
#: a personal value a careless caller might leave in an inventory or a difference frame
SECRET_NIP = "198501012010011001"
SECRET_NAME = "BUDI SANTOSO"


def _inventory(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(INVENTORY_COLUMNS))
    # extra columns with personal values: the comparison must not carry them along
    return frame.assign(nip=SECRET_NIP, nama=SECRET_NAME)


def _result() -> tuple[pd.DataFrame, dict[str, int]]:
    siapp = _inventory([("U1", "SP", UP, "d1", A, 10, None), ("U1", "SP", UP, "d2", A, 10, None)])
    siasn = _inventory(
        [("U1", "UPLOAD", UP, "d1", B, 10, None), ("U2", "UPLOAD", UP, "o", A, 1, None)]
    )
    ledger = _inventory([("U1", "SP", UP, "d1", A, 10, "transferred")])
    result = reconcile([siapp], [siasn], [ledger])
    return result.differences, result.counts


def test_report_files_exist_and_hold_only_allowed_columns(tmp_path: Path) -> None:
    diff, counts = _result()
    assert set(diff["category"].astype(str)) == {"hash_mismatch", "missing_at_siasn", "orphan"}
    # a caller's extra column with a personal value is not written either
    paths = write_report(diff.assign(nama=SECRET_NAME), counts, tmp_path / "out", name="run1")
    assert paths.csv == tmp_path / "out" / "run1.csv" and paths.csv.is_file()
    assert paths.html == tmp_path / "out" / "run1.html" and paths.html.is_file()
    written = pd.read_csv(paths.csv, dtype=str, keep_default_na=False)
    assert tuple(written.columns) == DIFF_COLUMNS
    assert len(written) == 3
    page = paths.html.read_text()
    for text in (paths.csv.read_text(), page):
        assert SECRET_NIP not in text and SECRET_NAME not in text
    # every value in the CSV is an id, a category, a direction, a jenis, a hash, a size or status
    allowed = re.compile(
        r"^(|U\d|d\d|o|[ab]{64}|\d{1,3}|siapp_to_siasn|SP|UPLOAD|transferred"
        r"|hash_mismatch|missing_at_siasn|orphan)$"
    )
    assert all(allowed.match(v) for v in written.to_numpy().ravel())
    assert set(written["category"]) == {"hash_mismatch", "missing_at_siasn", "orphan"}


def test_html_is_self_contained_with_a_png_chart(tmp_path: Path) -> None:
    diff, counts = _result()
    page = write_report(diff, counts, tmp_path).html.read_text()
    found = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert found is not None
    assert base64.b64decode(found.group(1)).startswith(b"\x89PNG\r\n\x1a\n")
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere
    for category, n in counts.items():
        assert f"<td>{category}</td><td class=n>{n:,}</td>" in page


def test_chunked_differences_and_empty_result(tmp_path: Path) -> None:
    diff, counts = _result()
    chunks = (diff.iloc[i : i + 1] for i in range(len(diff)))
    paths = write_report(chunks, counts, tmp_path, name="chunked")
    assert len(pd.read_csv(paths.csv)) == len(diff)
    empty = write_report([], dict.fromkeys(counts, 0), tmp_path, name="empty")
    assert tuple(pd.read_csv(empty.csv).columns) == DIFF_COLUMNS
    assert "No differences." in empty.html.read_text()


def test_chart_png() -> None:
    png = category_chart_png({"ok": 5, "orphan": 1})
    assert png.startswith(b"\x89PNG") and len(png) > 1000
