"""NIK at rest: never in clear, tokens under the configured key, rotation without losing
matches, clear NIKs of an older store pseudonymised, quarantine keyed with the configured key.

Real pulls from the sandbox over loopback into SQLite and a real PostgreSQL; the expected
tokens are computed here with ``hmac`` (not with the code under test) from the sandbox's
ground truth.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from siapp_sandbox.testing import RunningSandbox
from siapp_siasn.cli import app
from siapp_siasn.flows.asn_pull import PullParams
from siapp_siasn.hooks.store import StoreHook
from siapp_siasn.models.record import AsnRecord
from siapp_siasn.store import QuarantineItem, Store
from siapp_siasn.store.tables import asn, asn_history, metadata, quarantine
from tests.flows._truth import fetch_truth
from tests.flows.conftest import pull, pull_everything

pytestmark = pytest.mark.integration

# ~120 employees of golongan IV/b and above: every one carries a NIK
WORLD: dict[str, Any] = {"employees": 400, "seed": 5, "ivb_share": 0.3}
K1 = b"nik-test-key-one"
K2 = b"nik-test-key-two"
NIK_FIELDS = ("nik", "nomorIdDocument")


def token(nik: str, key: bytes) -> str:
    """The token the store must hold, computed independently of the code under test."""
    key_id = hmac.new(key, b"siapp-siasn key id", hashlib.sha256).hexdigest()[:8]
    return f"hmac-sha256:{key_id}:{hmac.new(key, nik.encode(), hashlib.sha256).hexdigest()}"


def key_id(key: bytes) -> str:
    return hmac.new(key, b"siapp-siasn key id", hashlib.sha256).hexdigest()[:8]


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test says which keys and connection it runs with."""
    for var in (
        "SIAPP_SIASN_HASH_KEY",
        "SIAPP_SIASN_HASH_KEY_PREVIOUS",
        "AIRFLOW_CONN_SIAPP_SIASN_STORE",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def world(sandbox_module_factory: Any) -> tuple[RunningSandbox, dict[str, str]]:
    """The sandbox and NIP -> NIK of every employee in scope (from the ground truth)."""
    sb = sandbox_module_factory(**WORLD)
    nips = sb.truth("asn", min_gol=42)["nips"]
    niks = {nip: t["nik"] for nip, t in fetch_truth(sb, nips).items()}
    assert len(niks) > 80 and all(len(n) == 16 and n.isdigit() for n in niks.values())
    return sb, niks


def _url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return str(request.getfixturevalue("postgres_db_url"))


def _store_text(store: Store) -> dict[str, str]:
    """Every table in the store's database (as found there, not as ``tables.py`` lists them)
    as one lower-cased text of all columns of all rows."""
    out: dict[str, str] = {}
    names = sa.inspect(store.engine).get_table_names()
    assert {t.name for t in metadata.sorted_tables} <= set(names)
    with store.engine.connect() as c:
        for name in names:
            table = sa.Table(name, sa.MetaData(), autoload_with=c)
            rows = [dict(r) for r in c.execute(sa.select(table)).mappings()]
            out[name] = json.dumps(rows, default=str).lower()
    return out


def _assert_no_nik(store: Store, niks: dict[str, str]) -> None:
    text = _store_text(store)
    found = {table: n for table, t in text.items() if (n := sum(nik in t for nik in niks.values()))}
    assert found == {}, f"clear NIKs at rest (table: how many): {found}"


def _payloads(store: Store, table: sa.Table) -> list[dict[str, Any]]:
    with store.engine.connect() as c:
        return [dict(r) for r in c.execute(sa.select(table.c.nip, table.c.payload)).mappings()]


def _history_shape(store: Store) -> list[tuple[str, Any, Any]]:
    q = sa.select(asn_history.c.nip, asn_history.c.valid_from, asn_history.c.valid_to)
    with store.engine.connect() as c:
        return sorted(c.execute(q.order_by(asn_history.c.nip)).all())


def _assert_tokens(store: Store, niks: dict[str, str], key: bytes) -> None:
    """Every NIK field of asn and asn_history holds the token of the owner's NIK under key."""
    for table in (asn, asn_history):
        rows = _payloads(store, table)
        assert {r["nip"] for r in rows} == set(niks)
        for r in rows:
            for name in NIK_FIELDS:
                assert r["payload"][name] == token(niks[r["nip"]], key), (table.name, name)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_nik_pseudonymised_and_rotated(
    backend: str,
    world: tuple[RunningSandbox, dict[str, str]],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sb, niks = world
    url = _url(backend, request, tmp_path)
    sample = sorted(niks)[:: max(1, len(niks) // 15)]

    # ---- pull under K1: no clear NIK anywhere, tokens are HMAC under K1 --------------------
    with Store(url, hash_key=K1) as store:
        store.migrate()
        first = pull_everything(sb, store, "k1")
        assert first.counts.inserted == len(niks)
        _assert_no_nik(store, niks)
        _assert_tokens(store, niks, K1)
        for nip in sample:
            assert store.asn.find_by_nik(niks[nip]) == [nip]
            # surrounding whitespace (a NIK pasted from a form) is not part of the NIK
            assert store.asn.find_by_nik(f" {niks[nip]}\n") == [nip]
        assert store.asn.find_by_nik("3200000000000000") == []
        assert store.asn.count_by_key_id()["asn"] == {key_id(K1): len(niks)}
        if backend == "postgres":
            _assert_sql_consumers_match(store, niks, sample)
        hashes_k1 = {r["nip"]: r["record_hash"] for r in _records(store)}
        versions = _history_shape(store)
    # a store under another key finds nobody: the tokens are keyed, not plain hashes
    with Store(url, hash_key=K2) as other:
        assert all(other.asn.find_by_nik(niks[nip]) == [] for nip in sample)

    # ---- rotation: current K2, previous K1 ------------------------------------------------
    monkeypatch.delenv("AIRFLOW_CONN_SIAPP_SIASN_STORE", raising=False)
    monkeypatch.setenv("SIAPP_SIASN_HASH_KEY", K2.decode())
    monkeypatch.setenv("SIAPP_SIASN_HASH_KEY_PREVIOUS", K1.decode())
    counted = CliRunner().invoke(app, ["store", "rekey", "--count", "--url", url])
    assert counted.exit_code == 0, counted.output
    assert f"asn: previous={len(niks)}" in counted.output  # the previous key is still needed
    with Store(url, hash_key=K2, hash_key_previous=K1) as store:
        # before any pull, lookups match the rows still made under K1
        assert all(store.asn.find_by_nik(niks[nip]) == [nip] for nip in sample)
        second = pull(sb, store, "k2", PullParams(full_refresh=True))
        assert second.counts.read == len(niks)
        # the same content under a new key: nothing changed, no version opened
        assert (second.counts.inserted, second.counts.updated) == (0, 0)
        assert second.counts.unchanged == len(niks)
        assert _history_shape(store) == versions
        _assert_tokens(store, niks, K2)
        _assert_no_nik(store, niks)
        counts = store.asn.count_by_key_id()
        # the previous key can go: no row holds its tokens any more
        assert counts["asn"] == counts["asn_history"] == {key_id(K2): len(niks)}
        counted = CliRunner().invoke(app, ["store", "rekey", "--count", "--url", url])
        assert f"asn: current={len(niks)}\n" in counted.output, counted.output
        # the record hash covers the NIK's token, so it follows the key (a hash over the clear
        # NIK would not change with the key); the open version carries the current one
        rows = _records(store)
        assert all(r["record_hash"] != hashes_k1[r["nip"]] for r in rows)
        assert {r["nip"]: r["record_hash"] for r in rows} == _open_hashes(store)
    # after the rotation the new key alone finds every employee
    monkeypatch.delenv("SIAPP_SIASN_HASH_KEY_PREVIOUS")
    with Store(url, hash_key=K2) as store:
        assert store.nik_key_previous is None
        assert all(store.asn.find_by_nik(niks[nip]) == [nip] for nip in sample)
        third = pull(sb, store, "k2-again", PullParams(full_refresh=True))
        assert (third.counts.inserted, third.counts.updated) == (0, 0)
        assert _history_shape(store) == versions


#: what SECURITY.md gives SQL consumers (pgcrypto): the token of :nik under :key
PG_TOKEN_SQL = """
    'hmac-sha256:'
    || substr(encode(hmac('siapp-siasn key id', CAST(:key AS text), 'sha256'), 'hex'), 1, 8)
    || ':' || encode(hmac(btrim(CAST(:nik AS text), E' \\t\\r\\n'), CAST(:key AS text),
                          'sha256'), 'hex')
"""


def _assert_sql_consumers_match(store: Store, niks: dict[str, str], sample: list[str]) -> None:
    """The documented PostgreSQL expression computes the stored token (pgcrypto's hmac)."""
    with store.engine.begin() as c:
        c.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pgcrypto")
        q = sa.text(
            f"SELECT nip FROM asn WHERE ({PG_TOKEN_SQL}) IN "
            "(payload->>'nik', payload->>'nomorIdDocument')"
        )
        for nip in sample:
            found = c.execute(q, {"key": K1.decode(), "nik": f" {niks[nip]}\n"}).scalars()
            assert list(found) == [nip]


def _records(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as c:
        return [dict(r) for r in c.execute(sa.select(asn.c.nip, asn.c.record_hash)).mappings()]


def _open_hashes(store: Store) -> dict[str, str]:
    q = sa.select(asn_history.c.nip, asn_history.c.record_hash).where(
        asn_history.c.valid_to.is_(None)
    )
    with store.engine.connect() as c:
        return {nip: h for nip, h in c.execute(q)}


def _unpseudonymise(store: Store, niks: dict[str, str]) -> None:
    """Turn the store back into what the hub wrote before NIKs were pseudonymised: clear NIKs
    in every payload and record hashes over them."""
    with store.engine.begin() as c:
        for table in (asn, asn_history):
            key_cols = [table.c.nip] + ([table.c.valid_from] if table is asn_history else [])
            for r in c.execute(sa.select(*key_cols, table.c.payload)).mappings().all():
                payload = dict(r["payload"])
                for name in NIK_FIELDS:
                    payload[name] = niks[r["nip"]]
                legacy = AsnRecord.from_siasn(payload).legacy_record_hash()
                where = [col == r[col.name] for col in key_cols]
                c.execute(
                    sa.update(table).where(*where).values(payload=payload, record_hash=legacy)
                )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_store_rekey_pseudonymises_clear_niks_of_an_older_store(
    backend: str,
    world: tuple[RunningSandbox, dict[str, str]],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sb, niks = world
    url = _url(backend, request, tmp_path)
    with Store(url, hash_key=K1) as store:
        store.migrate()
        pull_everything(sb, store, "k1")
        pulled = {r["nip"]: r["record_hash"] for r in _records(store)}
        versions = _history_shape(store)
        _unpseudonymise(store, niks)
        assert store.asn.count_by_key_id()["asn"] == {"clear": len(niks)}
    runner = CliRunner()
    monkeypatch.delenv("AIRFLOW_CONN_SIAPP_SIASN_STORE", raising=False)
    monkeypatch.delenv("SIAPP_SIASN_HASH_KEY", raising=False)
    # without the key: one line saying what to set, nothing written
    refused = runner.invoke(app, ["store", "rekey", "--url", url])
    assert refused.exit_code == 1
    assert "hash key" in refused.output and "Traceback" not in refused.output
    with Store(url, hash_key=K1) as store:
        assert store.asn.count_by_key_id()["asn"] == {"clear": len(niks)}

    monkeypatch.setenv("SIAPP_SIASN_HASH_KEY", K1.decode())
    done = runner.invoke(app, ["store", "rekey", "--url", url])
    assert done.exit_code == 0, done.output
    assert f"pseudonymised: asn={len(niks)}, asn_history={len(niks)}" in done.output
    assert f"asn: current={len(niks)}" in done.output
    again = runner.invoke(app, ["store", "rekey", "--url", url])
    assert "pseudonymised: asn=0, asn_history=0, asn_family=0, unverified=0" in again.output

    with Store(url, hash_key=K1) as store:
        _assert_no_nik(store, niks)
        _assert_tokens(store, niks, K1)
        # the hashes are those a pull computes, so the next pull sees nothing changed
        assert {r["nip"]: r["record_hash"] for r in _records(store)} == pulled
        after = pull(sb, store, "after-rekey", PullParams(full_refresh=True))
        assert (after.counts.inserted, after.counts.updated) == (0, 0)
        assert _history_shape(store) == versions


def test_pull_rekeys_rows_stored_in_clear_without_versioning(
    world: tuple[RunningSandbox, dict[str, str]], tmp_path: Path
) -> None:
    """A pull that meets a row written before pseudonymisation re-keys it in place."""
    sb, niks = world
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    with Store(url, hash_key=K1) as store:
        store.migrate()
        pull_everything(sb, store, "k1")
        versions = _history_shape(store)
        _unpseudonymise(store, niks)
        again = pull(sb, store, "k1-again", PullParams(full_refresh=True))
        assert (again.counts.inserted, again.counts.updated) == (0, 0)
        assert _history_shape(store) == versions
        _assert_no_nik(store, niks)
        _assert_tokens(store, niks, K1)


def test_nik_token_cli_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SIAPP_SIASN_STORE", raising=False)
    monkeypatch.setenv("SIAPP_SIASN_HASH_KEY", K1.decode())
    niks = ["3273011503720004", "", "3171044107800001"]
    out = CliRunner().invoke(app, ["nik-token"], input="\n".join(niks) + "\n")
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == [token(niks[0], K1), "", token(niks[2], K1)]
    monkeypatch.delenv("SIAPP_SIASN_HASH_KEY")
    refused = CliRunner().invoke(app, ["nik-token"], input=niks[0] + "\n")
    assert refused.exit_code == 1 and niks[0] not in refused.output


def test_quarantine_is_keyed_with_the_connections_key(
    world: tuple[RunningSandbox, dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A flow run through StoreHook hashes quarantine keys with the connection's hash_key,
    not with the development default."""
    sb, niks = world
    configured = secrets.token_hex(16)
    url = f"sqlite:///{tmp_path / 'hook.sqlite'}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIAPP_SIASN_STORE",
        json.dumps(
            {"conn_type": "generic", "extra": {"sqlalchemy_url": url, "hash_key": configured}}
        ),
    )
    # the development default in the environment must lose to the connection
    monkeypatch.setenv("SIAPP_SIASN_HASH_KEY", "sandbox-hash-key")
    missing = "197001012000011001"  # a well-formed NIP SIASN does not know: quarantined
    assert missing not in niks
    with StoreHook().get_store() as store:
        store.migrate()
        record = pull(sb, store, "hook", PullParams(nips=[missing, sorted(niks)[0]]))
        assert record.counts.quarantined == 1
        with store.engine.connect() as c:
            rows = [dict(r) for r in c.execute(sa.select(quarantine)).mappings()]
        _assert_no_nik(store, niks)
        # the employee that was stored carries a token under the configured key
        (nip,) = store.asn.active_nips()
        assert store.asn.find_by_nik(niks[nip]) == [nip]
    assert len(rows) == 1 and rows[0]["flow"] == "F1"
    want = hmac.new(configured.encode(), missing.encode(), hashlib.sha256).hexdigest()
    default = hmac.new(b"sandbox-hash-key", missing.encode(), hashlib.sha256).hexdigest()
    assert rows[0]["key_hash"] == want != default
    assert missing not in json.dumps(rows, default=str)


def test_quarantine_lookups_accept_the_previous_key(tmp_path: Path) -> None:
    """During a rotation the usulan sync still finds F1's quarantine rows keyed with the
    previous key; afterwards (previous key dropped) it no longer does."""
    url = f"sqlite:///{tmp_path / 'q.sqlite'}"
    nip = "197203151998031002"
    with Store(url, hash_key=K1) as store:
        store.migrate()
        store.quarantine.add(
            [QuarantineItem(flow="F1", entity_kind="asn", key=nip, reason="invalid")],
            run_id="before-rotation",
        )
    old = hmac.new(K1, nip.encode(), hashlib.sha256).hexdigest()
    new = hmac.new(K2, nip.encode(), hashlib.sha256).hexdigest()
    with Store(url, hash_key=K2, hash_key_previous=K1) as store:
        assert store.quarantine.key_hashes(nip) == [new, old]
        assert store.usulan.employees_quarantined(store.quarantine.key_hashes(nip)) == {old}
    with Store(url, hash_key=K2) as store:
        assert store.quarantine.key_hashes(nip) == [new]
        assert store.usulan.employees_quarantined(store.quarantine.key_hashes(nip)) == set()
