"""Compare the hub's store with the sandbox's ground truth (``/_sandbox/truth/...``).

The truth is the clean typed record (camelCase keys, ISO dates, ints, codes); the store keeps
snake_case columns, ids as strings and GUIDs lower-cased (the models normalise GUIDs, which are
case-insensitive). Both sides are mapped onto the same plain values before comparing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa

from siapp_sandbox.testing import RunningSandbox
from siapp_siasn.store import ASN_TYPED_COLUMNS, Store
from siapp_siasn.store.tables import asn, asn_family, asn_history

# store column -> (truth key, kind). Kinds: str (as is), guid (case-insensitive id), date (ISO
# in the truth), int (integer column), intid (an int in the truth, a string id in the store).
TRUTH_FIELDS: dict[str, tuple[str, str]] = {
    "pns_id": ("id", "guid"),
    "nip_lama": ("nipLama", "str"),
    "nama": ("nama", "str"),
    "gelar_depan": ("gelarDepan", "str"),
    "gelar_belakang": ("gelarBelakang", "str"),
    "tempat_lahir": ("tempatLahir", "str"),
    "tgl_lahir": ("tglLahir", "date"),
    "jenis_kelamin": ("jenisKelamin", "str"),
    "agama_id": ("agamaId", "intid"),
    "jenis_pegawai_id": ("jenisPegawaiId", "intid"),
    "kedudukan_pns_id": ("kedudukanPnsId", "str"),
    "status_pegawai": ("statusPegawai", "str"),
    "instansi_induk_id": ("instansiIndukId", "guid"),
    "instansi_induk_nama": ("instansiIndukNama", "str"),
    "instansi_kerja_id": ("instansiKerjaId", "guid"),
    "satuan_kerja_id": ("satuanKerjaKerjaId", "guid"),
    "unor_id": ("unorId", "guid"),
    "unor_nama": ("unorNama", "str"),
    "jenis_jabatan_id": ("jenisJabatanId", "intid"),
    "jabatan_nama": ("jabatanNama", "str"),
    "jabatan_fungsional_id": ("jabatanFungsionalId", "guid"),
    "jabatan_fungsional_nama": ("jabatanFungsionalNama", "str"),
    "eselon_id": ("eselonId", "str"),
    "tmt_jabatan": ("tmtJabatan", "date"),
    "gol_ruang_awal_id": ("golRuangAwalId", "intid"),
    "gol_ruang_akhir_id": ("golRuangAkhirId", "intid"),
    "pangkat_akhir": ("pangkatAkhir", "str"),
    "tmt_gol_akhir": ("tmtGolAkhir", "date"),
    "tmt_cpns": ("tmtCpns", "date"),
    "tmt_pns": ("tmtPns", "date"),
    "tmt_pensiun": ("tmtPensiun", "date"),
    "bup_pensiun": ("bupPensiun", "int"),
    "mk_tahun": ("mkTahun", "int"),
    "mk_bulan": ("mkBulan", "int"),
    "pendidikan_terakhir_id": ("pendidikanTerakhirId", "guid"),
    "tk_pendidikan_terakhir_id": ("tkPendidikanTerakhirId", "intid"),
    "jenis_kawin_id": ("jenisKawinId", "intid"),
    "jumlah_anak": ("jumlahAnak", "int"),
    "lokasi_kerja_id": ("lokasiKerjaId", "guid"),
}
assert set(TRUTH_FIELDS) == set(ASN_TYPED_COLUMNS), "every typed store column is compared"

#: truth keys of data-utama (what the record hash covers): the truth minus family and history
FAMILY_KEYS = ("pasangan", "anak", "ortu", "rwGolongan")

# (relation, member id, birth date, jenis kelamin, alive (spouses only), status (statusNikah,
#  jenisAnak), married on, divorced on, the child's other parent id): what the family
#  comparison looks at
Member = tuple[str, str | None, dt.date | None, str | None, str | None, str | None, Any, Any, Any]


def _typed(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "guid":
        return str(value).lower()
    if kind == "date":
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
    if kind == "int":
        return int(value)
    if kind == "intid":
        return str(int(value))
    return value


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def _alive(value: Any) -> str:
    return "1" if value is True or str(value).lower() in ("1", "true") else "0"


def _guid(value: Any) -> str | None:
    return None if value in (None, "") else str(value).lower()


def expected_columns(truth: dict[str, Any]) -> dict[str, Any]:
    """The typed store columns one truth record should produce."""
    return {col: _typed(kind, truth[key]) for col, (key, kind) in TRUTH_FIELDS.items()}


def _other_parent(truth: dict[str, Any], child: dict[str, Any]) -> str | None:
    """The child's parent who is not the employee (``ayahId`` / ``ibuId``)."""
    own = _guid(truth["id"])
    others = [g for g in (_guid(child["ayahId"]), _guid(child["ibuId"])) if g and g != own]
    if len(others) == 1:
        return others[0]
    return _guid(child["ibuId"] if truth["jenisKelamin"] == "M" else child["ayahId"])


