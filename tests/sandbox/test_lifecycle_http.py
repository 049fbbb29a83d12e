"""The usulan lifecycle over real HTTP: a test client plays the hub between the two emulators
while the simulated clock advances (F5 → F3 → F4 → Setneg verifikasi → Keppres → F7 → SIASN
data-utama shows the promotion). Also: out-of-scope usulan in the truth endpoints."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from siapp_sandbox.testing import RunningSandbox

pytestmark = pytest.mark.integration

P = "/apisiasn/1.0"


def dmy(iso: str) -> str:
    return f"{iso[8:10]}-{iso[5:7]}-{iso[:4]}"


class HttpHub:
    """The smallest hub that moves one usulan through the whole chain."""

    def __init__(self, sb: RunningSandbox) -> None:
        self.sb = sb
        self.siasn = httpx.Client(base_url=sb.siasn_url, headers=sb.siasn_headers(), timeout=30)
        token = sb.siapp_token()
        self.siapp = httpx.Client(
            base_url=sb.siapp_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def close(self) -> None:
        self.siasn.close()
        self.siapp.close()

    def siapp_list(self, kind: str, since: str | None = None) -> list[dict[str, Any]]:
        out, cursor = [], None
        while True:
            params: dict[str, Any] = {"limit": 50}
            if since:
                params["updated_since"] = since
            if cursor:
                params["cursor"] = cursor
            r = self.siapp.get(f"/api/v1/{kind}", params=params)
            assert r.status_code == 200, r.text
            out.extend(r.json()["data"])
            cursor = r.json()["next_cursor"]
            if cursor is None:
                return out

    def status(self, usulan_id: str) -> dict[str, Any] | None:
        r = self.siasn.get(f"{P}/siapp/status-usulan", params={"limit": 500})
        if r.status_code == 404:
            return None
        rows = r.json()["data"]["list"]
        return next((x for x in rows if x["id_usulan_siapp"] == usulan_id), None)

    def upload(self, data: bytes, ref: str) -> dict[str, Any]:
        r = self.siasn.post(
            f"{P}/upload-dok",
            files={"file": ("dok.pdf", data, "application/pdf")},
            data={"id_ref_dokumen": ref},
        )
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def download_siapp(self, meta: dict[str, Any]) -> bytes:
        data = self.siapp.get(f"/api/v1/dokumen/{meta['id']}").content
        assert hashlib.sha256(data).hexdigest() == meta["sha256"]
        return data

    def push_usulan(self, rec: dict[str, Any]) -> dict[str, Any]:
        docs = []
        for d in rec["dokumen"]:
            up = self.upload(self.download_siapp(d), d["id_ref_dokumen"])
            docs.append({**{k: d[k] for k in ("id_ref_dokumen", "sha256", "size")}, **up})
        body = {
            "id_usulan_siapp": rec["id"],
            "nip": rec["nip"],
            "jenis_usulan": rec["jenis"],
            "kategori_jabatan": rec["kategori_jabatan"],
            "versi": rec["version"],
            "instansi_id": rec["instansi_id"],
            "golongan_baru_id": rec["golongan_baru_id"],
            "tmt": dmy(rec["tmt"]),
            "jenis_kp": rec["jenis_kp"],
            "dokumen": [
                {k: d[k] for k in ("id_ref_dokumen", "dok_id", "dok_uri", "sha256", "size")}
                for d in docs
            ],
        }
        key = f"F5:{rec['id']}:{rec['version']}"
        r = self.siasn.post(f"{P}/siapp/usulan", json=body, headers={"Idempotency-Key": key})
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def deliver_status(self, row: dict[str, Any]) -> None:
        body = {
            "usulan_id": row["id_usulan_siapp"],
            "version": int(row["versi"]),
            "status_bkn": row["statusUsulan"],
            "status_bkn_nama": row["statusUsulanNama"],
            "hasil_verifikasi": row["hasil_verifikasi"],
            "alasan": row["alasan"],
        }
        key = f"F3:{row['id_usulan_siapp']}:{row['statusUsulan']}:{row['versi']}"
        r = self.siapp.post(
            "/api/v1/inbound/status-usulan", json=body, headers={"Idempotency-Key": key}
        )
        assert r.status_code == 200, r.text

    def deliver_pertek(self, row: dict[str, Any]) -> str:
        path = row["path_ttd_pertek"]
        path = path[""] if isinstance(path, dict) else path
        pdf = self.siasn.get(f"{P}/download-dok", params={"filePath": path}).content
        held = self.siasn.get(f"{P}/siapp/dokumen", params={"idUsulan": row["id_usulan_siapp"]})
        pertek = next(d for d in held.json()["data"]["list"] if d["dok_uri"] == path)
        sha = hashlib.sha256(pdf).hexdigest()
        assert sha == pertek["sha256"], "SIASN lists the sha256 of the pertek it serves"
        meta = {
            "usulan_id": row["id_usulan_siapp"],
            "no_pertek": row["no_pertek"],
            "tgl_pertek": row["tgl_pertek"],
            "sha256": sha,
        }
        r = self.siapp.post(
            "/api/v1/inbound/pertek",
            files={"file": ("pertek.pdf", pdf, "application/pdf")},
            data={"metadata": orjson.dumps(meta).decode()},
            headers={"Idempotency-Key": f"F4:{row['id_usulan_siapp']}:{row['no_pertek']}"},
        )
        assert r.status_code == 200, r.text
        return sha

    def push_keppres(self, kep: dict[str, Any], siasn_id: str) -> httpx.Response:
        pdf = self.download_siapp(kep["dokumen"])
        up = self.siasn.post(
            f"{P}/upload-dok-sk-kp",
            files={"file": ("keppres.pdf", pdf, "application/pdf")},
            data={
                "id_usulan": siasn_id,
                "no_sk": kep["no_keppres"],
                "tgl_sk": dmy(kep["tgl_keppres"]),
            },
        )
        assert up.status_code == 200, up.text
        body = {
            "id_keppres_siapp": kep["id"],
            "id_usulan_siapp": kep["usulan_id"],
            "nip": kep["nip"],
            "no_keppres": kep["no_keppres"],
            "tgl_keppres": dmy(kep["tgl_keppres"]),
            "tmt": dmy(kep["tmt"]),
            "dokumen": {
                "dok_id": up.json()["data"]["dok_id"],
                "dok_uri": up.json()["data"]["dok_uri"],
                "sha256": kep["dokumen"]["sha256"],
                "size": kep["dokumen"]["size"],
            },
        }
        key = f"F7:{kep['id']}:{kep['version']}"
        return self.siasn.post(f"{P}/siapp/keppres", json=body, headers={"Idempotency-Key": key})


@pytest.fixture(scope="module")
def sb(sandbox_module_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    return sandbox_module_factory(employees=3000, seed=3)


def test_clock_moves_a_kp_usulan_to_keppres_and_promotion(sb: RunningSandbox) -> None:
    hub = HttpHub(sb)
    try:
        recs: list[dict[str, Any]] = []
        for _ in range(10):  # wait until SIAPP NV has a few in-scope KP usulan
            truth = {t["id"]: t for t in sb.truth("usulan")["usulan"]}
            recs = [
                r
                for r in hub.siapp_list("usulan")
                if truth[r["id"]]["in_scope"] and r["jenis"] == "KP"
            ]
            if len(recs) >= 3:
                break
            sb.advance(1)
        assert len(recs) >= 3
        # F5: deliver them (BKN decides MS/BTS/TMS per usulan the next day)
        ids = {r["id"]: hub.push_usulan(r)["id"] for r in recs}
        assert all(hub.status(u)["statusUsulan"] == "1" for u in ids)
        sb.advance(1)
        rows = {u: hub.status(u) for u in ids}
        assert all(r["statusUsulan"] in ("11", "12", "13") for r in rows.values())
        assert all(r["hasil_verifikasi"] in ("BTS", "TMS", "MS") for r in rows.values())
        ms = [u for u, r in rows.items() if r["statusUsulan"] == "13"]
        assert ms, "at least one MS (~80 % each)"
        for u in ms:
            hub.deliver_status(rows[u])
        # pertek within 1..3 days
        for _ in range(3):
            sb.advance(1)
            if all(hub.status(u)["statusUsulan"] in ("22", "23") for u in ms):
                break
        signed = {u: hub.status(u) for u in ms}
        assert all(r["statusUsulan"] in ("22", "23") for r in signed.values())
        assert all(
            r["no_pertek"] and r["tgl_pertek"] and r["path_ttd_pertek"] for r in signed.values()
        )
        # signed at SIASN but not delivered to SIAPP NV: no Setneg verifikasi appears
        sb.advance(1)
        assert not [v for v in hub.siapp_list("verifikasi") if v["usulan_id"] in ms]
        watermark = max(r["updated_at"] for r in hub.siapp_list("usulan"))
        for u in ms:
            hub.deliver_status(hub.status(u))
            hub.deliver_pertek(hub.status(u))
        # Setneg verifikasi the next day, Keppres 2..4 days later
        sb.advance(1)
        ver = [v for v in hub.siapp_list("verifikasi", since=watermark) if v["usulan_id"] in ms]
        assert sorted(v["usulan_id"] for v in ver) == sorted(ms)
        approved = [v for v in ver if v["hasil"] == "DISETUJUI"]
        assert approved, "~95 % are approved"
        ver = approved[:1]
        uid = ver[0]["usulan_id"]
        rec = next(r for r in recs if r["id"] == uid)
        f6 = {
            "id_verifikasi_siapp": ver[0]["id"],
            "id_usulan_siapp": uid,
            "versi": ver[0]["version"],
            "hasil": ver[0]["hasil"],
            "catatan": ver[0]["catatan"],
            "tgl_verifikasi": dmy(ver[0]["verified_at"]),
        }
        r = hub.siasn.post(
            f"{P}/siapp/verifikasi-setneg", json=f6, headers={"Idempotency-Key": f"F6:{uid}"}
        )
        assert r.status_code == 200 and r.json()["data"]["status"] == "diterima"
        kep: list[dict[str, Any]] = []
        for _ in range(4):
            sb.advance(1)
            kep = [k for k in hub.siapp_list("keppres") if k["usulan_id"] == uid]
            if kep:
                break
        assert len(kep) == 1 and kep[0]["nip"] == rec["nip"] and kep[0]["no_keppres"]
        usulan_now = next(r for r in hub.siapp_list("usulan") if r["id"] == uid)
        assert usulan_now["status"] == "KEPPRES_TERBIT" and usulan_now["version"] == 1
        nip = rec["nip"]
        before = hub.siasn.get(f"{P}/pns/data-utama/{nip}").json()["data"]
        assert before["golRuangAkhirId"] != rec["golongan_baru_id"]
        # F7: SIASN receives the Keppres → 32 and the golongan changes in data-utama
        first = hub.push_keppres(kep[0], ids[uid])
        assert first.status_code == 200, first.text
        assert hub.status(uid)["statusUsulan"] == "32"
        after = hub.siasn.get(f"{P}/pns/data-utama/{nip}").json()["data"]
        assert after["golRuangAkhirId"] == rec["golongan_baru_id"]
        assert after["tmtGolAkhir"] == dmy(rec["tmt"])
        t = sb.truth("usulan", id=uid)["usulan"][0]
        assert t["stage"] == "GOLONGAN_PROMOTED"
        names = [s["stage"] for s in t["stages"]]
        assert names[:2] == ["SUBMITTED", "DELIVERED_V1"]
        assert names.index("PERTEK_DELIVERED") < names.index("SETNEG_DISETUJUI")
        assert names.index("KEPPRES_ISSUED") < names.index("KEPPRES_DELIVERED")
        docs = sb.truth("documents", usulan_id=uid)
        siasn_kinds = sorted({d["kind"] for d in docs["siasn"]})
        assert siasn_kinds == ["PERTEK", "SK", "UPLOAD"]
        assert all(d["ok"] for d in docs["siapp"] if d["source"] == "INBOUND")
        got = [e for e in sb.received("siapp.keppres") if e["payload"]["id_usulan_siapp"] == uid]
        assert len(got) == 1
    finally:
        hub.close()


def test_a_hub_that_delivers_nothing_sees_no_progress(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    quiet = sandbox_factory(employees=3000, seed=3)
    quiet.advance(20)
    hub = HttpHub(quiet)
    try:
        assert hub.siasn.get(f"{P}/siapp/status-usulan").status_code == 404
        assert hub.siapp_list("verifikasi") == [] and hub.siapp_list("keppres") == []
        assert {t["stage"] for t in quiet.truth("usulan")["usulan"]} == {"SUBMITTED"}
    finally:
        hub.close()


def test_out_of_scope_usulan_are_flagged_in_truth(sb: RunningSandbox) -> None:
    hub = HttpHub(sb)
    try:
        oos = sb.truth("out-of-scope")
        for _ in range(30):
            if oos["count"]:
                break
            sb.advance(1)
            oos = sb.truth("out-of-scope")
        assert oos["count"] >= 1
        recs = {r["id"]: r for r in hub.siapp_list("usulan")}
        for item in oos["usulan"]:
            rec = recs[item["id"]]
            assert rec["jenis"] == item["jenis"]
            assert rec["kategori_jabatan"] == item["kategori_jabatan"]
            assert item["reason"] in (
                "KATEGORI_DI_LUAR_PKS",
                "PENGANGKATAN_JPT",
                "GOLONGAN_DI_BAWAH_IVB",
            )
            if item["reason"] == "KATEGORI_DI_LUAR_PKS":
                assert rec["kategori_jabatan"] not in ("JPT_UTAMA", "JPT_MADYA", "JF_AHLI_UTAMA")
            elif item["reason"] == "PENGANGKATAN_JPT":
                assert rec["jenis"] == "PENGANGKATAN" and rec["kategori_jabatan"] != "JF_AHLI_UTAMA"
            else:
                assert int(item["golongan_asal_id"]) < 42
                created = date(2026, 1, 5) + timedelta(days=item["created_day"])
                rw = hub.siasn.get(f"{P}/pns/rw-golongan/{rec['nip']}").json()["data"]
                then = [
                    x
                    for x in rw
                    if datetime.strptime(x["tmtGolongan"], "%d-%m-%Y").date() <= created
                ]
                assert int(then[-1]["golonganId"]) < 42, "SIASN: below IV/b when proposed"
        in_scope = [t for t in sb.truth("usulan")["usulan"] if t["in_scope"]]
        assert in_scope and all(t["scope_reason"] is None for t in in_scope)
        # the hub refuses it: SIAPP NV records the penolakan, truth shows it
        target = oos["usulan"][0]
        r = hub.siapp.post(
            "/api/v1/inbound/penolakan",
            json={"usulan_id": target["id"], "version": 1, "alasan_kode": target["reason"]},
            headers={"Idempotency-Key": f"REFUSE:{target['id']}:1"},
        )
        assert r.status_code == 200
        after = {x["id"]: x for x in sb.truth("out-of-scope")["usulan"]}
        assert after[target["id"]]["penolakan_received"] is True
        assert after[target["id"]]["delivered_to_siasn"] is False
        sb.advance(1)
        status = next(x for x in hub.siapp_list("usulan") if x["id"] == target["id"])["status"]
        assert status == "DITOLAK_HUB"
    finally:
        hub.close()
