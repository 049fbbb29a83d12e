"""``pull_asn`` refuses a run whose conf carries NIPs, saying what to do and never which."""

from __future__ import annotations

from typing import Any

import pytest

from siapp_siasn.flows.context import FlowConfigError
from siapp_siasn.operators.siasn import refuse_raw_nips

NIP = "197203151998031002"
NIK = "3174051503720001"
SELECTION = "sel-20261130-ab12cd"


@pytest.mark.parametrize(
    "conf",
    [
        {},
        {"selection": SELECTION},
        {"selection": None, "full_refresh": True, "batch_size": 500},
        {"nips": []},  # the former param's empty default
        None,
    ],
)
def test_a_conf_without_nips_passes(conf: Any) -> None:
    selection = conf.get("selection") if conf else None
    refuse_raw_nips(conf, selection)


def test_the_former_nips_param_fails_with_what_to_do() -> None:
    with pytest.raises(FlowConfigError) as err:
        refuse_raw_nips({"nips": [NIP, "196502091995041754"]}, None)
    message = str(err.value)
    assert "'nips' (2 value(s), not shown) is no longer taken" in message
    assert "siapp-siasn select create --file nips.txt" in message
    assert '{"selection": "sel-yyyymmdd-xxxxxx"}' in message
    assert NIP not in message


@pytest.mark.parametrize(
    ("conf", "where"),
    [
        ({"selection": [NIP]}, "conf.selection[]"),
        ({"employees": f"{NIP},{NIP}"}, "conf.employees"),
        ({"note": {"who": int(NIP)}}, "conf.note.who"),
        ({"nik": NIK}, "conf.nik"),
        ({NIP: True}, "conf.<key>"),
    ],
)
def test_nip_like_numbers_anywhere_in_conf_fail_naming_where(conf: Any, where: str) -> None:
    with pytest.raises(FlowConfigError) as err:
        refuse_raw_nips(conf, conf.get("selection"))
    message = str(err.value)
    assert f"NIP-like numbers at {where} (not shown)" in message
    assert "select create" in message
    assert NIP not in message and NIK not in message


@pytest.mark.parametrize("selection", ["ab12cd", "SEL-20261130-AB12CD", "sel-2026-1"])
def test_a_selection_that_is_no_id_fails(selection: str) -> None:
    with pytest.raises(FlowConfigError, match="must be the id of a stored selection"):
        refuse_raw_nips({"selection": selection}, selection)
