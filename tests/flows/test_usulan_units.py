"""usulan_sync rules without the network: scope check, idempotency keys, backoff, document
checks, outgoing bodies, configuration errors, the ordering of outbox groups, and where the
push engine calls the store (on a real SQLite store, with in-process fakes of both sides)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from siapp_siasn.flows.context import FlowConfigError, RunContext
from siapp_siasn.flows.usulan_push import PushParams, plan_groups, push_outbox
from siapp_siasn.flows.usulan_rules import (
    ASN_TIDAK_AKTIF,
    FLOW_PENOLAKAN,
    FLOW_USULAN,
    FLOW_VERIFIKASI,
    GOLONGAN_DI_BAWAH_IVB,
    JENIS_DI_LUAR_PKS,
    KATEGORI_DI_LUAR_PKS,
    PENGANGKATAN_JPT,
    DocumentIntegrityError,
    PayloadError,
    RetryPolicy,
    group_key,
    idempotency_key,
    penolakan_payload,
    pertek_payloads,
    scope_reason,
    status_payload,
    usulan_body,
    usulan_payload,
    verify_document,
    version_hash,
)
from siapp_siasn.flows.usulan_sync import collect_siapp
from siapp_siasn.models.pks import StatusUsulanRow
from siapp_siasn.models.siapp import SiappUsulan
from siapp_siasn.store import OutboxItem, Store

NIP = "197203151998031002"
SHA = hashlib.sha256(b"%PDF-1.4 one").hexdigest()


def _usulan(**overrides: Any) -> SiappUsulan:
    raw: dict[str, Any] = {
        "id": "0b6f0e34-1c1b-4c43-9d1e-6a0f3b8e2a11",
        "version": 1,
        "updated_at": "2026-01-05T09:39:21Z",
        "created_at": "2026-01-05T01:00:00Z",
        "jenis": "KP",
        "kategori_jabatan": "JPT_MADYA",
        "nip": NIP,
        "instansi_id": "A5EB03E23BFBF6A0E040640A040252AD",
        "golongan_baru_id": "44",
        "tmt": "2026-04-01",
        "jenis_kp": "101",
        "status": "DIAJUKAN",
        "dokumen": [
            {
                "id": "d-1",
                "jenis": "SURAT_PENGANTAR",
                "id_ref_dokumen": "876",
                "sha256": SHA,
                "size": 12,
            },
        ],
    }
    raw.update(overrides)
    return SiappUsulan.model_validate(raw)


ACTIVE_IVC = {"is_active": True, "gol_ruang_akhir_id": "43"}


# ---------------------------------------------------------------------------------------------
# scope check
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("jenis", "kategori", "asn", "reason"),
    [
        ("KP", "JPT_UTAMA", ACTIVE_IVC, None),
        ("KP", "JPT_MADYA", ACTIVE_IVC, None),
        ("PEMBERHENTIAN", "JF_AHLI_UTAMA", ACTIVE_IVC, None),
        ("PENGANGKATAN", "JF_AHLI_UTAMA", {"is_active": True, "gol_ruang_akhir_id": "42"}, None),
        ("KP", "JPT_PRATAMA", ACTIVE_IVC, KATEGORI_DI_LUAR_PKS),
        ("MUTASI", "JPT_MADYA", ACTIVE_IVC, JENIS_DI_LUAR_PKS),
        ("PENGANGKATAN", "JPT_MADYA", ACTIVE_IVC, PENGANGKATAN_JPT),
        ("PENGANGKATAN", "JPT_UTAMA", ACTIVE_IVC, PENGANGKATAN_JPT),
        ("KP", "JPT_MADYA", None, GOLONGAN_DI_BAWAH_IVB),  # not in the IV/b+ mirror
        ("KP", "JPT_MADYA", {"is_active": True, "gol_ruang_akhir_id": "41"}, GOLONGAN_DI_BAWAH_IVB),
        ("KP", "JPT_MADYA", {"is_active": False, "gol_ruang_akhir_id": "44"}, ASN_TIDAK_AKTIF),
    ],
)
def test_scope_check(jenis: str, kategori: str, asn: dict | None, reason: str | None) -> None:
    u = _usulan(jenis=jenis, kategori_jabatan=kategori)
    assert scope_reason(u, asn) == reason


def test_refusal_tells_siapp_the_reason_without_personal_data() -> None:
    payload = penolakan_payload("U-1", 2, PENGANGKATAN_JPT)
    assert payload["body"]["alasan_kode"] == PENGANGKATAN_JPT
    assert payload["body"]["version"] == 2
    assert "nip" not in payload["body"] and NIP not in str(payload)


# ---------------------------------------------------------------------------------------------
# idempotency keys
# ---------------------------------------------------------------------------------------------
def _key(u: SiappUsulan) -> str:
    payload = usulan_payload(u)
    return idempotency_key(FLOW_USULAN, u.id, version_hash(payload))


def test_idempotency_key_is_stable_and_only_moves_with_the_content() -> None:
    base = _key(_usulan())
    assert base == _key(_usulan())  # same record read again (another page, another run)
    assert base.startswith(f"{FLOW_USULAN}:0b6f0e34-1c1b-4c43-9d1e-6a0f3b8e2a11:")
    assert len(base) <= 255
    # SIAPP NV's own bookkeeping is not part of the message
    assert base == _key(_usulan(status="DITOLAK_HUB", updated_at="2026-01-09T10:00:00Z"))
    # a new version, or the same version with other content, is a new message
    assert base != _key(_usulan(version=2))
    assert base != _key(_usulan(tmt="2026-10-01"))
    other_doc = [
        {
            "id": "d-1",
            "jenis": "SURAT_PENGANTAR",
            "id_ref_dokumen": "876",
            "sha256": "a" * 64,
            "size": 12,
        }
    ]
    assert base != _key(_usulan(dokumen=other_doc))
    # one version hash, several flows: the keys differ
    vhash = version_hash(usulan_payload(_usulan()))
    assert idempotency_key(FLOW_PENOLAKAN, "x", vhash) != idempotency_key(FLOW_USULAN, "x", vhash)


def test_status_message_ignores_the_day_it_was_read() -> None:
    raw = {
        "id": "5f0c5a2e9d3b4c6e8a1b2c3d4e5f6a7b",
        "id_usulan_siapp": "U-1",
        "nipBaru": NIP,
        "jenis_usulan": "KP",
        "versi": "1",
        "statusUsulan": "22",
        "statusUsulanNama": "Pertek Ditandatangani",
        "hasil_verifikasi": "MS",
        "alasan": "",
        "no_pertek": "PERTEK-00001/KP/2026",
        "tgl_pertek": "12-01-2026",
        "path_ttd_pertek": {"": "siapp/pertek/abc.pdf"},
        "no_ralat_pertek": "",
        "tgl_ralat_pertek": "01-01-0001",
        "path_ralat_pertek": "",
        "updated": "12-01-2026",
    }
    one = StatusUsulanRow.model_validate(raw)
    later = StatusUsulanRow.model_validate({**raw, "updated": "13-01-2026"})
    assert version_hash(status_payload(one)) == version_hash(status_payload(later))
    assert status_payload(one)["body"]["tgl_pertek"] == "2026-01-12"  # SIAPP NV speaks ISO
    ((flow, pertek),) = pertek_payloads(one)
    assert flow == "pertek" and pertek["metadata"]["siasn_path"] == "siapp/pertek/abc.pdf"
    ralat = StatusUsulanRow.model_validate(
        {
            **raw,
            "statusUsulan": "23",
            "no_ralat_pertek": "RALAT-1",
            "tgl_ralat_pertek": "14-01-2026",
            "path_ralat_pertek": "siapp/ralat-pertek/def.pdf",
        }
    )
    assert [f for f, _ in pertek_payloads(ralat)] == ["pertek", "ralat-pertek"]
    # the pertek announced again by the ralat row is the same message as before
    assert version_hash(pertek_payloads(ralat)[0][1]) == version_hash(pertek)


# ---------------------------------------------------------------------------------------------
# outgoing bodies
# ---------------------------------------------------------------------------------------------
def test_usulan_body_is_checked_at_collection_and_completed_after_upload() -> None:
    payload = usulan_payload(_usulan())
    assert "dokumen" not in payload["body"] and payload["body"]["tmt"] == "01-04-2026"
    uploaded = [
        {
            "id_ref_dokumen": "876",
            "dok_id": "1" * 32,
            "dok_uri": "peremajaan/usulan/x.pdf",
            "sha256": SHA,
            "size": 12,
        }
    ]
    body = usulan_body(payload, uploaded)
    assert body["dokumen"][0]["dok_id"] == "1" * 32 and body["versi"] == 1
    with pytest.raises(PayloadError):
        usulan_payload(_usulan(dokumen=[]))
    no_ref = [{"id": "d-1", "jenis": "X", "sha256": SHA, "size": 12}]
    with pytest.raises(PayloadError, match="id_ref_dokumen"):
        usulan_payload(_usulan(dokumen=no_ref))


# ---------------------------------------------------------------------------------------------
# documents
# ---------------------------------------------------------------------------------------------
def test_a_document_is_forwarded_only_when_it_matches_its_announcement() -> None:
    data = b"%PDF-1.4 one"
    assert verify_document(data, sha256=SHA, size=12, header_sha256=SHA.upper()) == SHA
    flipped = b"%PDF-1.4 onf"  # same length, other bytes: what corrupt_document_rate does
    with pytest.raises(DocumentIntegrityError, match="sha256"):
        verify_document(flipped, sha256=SHA, size=12, header_sha256=None)
    with pytest.raises(DocumentIntegrityError, match="size"):
        verify_document(data, sha256=None, size=13)
    with pytest.raises(DocumentIntegrityError, match="header"):
        verify_document(data, sha256=SHA, size=12, header_sha256="b" * 64)
    # a digest the client measured already counts as the digest of the bytes
    assert verify_document(data, sha256=SHA, size=12, header_sha256=SHA, digest=SHA) == SHA
    with pytest.raises(DocumentIntegrityError, match="sha256"):
        verify_document(data, sha256=SHA, size=12, digest="c" * 64)


# ---------------------------------------------------------------------------------------------
# backoff
# ---------------------------------------------------------------------------------------------
def test_backoff_is_exponential_jittered_and_capped() -> None:
    policy = RetryPolicy(max_attempts=5, base_s=60, max_s=600)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 60), (2, 120), (3, 240), (4, 480), (5, 600), (12, 600)]:
        delays = [policy.delay(attempt, rng).total_seconds() for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt
        assert max(delays) - min(delays) > ceiling / 4  # jitter spreads a failed batch
    assert [policy.is_dead(n) for n in range(1, 7)] == [False] * 4 + [True, True]
    now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    first = RetryPolicy().next_attempt(now, 1, random.Random(1))
    again = RetryPolicy().next_attempt(now, 1, random.Random(1))
    assert first == again and now + dt.timedelta(seconds=30) <= first <= now + dt.timedelta(60)
    with pytest.raises(ValueError):
        policy.delay(0)


# ---------------------------------------------------------------------------------------------
# ordering within a group, independence across groups (real SQLite store)
# ---------------------------------------------------------------------------------------------
def _item(flow: str, entity: str, usulan_id: str) -> OutboxItem:
    payload = {"usulan_id": usulan_id, "body": {"n": entity}}
    vhash = version_hash(payload)
    return OutboxItem(flow, entity, vhash, idempotency_key(flow, entity, vhash), payload)


def test_a_waiting_item_holds_back_its_group_only(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}", hash_key=b"k")
    store.migrate()
    store.outbox.enqueue(
        [
            _item(FLOW_USULAN, "u1", "u1"),  # will be in backoff
            _item(FLOW_VERIFIKASI, "v1", "u1"),  # must not overtake it
            _item(FLOW_USULAN, "u2", "u2"),  # another usulan: unaffected
            _item(FLOW_PENOLAKAN, "u1", "u1"),  # toward SIAPP NV: another group
        ]
    )
    now = dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC)
    first = store.outbox.list(entity_id="u1", flow=FLOW_USULAN)[0]
    store.outbox.mark_attempt_failed(
        first.id, error="x", next_attempt_at=now + dt.timedelta(minutes=5), dead=False
    )
    flows = (FLOW_USULAN, FLOW_VERIFIKASI, FLOW_PENOLAKAN)
    due = store.outbox.due(now, flows=flows)
    assert {r.entity_id for r in due} == {"v1", "u2", "u1"}  # u1 = the penolakan
    groups, held_back = plan_groups(store, due, flows)
    assert held_back == 1
    assert sorted([r.flow, r.entity_id] for g in groups for r in g) == [
        [FLOW_PENOLAKAN, "u1"],
        [FLOW_USULAN, "u2"],
    ]
    assert group_key(FLOW_VERIFIKASI, "v1", {"usulan_id": "u1"}) == ("siasn", "u1")
    assert group_key(FLOW_PENOLAKAN, "u1", {"usulan_id": "u1"}) == ("siapp", "u1")
    store.close()


# ---------------------------------------------------------------------------------------------
# configuration errors: deterministic, so the task fails without retries
# ---------------------------------------------------------------------------------------------
def test_bad_settings_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(FlowConfigError, match="unknown target"):
        PushParams(target="bkn")
    with pytest.raises(FlowConfigError):
        PushParams(concurrency=0)
    with pytest.raises(FlowConfigError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(FlowConfigError):
        RetryPolicy(base_s=600, max_s=60)
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}", hash_key=b"k")
    store.migrate()
    with pytest.raises(FlowConfigError, match="unknown SIAPP NV resources"):
        # refused before any request: the client is never used
        asyncio.run(collect_siapp(object(), store, RunContext(), resources=["usulan", "cuti"]))
    store.close()


# ---------------------------------------------------------------------------------------------
# the push engine keeps the store off the event loop
# ---------------------------------------------------------------------------------------------
class _ThreadSpy:
    """Wraps a store (and its repositories): notes the thread of every call made through it."""

    def __init__(self, target: Any, threads: list[int]) -> None:
        self._target, self._threads = target, threads

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name in ("outbox", "documents", "usulan"):
            return _ThreadSpy(value, self._threads)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self._threads.append(threading.get_ident())
            return value(*args, **kwargs)

        return call


class _FakeSide:
    """Both APIs in process: SIAPP NV serves the document, SIASN takes uploads and POSTs."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.loop_threads: set[int] = set()
        self.posts: list[tuple[str, dict[str, Any]]] = []

    async def __aenter__(self) -> _FakeSide:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def metrics(self) -> dict[str, Any]:
        return {}

    async def download_dokumen(self, doc_id: str, *, verify_sha256: bool) -> tuple[bytes, str]:
        self.loop_threads.add(threading.get_ident())
        return b"%PDF-1.4 one", SHA

    async def upload_dok(
        self, data: bytes, filename: str, id_ref_dokumen: str, *, idempotency_key: str
    ) -> dict[str, str]:
        assert idempotency_key  # every upload carries one
        await asyncio.sleep(0)
        return {"dok_id": "1" * 32, "dok_uri": "peremajaan/usulan/x.pdf"}

    async def post_pks(self, flow: str, body: dict[str, Any], key: str) -> dict[str, str]:
        self.loop_threads.add(threading.get_ident())
        # the documents a body refers to are on record before it is sent
        for doc in body.get("dokumen", []):
            ledger = self.store.documents.list(usulan_id=body["id_usulan_siapp"])
            assert [r["target_dok_id"] for r in ledger] == [doc["dok_id"]]
        self.posts.append((flow, body))
        return {"id": f"bkn-{len(self.posts)}"}


