"""Every payload model: contract examples parse, quirks are typed, unknown fields are kept and
counted, retyped or missing known fields fail naming the field."""

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from siapp_siasn import models as m
from tests.models import samples


def locs(exc: ValidationError) -> list[tuple[str, str]]:
    return [(".".join(str(p) for p in e["loc"]), e["type"]) for e in exc.errors()]


# --- data-utama ---------------------------------------------------------------------------
def test_contract_data_utama_example_is_typed() -> None:
    du = m.DataUtamaResponse.model_validate(samples.envelope(samples.data_utama())).data
    assert du.nip_baru == samples.NIP
    assert du.tgl_lahir == date(1972, 3, 15)
    assert du.tmt_eselon is None  # "01-01-0001"
    assert du.gol_ruang_akhir_id == 42 and du.gol_ruang_awal_id == 31
    assert (du.mk_tahun, du.mk_bulan, du.bup_pensiun, du.jumlah_anak) == (21, 3, 60, 2)
    assert du.kedudukan_pns_id == "01"  # a code keeps its leading zero
    assert du.instansi_induk_id == samples.INSTANSI.lower()
    assert du.jabatan_fungsional_id is None and du.jabatan_fungsional_nama is None  # ""
    assert du.valid_nik is True
    assert du.path is None  # {"": ""}
    assert du.gelar_belakang == "M.Si"
    assert du.unknown_fields() == []
    assert du.consistency_issues() == []


def test_gelar_blk_alias_and_other_spellings_fill_the_same_field() -> None:
    raw = samples.data_utama()
    del raw["gelarBelakang"]
    raw["gelarBlk"] = "S.H."
    raw["NipBaru"] = raw.pop("nipBaru")  # PascalCase
    raw["tgl_lahir"] = raw.pop("tglLahir")  # snake_case
    du = m.DataUtama.model_validate(raw)
    assert du.gelar_belakang == "S.H."
    assert du.nip_baru == samples.NIP
    assert du.tgl_lahir == date(1972, 3, 15)
    assert du.unknown_fields() == []


def test_python_names_are_accepted_too() -> None:
    du = m.DataUtama.model_validate(
        {"id": samples.GUID, "nip_baru": samples.NIP, "nama": "X", "gol_ruang_akhir_id": "43"}
    )
    assert du.gol_ruang_akhir_id == 43


def test_dump_by_alias_round_trips_in_siasn_spelling() -> None:
    du = m.DataUtama.model_validate(samples.data_utama(newThing="x"))
    wire = du.model_dump(mode="json", by_alias=True)
    assert wire["nipBaru"] == samples.NIP and wire["tglLahir"] == "15-03-1972"
    assert wire["newThing"] == "x"
    assert m.DataUtama.model_validate(wire) == du


def test_unknown_fields_are_kept_and_counted() -> None:
    du = m.DataUtama.model_validate(samples.data_utama(fooBar="1", Baz={"deep": [1]}))
    assert du.unknown_fields() == ["Baz", "fooBar"]
    assert du.model_extra == {"fooBar": "1", "Baz": {"deep": [1]}}


def test_nested_unknown_fields_are_reported_with_their_path() -> None:
    raw = samples.pasangan()
    raw["listPasangan"][0]["orang"]["golDarah"] = "O"
    raw["listPasangan"][0]["dataPernikahan"]["tempatMenikah"] = "x"
    raw["extraTop"] = 1
    env = m.DataPasanganResponse.model_validate({**samples.envelope(raw), "meta": {}})
    assert env.unknown_fields() == [
        "data.extraTop",
        "data.listPasangan[].dataPernikahan.tempatMenikah",
        "data.listPasangan[].orang.golDarah",
        "meta",
    ]


def test_unknown_field_names_that_look_like_data_are_masked() -> None:
    du = m.DataUtama.model_validate(
        samples.data_utama(**{"BUDI SANTOSO": 1, "3273011503720004": 2})
    )
    assert du.unknown_fields() == ["<invalid-key>"]


