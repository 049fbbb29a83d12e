"""``store.selection``: NIP lists stored once, read back by id; errors never echo a NIP."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from siapp_siasn.store import Store
from siapp_siasn.store.selection import (
    SELECTION_ID_PATTERN,
    SelectionError,
    asn_selection,
    is_selection_id,
    read_nip_list,
)

NIPS = ["197203151998031002", "196502091995041754", "198011222005012003"]
#: 18 digits, but no NIP: month 13 of birth
NOT_A_NIP = "197213151998031002"


def test_create_stores_sorted_unique_nips_and_returns_an_id(store: Store) -> None:
    now = dt.datetime(2026, 11, 30, 18, 30, tzinfo=dt.UTC)  # 01:30 on 1 Dec in Jakarta
    sel = store.selection.create([*NIPS, NIPS[0]], "  re-pull   ticket 42 ", now=now)
    assert is_selection_id(sel.id) and sel.id.startswith("sel-20261201-")
    assert (sel.count, sel.purpose, sel.created_at) == (3, "re-pull ticket 42", now)
    assert store.selection.nips(sel.id) == sorted(NIPS)
    assert store.selection.get(sel.id) == sel
    assert sel.summary() == {
        "id": sel.id,
        "created_at": now.isoformat(),
        "purpose": "re-pull ticket 42",
        "count": 3,
    }
    # immutable and distinct: the same list again is a new selection
    again = store.selection.create(NIPS, "again")
    assert again.id != sel.id
    assert [s.id for s in store.selection.list()] == [again.id, sel.id]


def test_unknown_or_malformed_id_is_a_clear_error(store: Store) -> None:
    assert store.selection.get("sel-20261130-000000") is None
    with pytest.raises(SelectionError, match=r"not in this store.*select create"):
        store.selection.nips("sel-20261130-000000")
    with pytest.raises(SelectionError, match="looks like sel-") as err:
        store.selection.nips(NIPS[0])
    assert NIPS[0] not in str(err.value)


@pytest.mark.parametrize(
    ("nips", "purpose", "message"),
    [
        ([], "why", "at least one NIP"),
        ([NIPS[0], NOT_A_NIP, "12345"], "why", "2 entries are not valid NIPs"),
        (NIPS, "   ", "needs a purpose"),
        (NIPS, f"fix {NIPS[1]}", "must not contain a NIP or NIK"),
        (NIPS, "x" * 501, "longer than 500"),
    ],
)
def test_create_refuses_bad_input_without_echoing_it(
    store: Store, nips: list[str], purpose: str, message: str
) -> None:
    with pytest.raises(SelectionError, match=message) as err:
        store.selection.create(nips, purpose)
    for value in [*NIPS, NOT_A_NIP]:
        assert value not in str(err.value)
    with store.engine.connect() as c:
        assert c.scalar(sa.select(sa.func.count()).select_from(asn_selection)) == 0


def test_read_nip_list_takes_lines_commas_and_comments() -> None:
    text = f"# ticket 42\n{NIPS[0]}, {NIPS[1]}\n\n'{NIPS[2]}'  # spreadsheet quote\n{NIPS[0]}\n"
    assert read_nip_list(text) == sorted(NIPS)


def test_read_nip_list_names_lines_and_kinds_never_values() -> None:
    with pytest.raises(SelectionError) as err:
        read_nip_list(f"{NIPS[0]}\n{NOT_A_NIP}\n1972-03-15\n")
    message = str(err.value)
    assert message == ("2 entries are not valid NIPs (line 2: nip_birth_date; line 3: nip_format)")
    assert NOT_A_NIP not in message


def test_id_pattern() -> None:
    assert SELECTION_ID_PATTERN == r"^sel-[0-9]{8}-[0-9a-f]{6}$"
    assert is_selection_id("sel-20261130-ab12cd")
    for bad in (
        "sel-2026113-ab12cd",
        "sel-20261130-AB12CD",
        NIPS[0],
        None,
        ["sel-20261130-ab12cd"],
    ):
        assert not is_selection_id(bad)