def test_the_push_calls_the_store_off_the_event_loop(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}", hash_key=b"k")
    store.migrate()
    u = _usulan()
    payload = usulan_payload(u)
    verifikasi = {"usulan_id": u.id, "version": 1, "body": {"id_usulan_siapp": u.id, "n": 1}}
    items = []
    for flow, entity, data in ((FLOW_USULAN, u.id, payload), (FLOW_VERIFIKASI, "v1", verifikasi)):
        vhash = version_hash(data)
        items.append(OutboxItem(flow, entity, vhash, idempotency_key(flow, entity, vhash), data))
    store.outbox.enqueue(items)
    side = _FakeSide(store)
    store_threads: list[int] = []
    record = asyncio.run(
        push_outbox(
            side,
            side,
            _ThreadSpy(store, store_threads),  # type: ignore[arg-type]
            PushParams(target="siasn"),
            RunContext(now=dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC)),
        )
    )
    assert record.counts.sent == 2 and record.extra["documents"]["uploaded"] == 1
    assert [flow for flow, _ in side.posts] == [FLOW_USULAN, FLOW_VERIFIKASI]  # group order
    assert store_threads and not set(store_threads) & side.loop_threads
    assert len(side.loop_threads) == 1
    assert {r.status for r in store.outbox.list()} == {"sent"}
    assert store.usulan.get(u.id)["status"] == "terkirim"
    store.close()
