"""Fixtures of the store tests: every store test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from siapp_siasn.store import AsnRow, FamilyMember, Store, metadata
from siapp_siasn.utils import canonical_json

T0 = dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC)
HASH_KEY = b"test-hash-key"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh database on the session's PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.sqlite"
        return
    yield request.getfixturevalue("postgres_db_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store."""
    s = Store(store_url, hash_key=HASH_KEY)
    s.migrate()
    try:
        yield s
    finally:
        s.close()


def nip_for(i: int) -> str:
    """A NIP that parses: birth date, TMT CPNS, gender, sequence."""
    birth = dt.date(1965, 1, 1) + dt.timedelta(days=i // 999)
    return f"{birth:%Y%m%d}{1990 + i % 20}0{1 + i % 9}{1 + i % 2}{i % 999 + 1:03d}"


def make_row(
    i: int, *, version: int = 0, family_version: int | None = 0, **overrides: Any
) -> AsnRow:
    """A synthetic employee; ``version`` changes the record, ``family_version`` the family
    (None: family not fetched)."""
    nip = overrides.pop("nip", None) or nip_for(i)
    payload = {
        "nipBaru": nip,
        "nama": f"PEGAWAI {i} V{version}",
        "golRuangAkhirId": "42" if version % 2 == 0 else "43",
        "instansiIndukId": "A5EB03E23BFBF6A0E040640A040252AD",
        "someNewField": f"x{version}",
    }
    fields: dict[str, Any] = {
        "nip": nip,
        "nama": payload["nama"],
        "gelar_depan": "Dr." if i % 3 == 0 else None,
        "tgl_lahir": dt.date(int(nip[:4]), int(nip[4:6]), int(nip[6:8])),
        "jenis_kelamin": "M" if nip[14] == "1" else "F",
        "agama_id": "1",
        "kedudukan_pns_id": "01",
        "instansi_induk_id": payload["instansiIndukId"],
        "instansi_kerja_id": payload["instansiIndukId"],
        "gol_ruang_awal_id": "31",
        "gol_ruang_akhir_id": payload["golRuangAkhirId"],
        "eselon_id": "21",
        "jabatan_nama": f"Direktur {i % 50}",
        "tmt_gol_akhir": dt.date(2019, 4, 1) + dt.timedelta(days=version),
        "tmt_cpns": dt.date(1990 + i % 20, 3, 1),
        "tmt_pensiun": dt.date(2032, 4, 1),
        "mk_tahun": 21,
        "jumlah_anak": 2,
    }
    fields.update(overrides)
    family = None
    if family_version is not None:
        family = [
            FamilyMember(
                "pasangan",
                member_id=f"p{i}",
                nama=f"PASANGAN {i}",
                tgl_lahir=dt.date(1970, 1, 1),
                status_hubungan="1",
                tgl_menikah=dt.date(1995, 6, 1),
                payload={"statusNikah": "1"},
            ),
            *[
                FamilyMember(
                    "anak", member_id=f"a{i}-{k}", nama=f"ANAK {i}-{k}", status_hubungan="1"
                )
                for k in range(1 + family_version % 3)
            ],
            FamilyMember("ibu", member_id=f"i{i}", nama=f"IBU {i}", status_hidup="1"),
        ]
    record_hash = hashlib.sha256(canonical_json({**payload, **fields}).encode()).hexdigest()
    family_hash = (
        hashlib.sha256(
            canonical_json([(m.relation, m.member_id, m.nama) for m in family]).encode()
        ).hexdigest()
        if family is not None
        else None
    )
    return AsnRow(
        record_hash=record_hash,
        payload=payload,
        family=family,
        family_hash=family_hash,
        **fields,
    )


def snapshot(s: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order (for "nothing changed" assertions)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with s.engine.connect() as c:
        for table in metadata.sorted_tables:
            rows = c.execute(sa.select(table)).all()
            out[table.name] = sorted(tuple(map(repr, r)) for r in rows)
    return out