def test_unknown_values_never_show_in_repr() -> None:
    du = m.DataUtama.model_validate(samples.data_utama(namaLengkapBaru="RAHASIA ORANG"))
    text = repr(du) + str(du)
    assert "RAHASIA" not in text
    assert "unknown_field_count=1" in text
    for personal in (
        "BUDI SANTOSO",
        "3273011503720004",
        "budi@example.org",
        "081234567890",
        "Jl. Merdeka 1",
        "Bandung",
        "010234567",
    ):
        assert personal not in text


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("mkTahun", ["21"], "int_type"),
        ("mkTahun", 21.5, "int_type"),
        ("golRuangAkhirId", True, "int_type"),
        ("nama", 12345, "string_type"),
        ("nama", {"first": "BUDI"}, "string_type"),
        ("tglLahir", 15031972, "date_type"),
        ("validNik", ["true"], "bool_type"),
        ("instansiIndukId", 7, "string_type"),
        ("kedudukanPnsId", 1, "string_type"),
        ("path", ["a"], "invalid"),
    ],
)
def test_retyped_known_fields_fail_naming_the_field(field: str, value: object, kind: str) -> None:
    if kind == "invalid":  # a loose path keeps any JSON: drift there is not an error
        assert m.DataUtama.model_validate(samples.data_utama(**{field: value})).path == value
        return
    with pytest.raises(ValidationError) as ei:
        m.DataUtama.model_validate(samples.data_utama(**{field: value}))
    assert locs(ei.value) == [(field, kind)]


@pytest.mark.parametrize("field", ["id", "nipBaru", "nama"])
def test_missing_required_fields_are_named(field: str) -> None:
    raw = samples.data_utama()
    del raw[field]
    with pytest.raises(ValidationError) as ei:
        m.DataUtama.model_validate(raw)
    assert locs(ei.value) == [(field, "missing")]


@pytest.mark.parametrize("null", ["", "undefined", "null", None])
def test_required_name_given_as_a_null_form_is_value_null(null: object) -> None:
    with pytest.raises(ValidationError) as ei:
        m.DataUtama.model_validate(samples.data_utama(nama=null))
    assert locs(ei.value) == [("nama", "value_null")]


def test_consistency_issues_name_kinds_only() -> None:
    du = m.DataUtama.model_validate(
        samples.data_utama(tglLahir="16-03-1972", jenisKelamin="F", tmtCpns="01-04-1998")
    )
    assert du.consistency_issues() == [
        "nip_birth_date_mismatch",
        "nip_gender_mismatch",
        "nip_tmt_cpns_mismatch",
    ]


def test_data_utama_path_may_be_a_document_map() -> None:
    docs = {"872": {"dok_id": "x", "dok_uri": "a.pdf", "object": "o", "slug": "872"}}
    assert m.DataUtama.model_validate(samples.data_utama(path=docs)).path == docs


# --- family ---------------------------------------------------------------------------------
def test_pasangan_quirks() -> None:
    p = m.DataPasanganResponse.model_validate(samples.envelope(samples.pasangan())).data
    spouse = p.list_pasangan[0]
    assert spouse.orang.status_hidup == "1"  # from "StatusHidup"
    assert spouse.orang.id == samples.SPOUSE_ID
    assert spouse.data_pernikahan is not None
    assert spouse.data_pernikahan.tgl_menikah == date(1999, 12, 12)  # from "tgglMenikah"
    assert spouse.data_pernikahan.tgl_cerai is None  # "01-01-0001"
    assert spouse.data_pernikahan.akta_cerai is None  # ""
    assert spouse.data_pernikahan.is_pns is False  # "false"


@pytest.mark.parametrize("spelling", ["tgglMenikah", "TgglMenikah", "tggl_menikah", "tgl_menikah"])
def test_marriage_date_in_every_spelling(spelling: str) -> None:
    dp = m.DataPernikahan.model_validate({spelling: "01-02-2003"})
    assert dp.tgl_menikah == date(2003, 2, 1)
    assert dp.unknown_fields() == []


