"""The sandbox's synthetic SIASN / SIAPP NV bodies parse with the models (no network: the
sandbox's renderers are called in-process). Guards the contract between the two."""

import collections

import pytest

from siapp_sandbox import siasn_app
from siapp_sandbox.usulan import UsulanWorld, WorldDirectory
from siapp_sandbox.world import World
from siapp_siasn import models as m

EMPLOYEES = 400


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=3, employees=EMPLOYEES)


@pytest.mark.parametrize("day", [0, 90])
def test_every_sandbox_employee_record_validates(world: World, day: int) -> None:
    reasons: collections.Counter[str] = collections.Counter()
    unknown: collections.Counter[str] = collections.Counter()
    for i in range(EMPLOYEES):
        ident = world.identity(i)
        wrap = {
            "idPns": ident["idPns"],
            "nipBaru": ident["nipBaru"],
            "nipLama": ident["nipLama"] or "",
        }
        record, reason = m.validate_asn_record(
            siasn_app.raw_data_utama(world, i, day),
            {**wrap, "listPasangan": siasn_app.raw_pasangan(world, i, day)},
            {**wrap, "listAnak": siasn_app.raw_anak(world, i, day)},
            {**wrap, **siasn_app.raw_ortu(world, i, day)},
        )
        if reason:
            reasons[reason] += 1
            continue
        assert record is not None
        assert record.consistency_issues() == []
        # every contract field is served (absent is drift, not null)
        assert record.missing_fields() == []
        unknown.update(record.unknown_fields())
        rw, rw_reason = m.validate_payload(
            m.RwGolonganResponse,
            {"code": 1, "data": siasn_app.raw_rw_golongan(world, i, day)},
        )
        if rw_reason:
            reasons[rw_reason] += 1
        else:
            assert rw is not None and all(row.missing_fields() == [] for row in rw.data)
    assert reasons == {}
    # the sandbox serves the contract's fields only
    assert set(unknown) == set()


def test_sandbox_siapp_lists_validate(world: World) -> None:
    usulan = UsulanWorld(3, WorldDirectory(world))
    usulan.sync(30)
    sizes = {}
    for kind, page_model in m.SIAPP_PAGES.items():
        rows = usulan.siapp_list(kind)
        page, reason = m.validate_payload(page_model, {"data": rows, "next_cursor": None})
        assert reason is None, kind
        assert page is not None and page.unknown_fields() == []
        sizes[kind] = len(rows)
    assert sizes["usulan"] > 0
