"""SIASN endpoints BKN publishes for layanan status (public-API mode), and the ASN export file.

Included by ``siasn_app`` (``install(app, state)``), served from the same usulan world as the
PKS routes of :mod:`.siasn_pks`, so both modes see one truth:

* ``GET /apisiasn/1.0/pns/list-kp-instansi?periode=yyyy-mm-dd&limit=&offset=``: KP usulan of the
  period (the TMT of the new golongan), rows with the field set public clients store
  (kanekescom/laravel-siasn-simpeg migrations ``…_create_siasn_simpeg_pns_list_kp_instansi_table``
  and the ``masa_kerja_tahun|bulan``, ``jenis_kp``, ``jenis_prosedur`` additions).
* ``GET /apisiasn/1.0/pns/kp-instansi-byId?IdUsulan=``: one usulan by BKN's id, same row shape.
  Real SIASN answers it for KP only; the sandbox answers it for every usulan it holds, so the
  public mode can follow PEMBERHENTIAN and PENGANGKATAN too (a documented sandbox liberty).
* ``GET /apisiasn/1.0/pns/list-pensiun-instansi?tglAwal=dd-mm-yyyy&tglAkhir=dd-mm-yyyy``:
  PEMBERHENTIAN usulan with a pertek dated in the range (field set of the same repository's
  ``…_create_siasn_simpeg_pns_list_pensiun_instansi_table``).

Quirks kept: ``model.Result`` envelope ``{"code", "count", "data", "message"}``, strings
everywhere, ``dd-mm-yyyy`` dates, snake_case and camelCase mixed in one KP row. After a ralat
pertek (status 23) the row's ``no_pertek`` / ``tgl_pertek`` / ``path_ttd_pertek`` describe the
ralat (the list shows the pertek in force; the public API has no separate ralat fields).
Documents stay on ``download-dok`` / ``upload-dok`` / ``upload-dok-sk-kp`` (:mod:`.siasn_pks`).

Agency entry: BKN publishes no endpoint to submit an usulan, so in public mode the agency enters
it in SIASN itself. ``GET|PUT /_sandbox/agency-entry`` ``{"agency_entry_days": N | null}``
(default null: off) makes the usulan world enter every usulan version N days after SIAPP NV
created it (:attr:`.usulan.UsulanWorld.agency_entry_days`), with the lifecycle an F5 POST starts;
the hub then finds it in the lists above. Invalid → 422 naming the field.

The export: ``/_sandbox/truth/export-asn`` gives the world's "Export Data ASN" of today (active
employees, every golongan) as ``{"columns": [...], "rows": [[...]]}``; :func:`write_export`
renders it as the CSV SIASN's web application downloads, for tests and for
``siapp-siasn sandbox export-asn``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from . import refdata
from .common import SandboxState, error_response, get_state, json_response, not_found
from .usulan import STATUS_NAMA, SiasnDoc, SiasnUsulan, UsulanWorld, attach, day_date, dmy

__all__ = ["EXPORT_COLUMNS", "control", "export_rows", "install", "router", "write_export"]

PREFIX = "/apisiasn/1.0"
MAX_LIMIT = 500

#: columns of the sandbox's export (a subset of SIASN's "Export Data ASN", same header names)
EXPORT_COLUMNS = (
    "PNS ID",
    "NIP BARU",
    "GOL AKHIR ID",
    "GOL AKHIR NAMA",
    "KEDUDUKAN HUKUM ID",
    "KEDUDUKAN HUKUM NAMA",
)
_KEDUDUKAN_NAMA = {1: "Aktif", 66: "Diberhentikan", 77: "Meninggal", 99: "Pensiun"}
_JENIS_KP = {"KP": "Reguler", "PEMBERHENTIAN": "Pensiun", "PENGANGKATAN": "Pengangkatan"}

router = APIRouter(prefix=PREFIX, tags=["public"])
#: sandbox controls of the public mode (no auth, never faulted, like every ``/_sandbox`` route)
control = APIRouter(prefix="/_sandbox", tags=["sandbox"])
MAX_AGENCY_ENTRY_DAYS = 365


def _result(data: Any, count: int) -> Response:
    return json_response({"code": 1, "count": count, "data": data, "message": "success"})


def _world(request: Request) -> UsulanWorld:
    state = get_state(request)
    w = attach(state)
    w.sync(state.day)
    return w


def _path(doc: SiasnDoc | None) -> str:
    return doc.dok_uri if doc is not None else ""


def _received(s: SiasnUsulan) -> dict[str, Any]:
    return s.received.get(s.versi) or (s.received[max(s.received)] if s.received else {})


def _tmt(s: SiasnUsulan) -> date:
    """TMT of the usulan (as SIAPP NV sent it), else the first of the month after receipt."""
    raw = str(_received(s).get("tmt") or "")
    try:
        return datetime.strptime(raw, "%d-%m-%Y").date()
    except ValueError:
        d = day_date(s.updated_day)
        return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def _current_pertek(s: SiasnUsulan) -> tuple[str, date | None, SiasnDoc | None]:
    if s.status == "23" and s.ralat is not None:
        return s.no_ralat, s.tgl_ralat, s.ralat
    return s.no_pertek, s.tgl_pertek, s.pertek


def _pns_id(w: UsulanWorld, nip: str) -> str:
    seed = int(getattr(w, "seed", 0))
    return refdata.guid(seed, "pns", int(nip)) if nip.isdigit() else ""


def kp_row(w: UsulanWorld, s: SiasnUsulan) -> dict[str, Any]:
    """A list-kp-instansi row of ``s`` (synthetic values, the real field set)."""
    nomor, tgl, doc = _current_pertek(s)
    body = _received(s)
    sk = s.sk_docs[-1] if s.sk_docs else None
    keppres = s.keppres or {}
    gol_baru = str(body.get("golongan_baru_id") or "")
    return {
        "id": s.id,
        "pnsId": _pns_id(w, s.nip),
        "statusUsulan": s.status,
        "statusUsulanNama": STATUS_NAMA[s.status],
        "nipBaru": s.nip,
        "nama": f"PNS {s.nip[-4:]}",
        "no_pertek": nomor or "",
        "no_sk": str(keppres.get("no_keppres") or ""),
        "path_ttd_sk": _path(sk),
        "path_ttd_pertek": _path(doc),
        "tgl_pertek": dmy(tgl) if tgl else "",
        "tgl_sk": str(keppres.get("tgl_keppres") or ""),
        "golonganBaruId": gol_baru,
        "tmtKp": dmy(_tmt(s)),
        "path_preview_sk": _path(sk),
        "gaji_pokok_baru": "",
        "gaji_pokok_lama": "",
        "masa_kerja_tahun": "",
        "masa_kerja_bulan": "",
        "jenis_kp": _JENIS_KP.get(s.jenis_usulan, s.jenis_usulan),
        "jenis_prosedur": "1",
        "alasan_tolak_tambahan": s.alasan or "",
    }


def pensiun_row(w: UsulanWorld, s: SiasnUsulan) -> dict[str, Any]:
    """A list-pensiun-instansi row of ``s`` (camelCase, as public clients store it)."""
    nomor, tgl, doc = _current_pertek(s)
    sk = s.sk_docs[-1] if s.sk_docs else None
    keppres = s.keppres or {}
    return {
        "id": s.id,
        "nama": f"PNS {s.nip[-4:]}",
        "statusUsulan": s.status,
        "statusUsulanNama": STATUS_NAMA[s.status],
        "pnsId": _pns_id(w, s.nip),
        "nipBaru": s.nip,
        "pertekNomor": nomor or "",
        "skNomor": str(keppres.get("no_keppres") or ""),
        "pathSk": _path(sk),
        "pathPertek": _path(doc),
        "pertekTgl": dmy(tgl) if tgl else "",
        "skTgl": str(keppres.get("tgl_keppres") or ""),
        "instansiId": str(_received(s).get("instansi_id") or ""),
        "instansiNama": "",
        "detailLayananNama": "BUP",
        "tglLahir": "",
        "golonganId": "",
        "golonganKppId": "",
        "tmtPensiun": dmy(_tmt(s)),
        "pathSkPreview": _path(sk),
    }


def _usulan(w: UsulanWorld) -> list[SiasnUsulan]:
    with w.lock:
        return sorted(w.siasn_by_id.values(), key=lambda s: s.id)


def _int(request: Request, name: str, default: int, hi: int) -> int | Response:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        return error_response(400, "Bad Request", f"{name} harus bilangan bulat")
    if not 0 <= value <= hi:
        return error_response(400, "Bad Request", f"{name} di luar batas")
    return value


def _dmy(raw: str | None) -> date | None:
    try:
        return datetime.strptime(raw or "", "%d-%m-%Y").date()
    except ValueError:
        return None


@router.get("/pns/list-kp-instansi", summary="KP usulan of the instansi for one KP period")
async def list_kp_instansi(request: Request) -> Response:
    try:
        periode = date.fromisoformat(request.query_params.get("periode") or "")
    except ValueError:
        return error_response(400, "Bad Request", "periode harus yyyy-mm-dd")
    limit = _int(request, "limit", 10, MAX_LIMIT)
    offset = _int(request, "offset", 0, 10**9)
    if isinstance(limit, Response):
        return limit
    if isinstance(offset, Response):
        return offset
    w = _world(request)
    rows = [kp_row(w, s) for s in _usulan(w) if s.jenis_usulan == "KP" and _tmt(s) == periode]
    page = rows[offset : offset + max(limit, 1)]
    if not page:
        return not_found()
    return _result(page, len(rows))


@router.get("/pns/kp-instansi-byId", summary="One usulan by BKN's id")
async def kp_instansi_by_id(request: Request) -> Response:
    ref = (request.query_params.get("IdUsulan") or "").strip()
    if not ref:
        return error_response(400, "Bad Request", "IdUsulan wajib diisi")
    w = _world(request)
    with w.lock:
        s = w.siasn_by_id.get(ref)
    if s is None:
        return not_found()
    return _result(kp_row(w, s), 1)


@router.get("/pns/list-pensiun-instansi", summary="Pemberhentian usulan by pertek date")
async def list_pensiun_instansi(request: Request) -> Response:
    awal = _dmy(request.query_params.get("tglAwal"))
    akhir = _dmy(request.query_params.get("tglAkhir"))
    if awal is None or akhir is None:
        return error_response(400, "Bad Request", "tglAwal dan tglAkhir harus dd-mm-yyyy")
    w = _world(request)
    rows = []
    for s in _usulan(w):
        _, tgl, _ = _current_pertek(s)
        if s.jenis_usulan == "PEMBERHENTIAN" and tgl is not None and awal <= tgl <= akhir:
            rows.append(pensiun_row(w, s))
    if not rows:
        return not_found()
    return _result(rows, len(rows))


def _agency_entry(w: UsulanWorld) -> Response:
    return json_response({"agency_entry_days": w.agency_entry_days})


@control.get("/agency-entry", summary="Days after which the agency enters an usulan in SIASN")
async def get_agency_entry(request: Request) -> Response:
    return _agency_entry(_world(request))


@control.put("/agency-entry", summary="Set (or, with null, turn off) the agency's entry")
async def put_agency_entry(request: Request) -> Response:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return error_response(422, "Invalid", "(body): not valid JSON")
    if not isinstance(body, dict) or set(body) - {"agency_entry_days"}:
        return error_response(422, "Invalid", "(body): only agency_entry_days is known")
    days = body.get("agency_entry_days")
    if days is not None and (
        isinstance(days, bool)
        or not isinstance(days, int)
        or not 0 <= days <= MAX_AGENCY_ENTRY_DAYS
    ):
        return error_response(
            422, "Invalid", f"agency_entry_days: null or 0..{MAX_AGENCY_ENTRY_DAYS}"
        )
    w = _world(request)
    with w.lock:
        w.agency_entry_days = days
    return _agency_entry(w)


# --------------------------------------------------------------------------- export file


def export_rows(state: SandboxState) -> dict[str, Any]:
    """Today's "Export Data ASN" of the world: active employees of every golongan."""
    world = state.world
    d = state.day
    ked = world.kedudukan(d)
    gol = world.golongan(d)
    idx = [int(i) for i in (ked == 1).nonzero()[0].tolist()]
    nips = world.nips()
    nama = {
        int(g["id"]): g.get("nama") or g.get("golongan") or ""
        for g in refdata.referensi("golongan") or []
        if str(g.get("id", "")).isdigit()
    }
    rows = [
        [
            refdata.guid(int(world.seed), "pns", int(nips[i])),
            world.nip_of(i),
            str(int(gol[i])),
            str(nama.get(int(gol[i]), "")),
            f"{int(ked[i]):02d}",
            _KEDUDUKAN_NAMA.get(int(ked[i]), ""),
        ]
        for i in idx
    ]
    return {"date": day_date(d).isoformat(), "columns": list(EXPORT_COLUMNS), "rows": rows}


def write_export(export: dict[str, Any], out_dir: str | Path, *, stamp: int = 0) -> Path:
    """Write ``export`` (from :func:`export_rows` or ``/_sandbox/truth/export-asn``) as a CSV
    into ``out_dir``, named after its date; ``stamp`` sets the file's modification time
    offset in seconds so that a later export is the newest even within one second."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"export-data-asn-{export['date']}-{stamp:04d}.csv"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(export["columns"])
    writer.writerows(export["rows"])
    path.write_text(buf.getvalue(), encoding="utf-8")
    base = datetime.fromisoformat(export["date"]) + timedelta(seconds=stamp)
    ts = base.timestamp()
    os.utime(path, (ts, ts))
    return path


def install(app: FastAPI, state: SandboxState) -> None:
    """Include :data:`router` in the SIASN ``app`` and serve the export as sandbox truth."""
    attach(state)
    state.register_truth("export-asn", lambda _q: export_rows(state))
    app.include_router(router)
    app.include_router(control)