@pytest.mark.parametrize("spelling", ["StatusHidup", "statusHidup", "status_hidup"])
def test_status_hidup_in_every_spelling(spelling: str) -> None:
    # statusHidup is served for spouses (pns.OrangResp), not for children
    assert m.Orang.model_validate({spelling: "2"}).status_hidup == "2"


def test_anak_and_ortu() -> None:
    a = m.DataAnakResponse.model_validate(samples.envelope(samples.anak())).data
    assert [x.jenis_kelamin for x in a.list_anak] == ["M", "F"]  # "m" → "M"
    assert a.list_anak[1].kabupaten_id is None  # "undefined"
    assert a.list_anak[0].ibu_id == samples.SPOUSE_ID and a.list_anak[0].ayah_id == samples.GUID
    o = m.DataOrtuResponse.model_validate(samples.envelope(samples.ortu())).data
    assert o.ayah is not None and o.ayah.tgl_lahir == date(1940, 1, 1)
    assert o.ibu is None


def test_family_error_locations_name_the_member() -> None:
    raw = samples.anak()
    raw["listAnak"][1]["tglLahir"] = "31-02-2005"
    with pytest.raises(ValidationError) as ei:
        m.DataAnakResponse.model_validate(samples.envelope(raw))
    assert locs(ei.value) == [("data.listAnak.1.tglLahir", "date_invalid")]


def test_rw_golongan_rows() -> None:
    rows = m.RwGolonganResponse.model_validate(
        samples.envelope(
            [
                {
                    "id": samples.GUID,
                    "idPns": samples.GUID,
                    "nipBaru": samples.NIP,
                    "golonganId": "42",
                    "golongan": "IV/b",
                    "skNomor": "SK-1/2019",
                    "skTanggal": "20-03-2019",
                    "tmtGolongan": "01-04-2019",
                    "noPertekBkn": "P-1",
                    "tglPertekBkn": "",
                    "jenisKPId": "101",
                    "masaKerjaGolonganTahun": "21",
                    "masaKerjaGolonganBulan": "0",
                }
            ]
        )
    ).data
    assert rows[0].golongan_id == 42
    assert rows[0].jenis_kp_id == "101"
    assert (rows[0].masa_kerja_golongan_tahun, rows[0].masa_kerja_golongan_bulan) == (21, 0)
    assert rows[0].tgl_pertek_bkn is None
    assert rows[0].unknown_fields() == []


# --- envelopes, errors, tokens ------------------------------------------------------------------
def test_not_found_and_error_bodies() -> None:
    nf = m.SiasnNotFound.model_validate({"code": 0, "data": "Data tidak ditemukan"})
    assert nf.code == 0 and nf.data == "Data tidak ditemukan"
    err = m.SiasnErrorBody.model_validate({"Error": "Unauthorized", "Message": "token expired"})
    assert (err.error, err.message) == ("Unauthorized", "token expired")
    err2 = m.SiasnErrorBody.model_validate({"error": "x", "message": "y"})
    assert (err2.error, err2.message) == ("x", "y")


def test_envelope_code_as_string_and_not_found_data_fails_as_data_utama() -> None:
    assert m.DataUtamaResponse.model_validate({"code": "1", "data": samples.data_utama()}).code == 1
    with pytest.raises(ValidationError) as ei:
        m.DataUtamaResponse.model_validate({"code": 0, "data": "Data tidak ditemukan"})
    assert locs(ei.value) == [("data", "model_type")]


