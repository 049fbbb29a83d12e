"""Every field of the SIASN contract (include/contract/siasn.json) is bound by a model field
under its real name, and the models declare no field the contract lacks (no invented names)."""

from typing import Any

import pytest
from pydantic import BaseModel

from siapp_siasn.models import siasn
from siapp_siasn.models.contract import load_siasn_contract

#: contract endpoint -> the model of its `data` (an item model for a top-level array)
MODELS: dict[str, type[BaseModel]] = {
    "data-utama": siasn.DataUtama,
    "data-pasangan": siasn.DataPasangan,
    "data-anak": siasn.DataAnak,
    "data-ortu": siasn.DataOrtu,
    "rw-golongan": siasn.RwGolongan,
}


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _is_list(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is list or any(
        _is_list(a) for a in getattr(annotation, "__args__", ()) or ()
    )


def model_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Dotted wire paths a model binds, spelled like the contract (`a.b`, `list[].c`)."""
    out: set[str] = set()
    for name, finfo in model.model_fields.items():
        path = prefix + (finfo.serialization_alias or name)
        out.add(path)
        inner = _inner_model(finfo.annotation)
        if inner is not None:
            out |= model_paths(inner, path + ("[]." if _is_list(finfo.annotation) else "."))
    return out


def contract_paths(endpoint: str) -> set[str]:
    spec = load_siasn_contract()["endpoints"][endpoint]
    fields = spec["fields"]
    # a top-level array's item fields are `[].x`: the item model binds `x`
    return {k[3:] if k.startswith("[].") else k for k in fields}


@pytest.mark.parametrize("endpoint", sorted(MODELS))
def test_every_contract_field_is_bound_by_the_model(endpoint: str) -> None:
    missing = contract_paths(endpoint) - model_paths(MODELS[endpoint])
    assert missing == set(), f"{endpoint}: contract fields the model cannot bind"


@pytest.mark.parametrize("endpoint", sorted(MODELS))
def test_the_model_binds_no_name_the_contract_lacks(endpoint: str) -> None:
    invented = model_paths(MODELS[endpoint]) - contract_paths(endpoint)
    assert invented == set(), f"{endpoint}: model fields that are not in the contract"


@pytest.mark.parametrize("endpoint", sorted(MODELS))
def test_contract_types_match_the_model_types(endpoint: str) -> None:
    """integer fields parse ints, boolean fields bools, object fields keep JSON."""
    spec = load_siasn_contract()["endpoints"][endpoint]["fields"]
    samples = {"integer": (7, 7), "boolean": (True, True)}
    for path, kind in spec.items():
        if kind not in samples or "." in path.removeprefix("[]."):
            continue
        name = path.removeprefix("[].")
        model = MODELS[endpoint]
        field = next(
            n for n, f in model.model_fields.items() if (f.serialization_alias or n) == name
        )
        given, want = samples[kind]
        base = {"id": "0" * 32, "nipBaru": "196811241994032001", "nama": "X"}
        assert getattr(model.model_validate({**base, name: given}), field) == want, path
        assert getattr(model.model_validate({**base, name: str(given).lower()}), field) == want


def test_the_envelope_binds_model_result() -> None:
    env = siasn.SiasnEnvelope[dict].model_validate(
        {"code": 1, "count": 2, "data": {}, "message": "ok"}
    )
    assert (env.code, env.count, env.message) == (1, 2, "ok")
    assert env.unknown_fields() == []
    result = load_siasn_contract()["endpoints"]["data-utama"]["envelope_fields"]
    assert set(result) == {
        f.serialization_alias or n for n, f in siasn.SiasnEnvelope.model_fields.items()
    }
