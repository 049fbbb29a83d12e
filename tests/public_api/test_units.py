"""Units of the public-API mode: the export file, the layanan models on hand-written
real-shaped rows, the mapping of a public status row, and ref-dokumen ids read by name."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest

from siapp_siasn.flows import asn_sources
from siapp_siasn.flows.asn_sources import ExportFileError, read_export
from siapp_siasn.flows.context import FlowConfigError
from siapp_siasn.flows.usulan_rules import RefDokumenError, ref_dokumen_id
from siapp_siasn.flows.usulan_sync import public_status_row
from siapp_siasn.models.errors import validate_payload
from siapp_siasn.models.layanan import KpInstansiRow, PensiunInstansiRow
from siapp_siasn.models.pks import StatusUsulanRow

NIP_A = "199001012015011001"
NIP_B = "198502022010012002"
NIP_C = "197003032000031003"
#: the header of SIASN's export as kanekescom/laravel-siasn-simpeg reads it (abridged)
HEADER = "PNS ID,NIP BARU,NIP LAMA,NAMA,GOL AKHIR ID,GOL AKHIR NAMA,KEDUDUKAN HUKUM ID,UNOR ID"


def _csv(*rows: str, header: str = HEADER) -> str:
    return "\n".join((header, *rows)) + "\n"


# ---------------------------------------------------------------------------- export file
def test_export_rows_keep_ivb_and_above_of_pns_only() -> None:
    text = _csv(
        f"A1,{NIP_A},,X,42,IV/b,01,U1",
        f"A2,{NIP_B},,Y,34,III/d,01,U2",  # below IV/b
        f"A3,{NIP_C},,Z,45,IV/e,99,U3",
        "A4,200101012022211001,,W,71,IX,01,U4",  # a PPPK golongan id
        ",,,,,,,",
    )
    rows = read_export(text)
    assert rows == [
        {"nipBaru": NIP_A, "golRuangAkhirId": "42", "kedudukanPnsId": "01", "updated": None},
        {"nipBaru": NIP_C, "golRuangAkhirId": "45", "kedudukanPnsId": "99", "updated": None},
    ]


def test_export_header_variants_semicolons_bom_and_text_nips() -> None:
    text = "\ufeffnip_baru;gol_akhir_id;kedudukan_hukum_id;nama\n'" + NIP_A + ";43;1;X\n"
    assert read_export(text) == [
        {"nipBaru": NIP_A, "golRuangAkhirId": "43", "kedudukanPnsId": "01", "updated": None}
    ]


def test_export_without_a_needed_column_names_it() -> None:
    with pytest.raises(ExportFileError, match="KEDUDUKAN HUKUM ID"):
        read_export("NIP BARU,GOL AKHIR ID\n" + NIP_A + ",42\n")
    with pytest.raises(ExportFileError, match="empty"):
        read_export("")


def test_newest_export_wins_and_xlsx_is_refused_with_a_hint(tmp_path: Path) -> None:
    old, new = tmp_path / "b-old.csv", tmp_path / "a-new.csv"
    old.write_text(_csv(f"A1,{NIP_A},,X,42,IV/b,01,U1"))
    new.write_text(_csv(f"A2,{NIP_B},,Y,44,IV/d,01,U2"))
    os.utime(old, (1_000_000, 1_000_000))
    os.utime(new, (2_000_000, 2_000_000))
    assert asn_sources.newest_export(tmp_path) == new
    only_xlsx = tmp_path / "x"
    only_xlsx.mkdir()
    (only_xlsx / "export.xlsx").write_bytes(b"PK")
    with pytest.raises(ExportFileError, match="saved as CSV"):
        asn_sources.newest_export(only_xlsx)
    with pytest.raises(ExportFileError, match="not a folder"):
        asn_sources.newest_export(tmp_path / "missing")


class _Asn:
    def __init__(self, active: set[str]) -> None:
        self._active = active

    def active_nips(self) -> set[str]:
        return set(self._active)


class _Store:
    def __init__(self, active: set[str]) -> None:
        self.asn = _Asn(active)


class _Client:
    def __init__(self, mode: str | None, export_dir: str | None = None) -> None:
        self.api_mode, self.export_dir = mode, export_dir

    async def iter_asn(self, since: dt.date | None) -> Any:
        yield {"nipBaru": NIP_A}


def _collect(source: Any) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        return [r async for r in source.rows(None)]

    return asyncio.run(go())


def test_sources_follow_the_mode_and_list_who_left_the_export(tmp_path: Path) -> None:
    assert _collect(asn_sources.source_for(_Client(None))) == [{"nipBaru": NIP_A}]
    with pytest.raises(ExportFileError, match="export_dir"):
        asn_sources.source_for(_Client("public"))
    with pytest.raises(ValueError, match="api_mode"):
        asn_sources.source_for(_Client("other"))
    (tmp_path / "e.csv").write_text(_csv(f"A1,{NIP_A},,X,42,IV/b,01,U1"))
    source = asn_sources.source_for(_Client("public", str(tmp_path)), _Store({NIP_A, NIP_B}))
    assert isinstance(source, asn_sources.ExportFileSource)
    rows = _collect(source)
    assert [r["nipBaru"] for r in rows] == [NIP_A, NIP_B]
    assert rows[1]["golRuangAkhirId"] is None  # fetched to learn why NIP_B left


# ---------------------------------------------------------------------------- layanan models
#: hand-written in the shape public clients store (values synthetic)
KP_ROW: dict[str, Any] = {
    "id": "0f3c2a1e-5b7d-4c9e-8a6f-1d2e3f4a5b6c",
    "pnsId": "A5EB03E23CCCF6A0E040640A040252AD",
    "statusUsulan": "22",
    "statusUsulanNama": "Pertek Ditandatangani",
    "nipBaru": NIP_A,
    "nama": "SYNTHETIC",
    "no_pertek": "PK-00012/KP/2026",
    "no_sk": "",
    "path_ttd_sk": "",
    "path_ttd_pertek": {"": "pertek/BKN.PT.05.01/sign/abc.pdf"},
    "tgl_pertek": "03-07-2026",
    "tgl_sk": "01-01-0001",
    "golonganBaruId": "43",
    "tmtKp": "01-10-2026",
    "path_preview_sk": None,
    "gaji_pokok_baru": "5120000",
    "gaji_pokok_lama": "4960000",
    "masa_kerja_tahun": "24",
    "masa_kerja_bulan": "3",
    "jenis_kp": "Reguler",
    "jenis_prosedur": "1",
    "alasan_tolak_tambahan": "",
}
PENSIUN_ROW: dict[str, Any] = {
    "id": "e688a057-e243-43a1-95de-b9ba20aa7f2d",
    "nama": "SYNTHETIC",
    "statusUsulan": "32",
    "statusUsulanNama": "Sudah TTE SK",
    "pnsId": "A5EB041BC91EF6A0E040640A040252AD",
    "nipBaru": NIP_C,
    "pertekNomor": "PH-23500000695",
    "skNomor": "800.1.6.3/2519/204/2026",
    "pathSk": "sk-instansi-preview-X/INS.SK.06.15/sign-final/x.pdf",
    "pathPertek": "pertek/BKN.PT.05.01/no-sign/y.pdf",
    "pertekTgl": "03-07-2026",
    "skTgl": "30-07-2026",
    "instansiId": "A5EB03E23CCCF6A0E040640A040252AD",
    "instansiNama": "Instansi Sintetis",
    "detailLayananNama": "BUP KPP",
    "tglLahir": "30-03-1967",
    "golonganId": "34",
    "golonganKppId": "41",
    "tmtPensiun": "01-04-2027",
    "pathSkPreview": "sk-instansi-preview-X/INS.SK.06.15/no-sign/x.pdf",
}


def test_layanan_rows_bind_every_field() -> None:
    kp, error = validate_payload(KpInstansiRow, KP_ROW)
    assert kp is not None, error
    assert not kp.model_extra
    assert kp.path_ttd_pertek == "pertek/BKN.PT.05.01/sign/abc.pdf"
    assert (kp.tgl_pertek, kp.tgl_sk) == (dt.date(2026, 7, 3), None)
    assert kp.tmt_kp == dt.date(2026, 10, 1)
    assert (kp.golongan_baru_id, kp.masa_kerja_tahun, kp.gaji_pokok_baru) == (43, 24, 5120000)
    assert "SYNTHETIC" not in repr(kp)
    pensiun, error = validate_payload(PensiunInstansiRow, PENSIUN_ROW)
    assert pensiun is not None, error
    assert not pensiun.model_extra
    assert (pensiun.pertek_nomor, pensiun.golongan_kpp_id) == ("PH-23500000695", 41)
    assert "1967" not in repr(pensiun)


def test_public_status_rows_become_status_usulan_rows() -> None:
    held = {
        "usulan_id": "SIAPP-1",
        "nip": NIP_A,
        "jenis": "KP",
        "version": "2",
        "no_pertek": "PK-00012/KP/2026",
        "tgl_pertek": dt.date(2026, 7, 3),
    }
    row, error = validate_payload(StatusUsulanRow, public_status_row(KP_ROW, held))
    assert row is not None, error
    assert (row.id_usulan_siapp, row.versi, row.status_usulan) == ("SIAPP-1", 2, "22")
    assert (row.hasil_verifikasi, row.no_pertek) == ("MS", "PK-00012/KP/2026")
    assert row.path_ttd_pertek == "pertek/BKN.PT.05.01/sign/abc.pdf"
    assert row.no_ralat_pertek is None
    ralat = {**KP_ROW, "statusUsulan": "23", "no_pertek": "RL-1", "tgl_pertek": "05-07-2026"}
    row, error = validate_payload(StatusUsulanRow, public_status_row(ralat, held))
    assert row is not None, error
    assert (row.no_pertek, row.tgl_pertek) == ("PK-00012/KP/2026", dt.date(2026, 7, 3))
    assert (row.no_ralat_pertek, row.tgl_ralat_pertek) == ("RL-1", dt.date(2026, 7, 5))
    assert row.path_ralat_pertek and row.path_ttd_pertek is None
    bts = {**KP_ROW, "statusUsulan": "11", "alasan_tolak_tambahan": "dokumen kurang"}
    row, _ = validate_payload(StatusUsulanRow, public_status_row(bts, held))
    assert row is not None and (row.hasil_verifikasi, row.alasan) == ("BTS", "dokumen kurang")


# ---------------------------------------------------------------------------- ref-dokumen
class _Referensi:
    def __init__(self, rows: dict[str, list[str]]) -> None:
        self.rows = rows

    def id_by_name(self, ref: str, nama: str) -> str | None:
        assert ref == "ref-dokumen"
        ids = self.rows.get(nama, [])
        if len(ids) > 1:
            raise LookupError("several")
        return ids[0] if ids else None


class _RefStore:
    def __init__(self, rows: dict[str, list[str]]) -> None:
        self.referensi = _Referensi(rows)


def test_ref_dokumen_ids_are_read_by_name_with_clear_errors() -> None:
    name = "Keputusan Presiden (Salinan)"
    assert ref_dokumen_id(_RefStore({name: ["90006"]}), name) == "90006"
    with pytest.raises(RefDokumenError, match=r"no active row named 'Keputusan Presiden") as err:
        ref_dokumen_id(_RefStore({}), name)
    assert isinstance(err.value, FlowConfigError)  # fails the task without retries
    with pytest.raises(RefDokumenError, match="several"):
        ref_dokumen_id(_RefStore({name: ["1", "2"]}), name)