def test_tokens_are_secret() -> None:
    gw = m.GatewayTokenResponse.model_validate(
        {"access_token": "tok-123", "scope": "default", "token_type": "Bearer", "expires_in": 3600}
    )
    assert gw.access_token.get_secret_value() == "tok-123"
    assert "tok-123" not in repr(gw) and "tok-123" not in gw.model_dump_json()
    sso = m.SsoTokenResponse.model_validate(
        {
            "access_token": "a",
            "expires_in": "3600",
            "refresh_expires_in": 7200,
            "refresh_token": "r",
            "token_type": "Bearer",
            "not-before-policy": 0,
            "session_state": "s",
            "scope": "profile email",
        }
    )
    assert sso.expires_in == 3600 and sso.not_before_policy == 0
    assert sso.refresh_token is not None and sso.refresh_token.get_secret_value() == "r"
    assert sso.unknown_fields() == []


# --- referensi ---------------------------------------------------------------------------------
@pytest.mark.parametrize("ref", sorted(m.REF_PAGE_MODELS))
def test_every_reference_page(ref: str) -> None:
    row = {"id": "42", "nama": "Ref"}
    if ref in {"instansi", "unor", "jabatan-fungsional"}:
        row["id"] = samples.INSTANSI
    # served names (see models/referensi.py for their public sources)
    extra = {
        "golongan": {"namaPangkat": "Pembina Tingkat I"},
        "instansi": {"cepatKode": "SETNEG", "jenis": "Pusat"},
        "jabatan-fungsional": {"min_gol_id": "41", "bup_usia": "65"},
    }.get(ref, {})
    page = m.REF_PAGE_MODELS[ref].model_validate({"results": [{**row, **extra}]})
    parsed = page.results[0]
    assert isinstance(parsed, m.ref_row_model(ref))
    assert parsed.unknown_fields() == []
    assert parsed.id == row["id"].lower()


def test_unknown_reference_uses_the_generic_row() -> None:
    assert m.ref_row_model("agama-baru") is m.RefRow


def test_reference_row_needs_an_id() -> None:
    with pytest.raises(ValidationError) as ei:
        m.REF_PAGE_MODELS["agama"].model_validate({"results": [{"nama": "Islam"}]})
    assert locs(ei.value) == [("results.0.id", "missing")]


# --- documents -----------------------------------------------------------------------------------
def test_upload_dok_response() -> None:
    dok = m.UploadDokResponse.model_validate(
        samples.envelope(
            {
                "dok_id": "0D9C1F8E-2B7A-4C3D-9E8F-1A2B3C4D5E6F",
                "dok_nama": "pertek.pdf",
                "dok_uri": {"": "peremajaan/usulan/0d9c1f8e.pdf"},
                "object": "peremajaan/usulan/0d9c1f8e.pdf",
                "slug": "872",
            }
        )
    ).data
    assert dok.dok_id == "0d9c1f8e-2b7a-4c3d-9e8f-1a2b3c4d5e6f"
    assert dok.dok_uri == "peremajaan/usulan/0d9c1f8e.pdf"


def test_siasn_dokumen_rows() -> None:
    page = m.SiasnDokumenPage.model_validate(
        samples.envelope(
            {
                "total": "1",
                "list": [
                    {
                        "dok_id": samples.CHILD_ID,
                        "dok_uri": "a/b.pdf",
                        "id_ref_dokumen": "872",
                        "id_usulan_siapp": "USL-1",
                        "sha256": "AB" * 32,
                        "size": "1024",
                    }
                ],
            }
        )
    ).data
    assert page.total == 1
    assert page.items[0].size == 1024 and page.items[0].sha256 == "ab" * 32


# --- PKS --------------------------------------------------------------------------------------
def test_pks_asn_enumeration() -> None:
    page = m.PksAsnPage.model_validate(
        samples.envelope(
            {
                "total": "2",
                "list": [
                    {
                        "nipBaru": samples.NIP,
                        "golRuangAkhirId": "42",
                        "kedudukanPnsId": "01",
                        "updated": "05-01-2026",
                    },
                    {
                        "nipBaru": "198512312010122999",
                        "golRuangAkhirId": "41",
                        "kedudukanPnsId": "99",
                        "updated": "06-01-2026",
                    },
                ],
            }
        )
    ).data
    assert page.total == 2
    assert [r.gol_ruang_akhir_id for r in page.items] == [42, 41]
    assert page.items[1].updated == date(2026, 1, 6)


