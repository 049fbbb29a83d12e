"""The sandbox serves exactly SIASN's published field set (include/contract/siasn.json).

For every emulated per-employee endpoint, over a few hundred employees of a sandbox world: the
union of the served field paths equals the contract's fields (a field the contract lacks, or
one it has that is never served, fails), every record carries every field whose container it
serves (absent is not null), and every value has the contract's JSON type or is a null form.

The only names outside the contract are the casing variants SIASN itself serves, listed in
:data:`VARIANTS` with their source; each stands in for its contract field in some records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from siapp_sandbox import siasn_app as sa
from siapp_sandbox.world import World
from siapp_siasn.models.contract import field_paths, load_siasn_contract

EMPLOYEES = 400
DAY = 30

#: served path -> the contract path it spells differently in some records.
VARIANTS: dict[str, dict[str, str]] = {
    # kanekescom/laravel-siasn-simpeg, migration ..._000031_create_siasn_simpeg_pasangan_table
    # stores `StatusHidup` and `JenisKawinId` for the spouse's `orang`
    "data-pasangan": {
        "listPasangan[].orang.StatusHidup": "listPasangan[].orang.statusHidup",
        "listPasangan[].orang.JenisKawinId": "listPasangan[].orang.jenisKawinId",
    },
    # the sandbox's gelarBlk quirk (the spelling pns.OrangResp uses) in some data-utama records
    "data-utama": {"gelarBlk": "gelarBelakang"},
}


def _wrapped(w: World, i: int, key: str, items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return sa._wrapped(w, i, key, items) if items else None


def _ortu(w: World, i: int, d: int) -> dict[str, Any] | None:
    o = sa.raw_ortu(w, i, d)
    if not (o["ayah"] or o["ibu"]):
        return None
    out = sa._wrapped(w, i, "ayah", o["ayah"])
    out["ibu"] = o["ibu"]
    return out


BUILDERS: dict[str, Callable[[World, int, int], Any]] = {
    "data-utama": sa.raw_data_utama,
    "data-anak": lambda w, i, d: _wrapped(w, i, "listAnak", sa.raw_anak(w, i, d)),
    "data-ortu": _ortu,
    "data-pasangan": lambda w, i, d: _wrapped(w, i, "listPasangan", sa.raw_pasangan(w, i, d)),
    "rw-golongan": lambda w, i, d: sa.raw_rw_golongan(w, i, d) or None,
}


@pytest.fixture(scope="module")
def world() -> World:
    w = World(seed=7, employees=EMPLOYEES, ivb_share=0.2)
    w.advance(DAY)
    return w


def _contract(endpoint: str) -> dict[str, str]:
    return load_siasn_contract()["endpoints"][endpoint]["fields"]


def _served(w: World, endpoint: str, contract: dict[str, str]) -> list[dict[str, set[str]]]:
    """Field paths (variants mapped to their contract names) of every served record."""
    opaque = {k for k, t in contract.items() if t == "object" and k.rsplit(".", 1)[-1] == "path"}
    variants = VARIANTS.get(endpoint, {})
    out = []
    for i in range(w.n):
        data = BUILDERS[endpoint](w, i, w.day)
        if data is None:
            continue
        paths: dict[str, set[str]] = {}
        for path, types in field_paths(data, opaque).items():
            paths.setdefault(variants.get(path, path), set()).update(types)
        out.append(paths)
    return out


def _parent(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ("[]" if path.startswith("[]") else "")


def test_every_emulated_endpoint_is_in_the_contract() -> None:
    assert set(BUILDERS) <= set(load_siasn_contract()["endpoints"])


@pytest.mark.parametrize("endpoint", sorted(BUILDERS))
def test_served_fields_are_exactly_the_contract(world: World, endpoint: str) -> None:
    contract = _contract(endpoint)
    records = _served(world, endpoint, contract)
    assert len(records) >= 100, "too few records served to judge the field set"
    union = {p for p in set().union(*records) if not p.endswith("[]")}  # "[]": list items
    assert sorted(union - set(contract)) == [], "served but not in the contract"
    assert sorted(set(contract) - union) == [], "in the contract but never served"


@pytest.mark.parametrize("endpoint", sorted(BUILDERS))
def test_every_record_carries_every_field(world: World, endpoint: str) -> None:
    contract = _contract(endpoint)
    for paths in _served(world, endpoint, contract):
        present = {p for p, types in paths.items() if "object" in types} | {""}
        missing = [f for f in contract if f not in paths and _parent(f) in present]
        assert missing == [], f"{endpoint}: a record lacks {missing[:5]}"


@pytest.mark.parametrize("endpoint", sorted(BUILDERS))
def test_served_types_are_the_contract_types(world: World, endpoint: str) -> None:
    contract = _contract(endpoint)
    seen: dict[str, set[str]] = {}
    for paths in _served(world, endpoint, contract):
        for path, types in paths.items():
            seen.setdefault(path, set()).update(types)
    wrong = {
        path: sorted(types)
        for path, types in seen.items()
        if not path.endswith("[]") and not types <= {contract.get(path, "?"), "null"}
    }
    assert wrong == {}


def test_real_types_of_the_typed_fields(world: World) -> None:
    """The non-string fields are served with their JSON types (not as strings)."""
    kinds = {
        "data-utama": ("bupPensiun", "mkTahun", "mkBulan", "validNik", "path"),
        "data-pasangan": (
            "listPasangan[].dataPernikahan.posisi",
            "listPasangan[].dataPernikahan.isPns",
        ),
        "rw-golongan": ("[].path",),
    }
    for endpoint, fields in kinds.items():
        contract = _contract(endpoint)
        seen: dict[str, set[str]] = {}
        for paths in _served(world, endpoint, contract):
            for f in fields:
                seen.setdefault(f, set()).update(paths.get(f, set()))
        for f in fields:
            assert contract[f] in seen[f], (endpoint, f, seen[f])
            assert contract[f] != "string"


def test_variants_are_served_alongside_the_contract_names(world: World) -> None:
    """Each documented variant is a real alternative spelling: both forms occur."""
    for endpoint, variants in VARIANTS.items():
        raw: set[str] = set()
        for i in range(world.n):
            data = BUILDERS[endpoint](world, i, world.day)
            if data is not None:
                raw |= set(field_paths(data, {"path", "[].path"}))
        for variant, name in variants.items():
            assert variant in raw and name in raw, (endpoint, variant)
