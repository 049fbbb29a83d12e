"""F2 reference pull: every table from where SIASN serves it, rows stored as served."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from siapp_sandbox import refdata
from siapp_sandbox.testing import RunningSandbox
from siapp_siasn.flows.referensi import fetch_referensi, pull_referensi, referensi_rows
from siapp_siasn.models.referensi import (
    JENIS_KP_TABLE,
    REF_SOURCES,
    REFERENCE_TABLES,
    REFERENSI_SIASN_TABLES,
    ref_row_model,
)
from tests.flows.conftest import StoreFactory, route_count, run, run_context, siasn_client


# ------------------------------------------------------------------------------ referensi_rows
@pytest.mark.parametrize("ref", REFERENCE_TABLES)
def test_every_served_field_binds_and_the_raw_row_is_the_payload(ref: str) -> None:
    raw = refdata.referensi(ref)
    assert raw
    rows, bad = referensi_rows(ref, raw)
    assert bad == [] and len(rows) == len(raw)
    model = ref_row_model(ref)
    for row, src in zip(rows, raw, strict=True):
        assert row["payload"] is src  # what SIASN sent, not a re-dump
        assert row["id"].lower() == str(src["id"]).lower()
        parsed = model.model_validate(src)
        assert parsed.unknown_fields() == []  # the model binds every served name
        assert row["nama"] == parsed.display_name()


def test_display_names_follow_the_served_name_field() -> None:
    unor = refdata.referensi("unor")[0]
    rows, _ = referensi_rows("unor", [unor])
    assert rows[0]["nama"] == unor["namaUnor"]
    dok = next(r for r in refdata.referensi("ref-dokumen") if r["id"] == "872")
    rows, _ = referensi_rows("ref-dokumen", [dok])
    assert rows[0]["nama"] == dok["document"] == "Dok SK Jabatan"
    gol = refdata.referensi("golongan")[0]
    rows, _ = referensi_rows("golongan", [gol])
    assert rows[0]["nama"] == gol["nama"] and gol["namaPangkat"] == "Juru Muda"


def test_bad_rows_are_quarantined_not_stored() -> None:
    raw: list[Any] = copy.deepcopy(refdata.referensi("unor")[:2])
    raw.append({"id": "not-a-guid", "namaUnor": "Biro"})
    raw.append({"namaUnor": "tanpa id"})
    raw.append("not an object")
    rows, bad = referensi_rows("unor", raw)
    assert len(rows) == 2 and len(bad) == 3
    assert {b.entity_kind for b in bad} == {"referensi:unor"}
    assert all(b.flow == "F2" and b.reason == "invalid" for b in bad)
    assert [b.key for b in bad] == ["not-a-guid", "", ""]
    # the reason names the field, never the value
    assert "id" in (bad[0].detail or "") and "not-a-guid" not in (bad[0].detail or "")


def test_sources_of_the_tables() -> None:
    assert REF_SOURCES["unor"] == "ref-unor"
    assert REF_SOURCES["jenis-kp"] == "static"
    assert "unor" not in REFERENSI_SIASN_TABLES and "jenis-kp" not in REFERENSI_SIASN_TABLES
    assert refdata.REFERENSI_SIASN_NAMES == REFERENSI_SIASN_TABLES
    assert [r["id"] for r in JENIS_KP_TABLE][:2] == ["101", "201"]


def test_static_jenis_kp_needs_no_request() -> None:
    class NoClient:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"jenis-kp must not call the client ({name})")

    rows = run(fetch_referensi(NoClient(), "jenis-kp"))
    assert rows == [dict(r) for r in JENIS_KP_TABLE]


# ------------------------------------------------------------------------------ the pull
def test_pull_reads_each_table_from_its_source(
    sandbox: RunningSandbox, store_factory: StoreFactory
) -> None:
    store = store_factory()
    before = sandbox.stats()
    record = run(
        pull_referensi(siasn_client(sandbox), store, REFERENCE_TABLES, run_context(sandbox, "f2"))
    )
    after = sandbox.stats()
    total = sum(len(refdata.referensi(r)) for r in REFERENCE_TABLES)
    assert record.counts.read == record.counts.valid == record.counts.inserted == total
    assert record.counts.quarantined == 0
    assert "/apisiasn/1.0/referensi/ref-unor" in record.source.endpoint
    assert record.extra["sources"]["unor"] == "ref-unor"

    ref_unor = "GET /apisiasn/1.0/referensi/ref-unor"
    assert route_count(after, ref_unor) - route_count(before, ref_unor) == 1
    for ref in REFERENCE_TABLES:
        truth = {str(r["id"]).lower() for r in refdata.referensi(ref)}
        assert store.referensi.ids(ref) == truth, ref

    # ref-dokumen ids come from the live table, by name
    assert store.referensi.id_by_name("ref-dokumen", "Dok SK Jabatan") == "872"
    assert store.referensi.id_by_name("ref-dokumen", "Keputusan Presiden (Salinan)") == (
        refdata.ref_dokumen_id("SALINAN_KEPPRES")
    )
    assert store.referensi.id_by_name("ref-dokumen", "no such document") is None
    with pytest.raises(LookupError):  # 890 and 1179 share a name in SIASN
        store.referensi.id_by_name("ref-dokumen", "Dokumen Evaluasi Kinerja")

    # a second pull changes nothing
    again = run(
        pull_referensi(siasn_client(sandbox), store, REFERENCE_TABLES, run_context(sandbox, "f2b"))
    )
    assert again.counts.unchanged == total and again.counts.inserted == 0
    assert again.content_digest == record.content_digest


def test_unor_is_not_a_referensi_siasn_table(sandbox: RunningSandbox) -> None:
    from siapp_siasn.clients.errors import ApiError

    async def main() -> list[Any]:
        async with siasn_client(sandbox) as c:
            with pytest.raises(ApiError) as err:
                [r async for r in c.iter_referensi("unor")]
            assert err.value.status == 404
            with pytest.raises(ApiError):
                [r async for r in c.iter_referensi("jenis-kp")]
            return await c.get_ref_unor()

    rows = run(main())
    assert rows == refdata.unor_rows()
    assert set(rows[0]) == {
        "cepatKode",
        "diatasanId",
        "eselonId",
        "id",
        "indukUnorId",
        "instansiId",
        "jenisUnorId",
        "namaJabatan",
        "namaUnor",
        "pemimpinPnsId",
    }