def test_status_usulan_row_mixed_casing_and_path_objects() -> None:
    row = m.StatusUsulanRow.model_validate(samples.status_usulan_row())
    assert row.status_usulan == "22" and row.status_label == "pertek ditandatangani"
    assert row.hasil_verifikasi == "MS"
    assert row.path_ttd_pertek == "peremajaan/usulan/pertek-001.pdf"
    assert row.path_ralat_pertek is None and row.tgl_ralat_pertek is None
    assert row.tgl_pertek == date(2026, 1, 10)
    assert row.alasan is None
    assert row.unknown_fields() == []


@pytest.mark.parametrize(("raw", "expected"), [("tms", "TMS"), ("", None), ("undefined", None)])
def test_status_usulan_hasil_verifikasi_forms(raw: str, expected: str | None) -> None:
    row = m.StatusUsulanRow.model_validate(samples.status_usulan_row(hasil_verifikasi=raw))
    assert row.hasil_verifikasi == expected


def test_status_usulan_unknown_hasil_is_a_literal_error() -> None:
    with pytest.raises(ValidationError) as ei:
        m.StatusUsulanRow.model_validate(samples.status_usulan_row(hasil_verifikasi="OK"))
    assert locs(ei.value) == [("hasil_verifikasi", "literal_error")]


def test_pks_post_response() -> None:
    res = m.PksPostResponse.model_validate(
        samples.envelope({"id": samples.GUID, "status": "diterima"})
    )
    assert res.data.status == "diterima"


def _dokumen() -> dict[str, object]:
    return {
        "id_ref_dokumen": "872",
        "dok_id": samples.CHILD_ID,
        "dok_uri": "peremajaan/a.pdf",
        "sha256": samples.SHA,
        "size": 10,
    }


def test_outbound_bodies_dump_snake_case_with_siasn_dates() -> None:
    body = m.UsulanBody(
        id_usulan_siapp="USL-1",
        versi=3,
        nip=samples.NIP,
        jenis_usulan="KP",
        kategori_jabatan="JPT_MADYA",
        instansi_id=samples.INSTANSI,
        golongan_baru_id=43,
        tmt=date(2026, 4, 1),
        jenis_kp="101",
        dokumen=[m.PksDokumen.model_validate(_dokumen())],
    )
    wire = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert wire["tmt"] == "01-04-2026"
    assert wire["dokumen"][0]["sha256"] == samples.SHA
    assert set(wire) == {
        "id_usulan_siapp",
        "versi",
        "nip",
        "jenis_usulan",
        "kategori_jabatan",
        "instansi_id",
        "golongan_baru_id",
        "tmt",
        "jenis_kp",
        "dokumen",
    }
    assert m.UsulanBody.model_validate(wire) == body


def test_outbound_bodies_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError) as ei:
        m.PicBody.model_validate(
            {
                "id_pic_siapp": "P1",
                "versi": 1,
                "nip": samples.NIP,
                "instansi_id": samples.INSTANSI,
                "aksi": "GRANT",
                "password": "x",
            }
        )
    assert locs(ei.value) == [("password", "extra_forbidden")]


def test_every_outbound_body_names_its_missing_fields() -> None:
    expected = {
        "usulan": {
            "id_usulan_siapp",
            "versi",
            "nip",
            "jenis_usulan",
            "kategori_jabatan",
            "dokumen",
        },
        "verifikasi-setneg": {"id_usulan_siapp", "id_verifikasi_siapp", "versi", "hasil"},
        "keppres": {
            "id_usulan_siapp",
            "id_keppres_siapp",
            "versi",
            "nip",
            "no_keppres",
            "tgl_keppres",
            "tmt",
            "dokumen",
        },
        "pic": {"id_pic_siapp", "versi", "nip", "instansi_id", "aksi"},
    }
    for name, model in m.PKS_BODIES.items():
        with pytest.raises(ValidationError) as ei:
            model.model_validate({})
        assert {loc for loc, kind in locs(ei.value) if kind == "missing"} == expected[name]


