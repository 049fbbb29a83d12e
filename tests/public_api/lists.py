"""Checks of the published layanan lists the sandbox serves (public-API mode), run after a
usulan_sync scenario so that the lists hold usulan at every stage."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from siapp_siasn.models.contract import field_paths, load_siasn_contract
from siapp_siasn.models.errors import validate_payload
from siapp_siasn.models.layanan import KpInstansiRow, PensiunInstansiRow


def _validated(model: type[Any], rows: list[dict[str, Any]]) -> list[Any]:
    out = []
    for raw in rows:
        row, error = validate_payload(model, raw)
        assert row is not None, error
        assert not row.model_extra, sorted(row.model_extra or {})  # every served field typed
        assert set(raw) == set(row.model_dump(by_alias=True))  # and every real field served
        out.append(row)
    return out


def _follows_contract(endpoint: str, data: Any) -> None:
    """The served ``data`` has exactly the contract's field paths, each of its type."""
    contract = load_siasn_contract()["endpoints"][endpoint]["fields"]
    seen = field_paths(data)
    assert set(seen) == set(contract), endpoint
    for path, kinds in seen.items():
        assert kinds <= {contract[path], "null"}, (endpoint, path, kinds)


def check_public_lists(hub: Any) -> None:
    """``list-kp-instansi`` (by period), ``kp-instansi-byId`` and ``list-pensiun-instansi``
    (by pertek date) agree with what the hub holds, and every row binds the model."""
    held = [r for r in hub.store.usulan.list() if r["bkn_usulan_id"]]
    kp = [r for r in held if r["jenis"] == "KP"]
    # after a ralat (23) the list shows the ralat's date, not the pertek the hub holds
    pensiun = [
        r
        for r in held
        if r["jenis"] == "PEMBERHENTIAN" and r["tgl_pertek"] and r["status_bkn"] != "23"
    ]
    assert kp and pensiun

    async def read() -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]]]:
        async with hub.siasn() as client:
            one = await client.kp_instansi_by_id(kp[0]["bkn_usulan_id"])
            assert one is not None
            periode = dt.datetime.strptime(one["tmtKp"], "%d-%m-%Y").date()
            listed = await client.list_kp_instansi(periode, page_size=2)
            day = pensiun[0]["tgl_pertek"]
            gone = await client.list_pensiun_instansi(day, day)
            return one, listed, gone

    one, listed, gone = asyncio.run(read())
    _follows_contract("kp-instansi-byId", one)
    _follows_contract("list-kp-instansi", listed)
    _follows_contract("list-pensiun-instansi", gone)
    (by_id,) = _validated(KpInstansiRow, [one])
    assert by_id.status_usulan == kp[0]["status_bkn"]
    kp_rows = _validated(KpInstansiRow, listed)
    assert by_id.id in {r.id for r in kp_rows}
    assert len({r.id for r in kp_rows}) == len(kp_rows)  # pages of 2, none twice
    assert all(r.tmt_kp == by_id.tmt_kp for r in kp_rows)
    pensiun_rows = _validated(PensiunInstansiRow, gone)
    assert pensiun[0]["bkn_usulan_id"] in {r.id for r in pensiun_rows}
    assert all(r.pertek_tgl == pensiun[0]["tgl_pertek"] for r in pensiun_rows)
