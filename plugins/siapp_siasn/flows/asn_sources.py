"""Where the F1 list of ASN IV/b+ comes from: the PKS enumeration or a SIASN export file.

``api_mode`` (a SIASN connection extra) picks the source:

* ``pks`` (default): ``GET /apisiasn/1.0/siapp/asn`` pages, with ``updatedSince``.
* ``public``: BKN publishes no enumeration endpoint, so the list comes from the newest
  "Export Data ASN" file an operator drops into ``export_dir`` (downloaded from the SIASN web
  application). CSV only: ``openpyxl`` is not a dependency of the hub, so an ``.xlsx`` export
  must be saved as CSV first (comma or semicolon separated, UTF-8, optional BOM).

Columns read from the export (header names as SIASN writes them, matched case-insensitively
with ``_`` and spaces treated alike; every other column is ignored, so no personal data is read):

======================  ====================================================================
``NIP BARU``            the 18-digit NIP (required)
``GOL AKHIR ID``        golongan id (``42`` = IV/b ... ``45`` = IV/e); rows below IV/b skipped
``KEDUDUKAN HUKUM ID``  kedudukan hukum code (``01`` aktif, ``99`` pensiun, ...)
======================  ====================================================================

The header names are those of SIASN's export as read by the public client
kanekescom/laravel-siasn-simpeg (``src/Transformers/PegawaiCsvTransformer.php``: ``PNS ID``,
``NIP BARU``, ``GOL AKHIR ID``, ``KEDUDUKAN HUKUM ID``, ...). The export has no "updated"
column: every listed NIP is fetched on every run (an incremental plan cannot skip anyone).

Both sources yield rows shaped like the PKS enumeration (``nipBaru``, ``golRuangAkhirId``,
``kedudukanPnsId``, ``updated``), so :func:`siapp_siasn.flows.asn_pull.enumerate_targets`
validates and quarantines them the same way. Employees the mirror holds as active but the
export no longer lists are listed too (without golongan), so that they are fetched and their
departure is recorded with SIASN's reason.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "API_MODES",
    "EXPORT_COLUMNS",
    "AsnSource",
    "ExportFileError",
    "ExportFileSource",
    "PksAsnSource",
    "api_mode_of",
    "newest_export",
    "read_export",
    "source_for",
]

log = logging.getLogger(__name__)

API_MODES = ("pks", "public")
#: the export's columns this hub reads -> the enumeration row key it fills
EXPORT_COLUMNS: dict[str, str] = {
    "NIP BARU": "nipBaru",
    "GOL AKHIR ID": "golRuangAkhirId",
    "KEDUDUKAN HUKUM ID": "kedudukanPnsId",
}
MIN_GOLONGAN = 42  # IV/b
MAX_PNS_GOLONGAN = 45  # IV/e: higher ids are PPPK golongan, never in scope
_SUFFIXES = (".csv",)


class ExportFileError(Exception):
    """The export folder or file cannot serve the NIP list (message names no personal data)."""


class AsnSource(Protocol):
    """An enumeration of ASN IV/b+ as PKS-shaped rows."""

    name: str

    def rows(self, updated_since: date | None) -> AsyncIterator[dict[str, Any]]:
        """Rows ``{nipBaru, golRuangAkhirId, kedudukanPnsId, updated}``."""
        ...


class PksAsnSource:
    """``GET /apisiasn/1.0/siapp/asn`` through the client (the PKS endpoint)."""

    name = "pks"

    def __init__(self, client: Any) -> None:
        self.client = client

    def rows(self, updated_since: date | None) -> AsyncIterator[dict[str, Any]]:
        return self.client.iter_asn(updated_since)


def _norm(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").replace("_", " ").split()).upper()


def newest_export(export_dir: str | Path) -> Path:
    """The newest ``*.csv`` in ``export_dir`` (by modification time, then name)."""
    folder = Path(export_dir)
    if not folder.is_dir():
        raise ExportFileError(f"export_dir {str(folder)!r} is not a folder")
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES]
    if not files:
        xlsx = any(p.suffix.lower() == ".xlsx" for p in folder.iterdir())
        hint = " (an .xlsx export must be saved as CSV)" if xlsx else ""
        raise ExportFileError(f"no Export Data ASN CSV file in export_dir{hint}")
    return max(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def read_export(text: str) -> list[dict[str, Any]]:
    """Enumeration rows of an export's text: IV/b..IV/e only, columns of :data:`EXPORT_COLUMNS`.

    Raises :class:`ExportFileError` when a needed column is missing (named in the message).
    """
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        raise ExportFileError("the export file is empty")
    positions = {_norm(h): i for i, h in enumerate(header)}
    missing = [c for c in EXPORT_COLUMNS if c not in positions]
    if missing:
        raise ExportFileError(f"the export file lacks the column(s) {missing}")
    index = {key: positions[col] for col, key in EXPORT_COLUMNS.items()}
    rows: list[dict[str, Any]] = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        row = {key: (cells[i].strip() if i < len(cells) else "") for key, i in index.items()}
        gol = row["golRuangAkhirId"]
        if gol.isdigit() and not MIN_GOLONGAN <= int(gol) <= MAX_PNS_GOLONGAN:
            continue  # below IV/b, or a PPPK golongan
        # a non-numeric golongan is passed on: the enumeration's validation quarantines it
        ked = row["kedudukanPnsId"]
        row["kedudukanPnsId"] = ked.zfill(2) if ked.isdigit() else ked
        row["nipBaru"] = row["nipBaru"].lstrip("'")  # spreadsheets keep long ids as 'text
        row["updated"] = None
        rows.append(row)
    return rows


class ExportFileSource:
    """The newest "Export Data ASN" CSV in ``export_dir`` (public-API mode)."""

    name = "export"

    def __init__(self, export_dir: str | Path, store: Any = None) -> None:
        self.export_dir = Path(export_dir)
        self.store = store

    async def rows(self, updated_since: date | None) -> AsyncIterator[dict[str, Any]]:
        path = newest_export(self.export_dir)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ExportFileError(f"cannot read the export file {path.name!r}") from exc
        rows = read_export(text)
        listed = {row["nipBaru"] for row in rows}
        gone = sorted(self.store.asn.active_nips() - listed) if self.store is not None else []
        log.info(
            "ASN list from export file %s: %d rows IV/b..IV/e, %d held employees not listed",
            path.name,
            len(rows),
            len(gone),
        )
        for row in rows:
            yield row
        # The export lists active employees only: one who left it is fetched once more, so
        # that the departure (pensiun, wafat, ...) is what SIASN says, not a guess.
        for nip in gone:
            yield {"nipBaru": nip, "golRuangAkhirId": None, "kedudukanPnsId": None, "updated": None}


def api_mode_of(client: Any) -> str:
    """``pks`` or ``public``: the client's ``api_mode`` (from its connection), ``pks`` if none."""
    mode = getattr(client, "api_mode", None) or "pks"
    if mode not in API_MODES:
        raise ValueError(f"api_mode must be one of {API_MODES}")
    return str(mode)


def source_for(client: Any, store: Any = None) -> AsnSource:
    """The enumeration source of the client's mode (``export_dir`` is required in public).

    ``store`` (public mode): its active employees missing from the export are listed too.
    """
    if api_mode_of(client) == "pks":
        return PksAsnSource(client)
    export_dir = getattr(client, "export_dir", None)
    if not export_dir:
        raise ExportFileError("api_mode 'public' needs export_dir (the Export Data ASN folder)")
    return ExportFileSource(export_dir, store)