def test_keppres_and_verifikasi_and_pic_bodies() -> None:
    k = m.KeppresBody.model_validate(
        {
            "id_usulan_siapp": "U1",
            "id_keppres_siapp": "K1",
            "versi": 1,
            "nip": samples.NIP,
            "no_keppres": "12/TPA/2026",
            "tgl_keppres": date(2026, 2, 3),
            "tmt": "01-03-2026",
            "dokumen": _dokumen(),
        }
    )
    assert k.model_dump(mode="json")["tgl_keppres"] == "03-02-2026"
    assert k.tmt == date(2026, 3, 1)
    v = m.VerifikasiSetnegBody.model_validate(
        {
            "id_usulan_siapp": "U1",
            "id_verifikasi_siapp": "V1",
            "versi": 2,
            "hasil": "disetujui",
        }
    )
    assert v.hasil == "DISETUJUI" and v.nip is None  # SIAPP verifikasi items carry no NIP
    with pytest.raises(ValidationError) as ei:
        m.PicBody.model_validate(
            {
                "id_pic_siapp": "P1",
                "versi": 0,
                "nip": samples.NIP,
                "instansi_id": "x",
                "aksi": "DELETE",
            }
        )
    assert locs(ei.value) == [
        ("versi", "greater_than_equal"),
        ("instansi_id", "guid_invalid"),
        ("aksi", "literal_error"),
    ]


def test_usulan_body_needs_at_least_one_document() -> None:
    with pytest.raises(ValidationError) as ei:
        m.UsulanBody.model_validate(
            {
                "id_usulan_siapp": "U1",
                "versi": 1,
                "nip": samples.NIP,
                "jenis_usulan": "KP",
                "kategori_jabatan": "JPT_MADYA",
                "dokumen": [],
            }
        )
    assert locs(ei.value) == [("dokumen", "too_short")]


def test_pks_dokumen_requires_integrity_fields() -> None:
    with pytest.raises(ValidationError) as ei:
        m.PksDokumen.model_validate({**_dokumen(), "sha256": None, "size": ""})
    assert locs(ei.value) == [("sha256", "value_null"), ("size", "value_null")]


# --- SIAPP NV ---------------------------------------------------------------------------------
def test_siapp_usulan_page_with_cursor() -> None:
    page = m.SiappUsulanPage.model_validate(
        {"data": [samples.siapp_usulan()], "next_cursor": "eyJpZCI6MTIzfQ=="}
    )
    u = page.data[0]
    assert page.next_cursor == "eyJpZCI6MTIzfQ=="
    assert u.updated_at == datetime(2026, 1, 5, 1, 30, tzinfo=UTC)  # normalised to UTC
    assert u.tmt == date(2026, 4, 1)
    assert u.dokumen[0].sha256 == samples.SHA
    assert u.scope_violation() is None
    last = m.SiappUsulanPage.model_validate({"data": [], "next_cursor": None})
    assert last.next_cursor is None and last.data == []


@pytest.mark.parametrize(
    ("jenis", "kategori", "violation"),
    [
        ("KP", "JPT_UTAMA", None),
        ("PEMBERHENTIAN", "JF_AHLI_UTAMA", None),
        ("PENGANGKATAN", "JF_AHLI_UTAMA", None),
        ("PENGANGKATAN", "JPT_MADYA", "PENGANGKATAN_NOT_JF_AHLI_UTAMA"),
        ("KP", "JPT_PRATAMA", "KATEGORI_OUT_OF_SCOPE"),
        ("MUTASI", "JPT_MADYA", "JENIS_OUT_OF_SCOPE"),
    ],
)
def test_usulan_scope(jenis: str, kategori: str, violation: str | None) -> None:
    u = m.SiappUsulan.model_validate(samples.siapp_usulan(jenis=jenis, kategori_jabatan=kategori))
    assert u.scope_violation() == violation