def expected_family(truth: dict[str, Any]) -> list[Member]:
    """The family members one truth record should produce (sorted)."""
    out: list[Member] = []
    for sp in truth["pasangan"]:
        o, dp = sp["orang"], sp["dataPernikahan"]
        out.append(
            (
                "pasangan",
                _guid(o["id"]),
                _date(o["tglLahir"]),
                o.get("jenisKelamin"),
                _alive(o["statusHidup"]),
                str(sp["statusNikah"]),
                _date(dp["tgglMenikah"]),
                _date(dp["tgglCerai"]),
                None,
            )
        )
    for ch in truth["anak"]:
        out.append(
            (
                "anak",
                _guid(ch["id"]),
                _date(ch["tglLahir"]),
                ch.get("jenisKelamin"),
                None,  # statusHidup is not served for children (pns.ListAnak)
                str(ch["jenisAnak"]),
                None,
                None,
                _other_parent(truth, ch),
            )
        )
    for rel in ("ayah", "ibu"):
        p = truth["ortu"][rel]
        if p is not None:
            out.append(
                (
                    rel,
                    _guid(p["id"]),
                    _date(p["tglLahir"]),
                    p.get("jenisKelamin"),
                    None,  # not served for parents (pns.DataAyahResponse / DataIbuResponse)
                    None,
                    None,
                    None,
                    None,
                )
            )
    return sorted(out, key=repr)


def data_utama(truth: dict[str, Any]) -> dict[str, Any]:
    """The data-utama part of a truth record (no family, no golongan history)."""
    return {k: v for k, v in truth.items() if k not in FAMILY_KEYS}