def test_siapp_timestamps_must_carry_a_zone() -> None:
    with pytest.raises(ValidationError) as ei:
        m.SiappUsulan.model_validate(samples.siapp_usulan(updated_at="2026-01-05T08:30:00"))
    assert locs(ei.value) == [("updated_at", "timezone_aware")]


def test_siapp_dates_are_iso_only() -> None:
    with pytest.raises(ValidationError) as ei:
        m.SiappUsulan.model_validate(samples.siapp_usulan(tmt="01-04-2026"))
    assert locs(ei.value) == [("tmt", "date_format")]


def test_siapp_verifikasi_keppres_pic_pages() -> None:
    ts = "2026-01-05T00:00:00Z"
    v = m.SiappVerifikasiPage.model_validate(
        {
            "data": [
                {
                    "id": "V1",
                    "usulan_id": "U1",
                    "version": 1,
                    "updated_at": ts,
                    "hasil": "DITOLAK",
                    "catatan": "berkas kurang",
                    "verified_at": ts,
                }
            ],
            "next_cursor": None,
        }
    ).data[0]
    assert v.hasil == "DITOLAK"
    k = m.SiappKeppresPage.model_validate(
        {
            "data": [
                {
                    "id": "K1",
                    "usulan_id": "U1",
                    "version": 1,
                    "updated_at": ts,
                    "nip": samples.NIP,
                    "no_keppres": "1/TPA/2026",
                    "tgl_keppres": "2026-02-01",
                    "tmt": "2026-03-01",
                    "dokumen": {"id": 77, "jenis": "KEPPRES", "sha256": samples.SHA, "size": 5},
                }
            ]
        }
    ).data[0]
    assert k.dokumen is not None and k.dokumen.id == "77"  # integer ids read as strings
    p = m.SiappPicPage.model_validate(
        {
            "data": [
                {
                    "id": "P1",
                    "version": 2,
                    "updated_at": ts,
                    "nip": samples.NIP,
                    "instansi_id": samples.INSTANSI,
                    "aksi": "revoke",
                }
            ]
        }
    ).data[0]
    assert p.aksi == "REVOKE"


def test_siapp_token_and_error() -> None:
    tok = m.SiappTokenResponse.model_validate(
        {"access_token": "siapp-secret-token", "token_type": "Bearer", "expires_in": "3600"}
    )
    assert tok.expires_in == 3600
    assert tok.access_token.get_secret_value() == "siapp-secret-token"
    assert "siapp-secret-token" not in repr(tok) + tok.model_dump_json()
    err = m.SiappErrorBody.model_validate({"error": "invalid_token", "error_description": "exp"})
    assert err.error == "invalid_token"


def test_inbound_bodies_dump_iso_json() -> None:
    st = m.InboundStatusUsulan(
        usulan_id="U1",
        nip=samples.NIP,
        version=2,
        status_bkn="22",
        tgl_pertek=date(2026, 1, 10),
        hasil_verifikasi="MS",
    )
    assert st.model_dump(mode="json", exclude_none=True) == {
        "usulan_id": "U1",
        "version": 2,
        "nip": samples.NIP,
        "status_bkn": "22",
        "hasil_verifikasi": "MS",
        "tgl_pertek": "2026-01-10",
    }
    pertek = m.InboundPertekMetadata(
        usulan_id="U1", nip=samples.NIP, no_pertek="P-1", sha256=samples.SHA, size=100
    )
    assert pertek.size == 100
    ralat = m.InboundRalatPertekMetadata(
        usulan_id="U1", nip=samples.NIP, no_ralat_pertek="R-1", sha256=samples.SHA, size=1
    )
    assert ralat.no_pertek is None
    refusal = m.InboundPenolakan(usulan_id="U1", alasan_kode="KATEGORI_OUT_OF_SCOPE")
    assert refusal.nip is None
    acc = m.InboundAccepted.model_validate({"status": "accepted", "id": "abc"})
    assert acc.status == "accepted"