def fetch_truth(sb: RunningSandbox, nips: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``/_sandbox/truth/asn/{nip}`` of many NIPs (a few threads, one HTTP client each)."""
    wanted = sorted(set(nips))

    def part(chunk: list[str]) -> dict[str, dict[str, Any]]:
        with httpx.Client(base_url=sb.siasn_url, timeout=30.0) as http:
            out = {}
            for nip in chunk:
                r = http.get(f"/_sandbox/truth/asn/{nip}")
                r.raise_for_status()
                out[nip] = r.json()
            return out

    chunks = [wanted[i::4] for i in range(4)]
    result: dict[str, dict[str, Any]] = {}
    with ThreadPoolExecutor(4) as pool:
        for got in pool.map(part, chunks):
            result.update(got)
    return result


@dataclass
class StoreView:
    """Everything of the ``asn`` mirror the comparisons need, read in a few queries."""

    rows: dict[str, dict[str, Any]]
    family: dict[str, list[Member]]
    history: dict[str, list[dict[str, Any]]]

    @classmethod
    def read(cls, store: Store) -> StoreView:
        with store.engine.connect() as c:
            rows = {r["nip"]: dict(r) for r in c.execute(sa.select(asn)).mappings()}
            family: dict[str, list[Member]] = {}
            for m in c.execute(sa.select(asn_family)).mappings():
                family.setdefault(m["nip"], []).append(
                    (
                        m["relation"],
                        m["member_id"],
                        m["tgl_lahir"],
                        m["jenis_kelamin"],
                        m["status_hidup"],
                        m["status_hubungan"],
                        m["tgl_menikah"],
                        m["tgl_cerai"],
                        m["orang_tua_id"],
                    )
                )
            history: dict[str, list[dict[str, Any]]] = {}
            q = sa.select(asn_history).order_by(asn_history.c.nip, asn_history.c.valid_from)
            for h in c.execute(q).mappings():
                history.setdefault(h["nip"], []).append(dict(h))
        return cls(rows, {k: sorted(v, key=repr) for k, v in family.items()}, history)

    @property
    def active(self) -> set[str]:
        return {nip for nip, r in self.rows.items() if r["is_active"]}

    def open_versions(self, nip: str) -> int:
        return sum(1 for h in self.history.get(nip, []) if h["valid_to"] is None)


def mismatches(view: StoreView, truths: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """NIP -> names of the columns (or ``family:<relation>``) where the store and the truth
    disagree; a NIP missing from the store is reported as ``<missing>``."""
    out: dict[str, list[str]] = {}
    for nip, truth in truths.items():
        row = view.rows.get(nip)
        if row is None:
            out[nip] = ["<missing>"]
            continue
        want = expected_columns(truth)
        bad = [
            col for col, value in want.items() if _typed(TRUTH_FIELDS[col][1], row[col]) != value
        ]
        have_family = view.family.get(nip, [])
        want_family = expected_family(truth)
        if have_family != want_family:
            have_by = Counter(m[0] for m in have_family)
            want_by = Counter(m[0] for m in want_family)
            rels = {m[0] for m in have_family} | {m[0] for m in want_family}
            for rel in sorted(rels):
                if [m for m in have_family if m[0] == rel] != [
                    m for m in want_family if m[0] == rel
                ]:
                    bad.append(f"family:{rel}({have_by[rel]} vs {want_by[rel]})")
        if bad:
            out[nip] = bad
    return out


# ---------------------------------------------------------------------------- quarantine leaks

#: truth keys of one person whose values are personal (the employee's own record)
_PERSON_KEYS = ("nipBaru", "nipLama", "nik", "nama", "alamat", "noHp", "email", "emailGov")


def _dmy(iso: str) -> str:
    return f"{iso[8:10]}-{iso[5:7]}-{iso[:4]}"


def _dates_not_of_birth(value: Any, key: str = "") -> Iterable[str]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _dates_not_of_birth(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _dates_not_of_birth(v, key)
    elif isinstance(value, str) and "lahir" not in key.lower():
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return
        yield value


#: keys of the sandbox's truth whose values are personal (what no page, report, log or lineage
#: may show). Birth places are city names, which pages carry anyway ("Asia/Jakarta"): left out.
PERSONAL_KEYS = (
    "nipBaru",
    "nipLama",
    "nama",
    "nik",
    "tglLahir",
    "email",
    "emailGov",
    "noHp",
    "noTelp",
    "alamat",
    "noNpwp",
    "noBpjs",
)


def personal_values(truth: Mapping[str, Any]) -> dict[str, str]:
    """Every personal value of one truth record (lower-cased) -> a label naming its field, for
    leak checks: the employee's NIPs, NIK, name, address, phone, e-mails and birth date, and the
    names and birth dates of spouses, children and parents. Dates in both spellings (ISO, and
    dd-mm-yyyy as SIASN serves them). A birth date equal to another date of the same record
    (a TMT, a wedding) is left out: that date, kept in a payload, would look the same."""
    out: dict[str, str] = {}

    def add(value: Any, label: str) -> None:
        if isinstance(value, str) and value.strip():
            out[value.strip().lower()] = label

    other_dates = set(_dates_not_of_birth(truth))

    def birth(value: Any, label: str) -> None:
        if isinstance(value, str) and len(value) == 10 and value not in other_dates:
            add(value, label)
            add(_dmy(value), label)

    for key in _PERSON_KEYS:
        add(truth.get(key), key)
    birth(truth.get("tglLahir"), "tglLahir")
    members = [("pasangan", sp.get("orang") or {}) for sp in truth.get("pasangan") or []]
    members += [("anak", ch) for ch in truth.get("anak") or []]
    ortu = truth.get("ortu") or {}
    members += [(rel, ortu[rel]) for rel in ("ayah", "ibu") if ortu.get(rel)]
    for rel, member in members:
        add(member.get("nama"), f"{rel}.nama")
        birth(member.get("tglLahir"), f"{rel}.tglLahir")
    return out


# the row's own bookkeeping: its hash (checked separately), id and the wall-clock stamp
_NOT_FROM_THE_RECORD = frozenset({"key_hash", "id", "created_at"})


@dataclass
class QuarantineAudit:
    """What :func:`audit_quarantine` found: rows traced to a key, rows not traced (a garbled
    key), and leaks as (row id, entity kind, field label) - never the value itself."""

    traced: int
    untraced: int
    leaks: list[tuple[int, str, str]]


def audit_quarantine(
    rows: Sequence[Mapping[str, Any]],
    people: Mapping[str, Mapping[str, Any]],
    secret: bytes,
) -> QuarantineAudit:
    """Check stored quarantine rows against the sandbox truth of the people behind them.

    ``people`` maps each key a flow may quarantine (a NIP, a usulan id) to the truth record of
    the person it concerns. A row is traced when its ``key_hash`` is the HMAC-SHA256 of one of
    these keys under ``secret`` (computed here, not by the store, so a plain hash, the clear
    key or another secret does not trace); what the row keeps of the record (reason, detail,
    payload, ...) must hold none of that person's personal values (a NIP key is one of them).
    An untraced row must hold none of anyone's, birth dates aside: tied to no one, a date in it
    cannot be told from another person's birth date.
    """
    by_hash = {hmac.new(secret, key.encode(), hashlib.sha256).hexdigest(): key for key in people}
    everyone: dict[str, str] = {}
    for truth in people.values():
        everyone.update(
            (v, label)
            for v, label in personal_values(truth).items()
            if not label.endswith("tglLahir")
        )
    traced = untraced = 0
    leaks: list[tuple[int, str, str]] = []
    for row in rows:
        stored = {k: v for k, v in row.items() if k not in _NOT_FROM_THE_RECORD}
        text = json.dumps(stored, default=str).lower()
        key = by_hash.get(row["key_hash"])
        if key is None:
            untraced += 1
            values = everyone
        else:
            traced += 1
            values = personal_values(people[key])
        leaks += [
            (row["id"], row["entity_kind"], label) for v, label in values.items() if v in text
        ]
    return QuarantineAudit(traced, untraced, leaks)
