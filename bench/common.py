"""What every peer benchmark shares: child processes with their own rusage, machine facts,
sandbox tokens and the ground-truth check of loaded rows.

A measured system always runs in its own child process, started by a tiny launcher that reaps
it with `os.wait4`: that gives the child's own CPU time (user + system, reaped descendants
included) and peak RSS (`ru_maxrss`), not inflated by this parent's memory (see `_LAUNCHER`).
Children print one line `BENCH_RESULT {json}` with the figures only they can see (work wall
time, counts).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULT_PREFIX = "BENCH_RESULT "

# The sandbox's public test credentials (docs/CONTRACT.md), not secrets.
SANDBOX_CLIENT = ("siapp-hub", "sandbox-secret")
SANDBOX_SSO = {"client_id": "siapp-hub", "username": "siapp", "password": "sandbox-password"}
SSO_TOKEN_PATH = "/auth/realms/public-siasn/protocol/openid-connect/token"

#: facts compared with the ground truth, per NIP
FACT_FIELDS = ("gol", "tmt_gol", "kedudukan", "pasangan", "anak", "ortu")


def emit_result(result: Mapping[str, Any]) -> None:
    """Print the child's figures as the last line of its stdout."""
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


@dataclass
class ChildRun:
    """A finished child process: its figures and what the kernel accounted to it."""

    cmd: list[str]
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    log: Path
    result: dict[str, Any] = field(default_factory=dict)
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child: ours, with the project root importable (`-m bench.…`)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


# A tiny launcher between the parent and the measured command. A process's `ru_maxrss`
# includes the high-water mark of the memory it had before `exec` — for a child forked (or
# vforked) straight from this parent, that is the parent's own RSS. The launcher (`-I -S`, a few
# MB) forks the measured command itself, so the command starts from the launcher's small
# image, and reports the command's rusage (CPU user + system, peak RSS) as JSON.
_LAUNCHER = """
import json, os, sys
out, cmd = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
_, status, ru = os.wait4(pid, 0)
with open(out, "w") as f:
    json.dump({"maxrss_kb": ru.ru_maxrss, "utime": ru.ru_utime, "stime": ru.ru_stime}, f)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_process(
    cmd: list[str], *, env: Mapping[str, str], log: Path, timeout_s: float = 1800.0
) -> ChildRun:
    """Run `cmd` (stdout + stderr to `log`) through the launcher; read its rusage and its
    BENCH_RESULT line. The whole process group is killed after `timeout_s`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    usage_file = log.with_suffix(".rusage.json")
    usage_file.unlink(missing_ok=True)
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(usage_file), *cmd]
    timed_out = threading.Event()
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            launcher,
            cwd=ROOT,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

        def kill_on_timeout() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout_s, kill_on_timeout)
        timer.daemon = True
        timer.start()
        try:
            returncode = proc.wait()
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
    usage: dict[str, float] = {"maxrss_kb": 0, "utime": 0.0, "stime": 0.0}
    with contextlib.suppress(OSError, ValueError):
        usage = json.loads(usage_file.read_text())
    result: dict[str, Any] = {}
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
    return ChildRun(
        cmd=cmd,
        returncode=returncode,
        wall_s=round(wall, 2),
        cpu_s=round(usage["utime"] + usage["stime"], 2),
        peak_rss_mb=round(usage["maxrss_kb"] / 1024, 1),
        log=log,
        result=result,
        timed_out=timed_out.is_set(),
    )


def run_module(
    module: str,
    args: Iterable[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 1800.0,
    python: str | None = None,
) -> ChildRun:
    """`python -m <module> <args>` in a child process (see :func:`run_process`)."""
    cmd = [python or sys.executable, "-m", module, *args]
    return run_process(cmd, env=child_env(env), log=log, timeout_s=timeout_s)


# ---------------------------------------------------------------------------------------------
# machine and versions
# ---------------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine_info() -> dict[str, Any]:
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _mem_total_gib(),
        "kernel": platform.release(),
        "hostname": platform.node(),
    }


def versions() -> dict[str, str | None]:
    def ver(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "apache-airflow": ver("apache-airflow"),
        "apache-airflow-providers-http": ver("apache-airflow-providers-http"),
        "siapp-siasn": ver("siapp-siasn"),
        "dlt": ver("dlt"),
        "duckdb": ver("duckdb"),
        "aiohttp": ver("aiohttp"),
        "requests": ver("requests"),
        "sqlalchemy": ver("sqlalchemy"),
        "psycopg": ver("psycopg"),
    }


# ---------------------------------------------------------------------------------------------
# sandbox helpers
# ---------------------------------------------------------------------------------------------
def siasn_tokens(siasn_url: str) -> tuple[str, str]:
    """(gateway, SSO) tokens from the sandbox's token endpoints, with its test credentials."""
    import httpx

    gateway = httpx.post(
        f"{siasn_url}/oauth2/token",
        auth=SANDBOX_CLIENT,
        data={"grant_type": "client_credentials"},
        timeout=30,
    )
    gateway.raise_for_status()
    sso = httpx.post(
        f"{siasn_url}{SSO_TOKEN_PATH}",
        data={"grant_type": "password", **SANDBOX_SSO},
        timeout=30,
    )
    sso.raise_for_status()
    return gateway.json()["access_token"], sso.json()["access_token"]


def api_counts(stats: Mapping[str, Any]) -> dict[str, int]:
    """Requests the sandbox's SIASN app answered (`/_sandbox/stats`), by status class."""
    routes = stats.get("routes", {}).get("siasn", {})
    total = ok = throttled = not_found = errors = 0
    for entry in routes.values():
        for status, n in entry.get("status", {}).items():
            total += n
            if status == "429":
                throttled += n
            elif status == "404":
                not_found += n
            elif status.startswith("2"):
                ok += n
            else:
                errors += n
    return {
        "total": total,
        "ok_2xx": ok,
        "not_found_404": not_found,
        "throttled_429": throttled,
        "other": errors,
        "accepted": total - throttled,
    }


# ---------------------------------------------------------------------------------------------
# ground truth
# ---------------------------------------------------------------------------------------------
Facts = dict[str, Any]


def _iso(value: Any) -> str | None:
    """ISO date from an ISO or a SIASN `dd-mm-yyyy` string or a date; null forms → None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    if text in ("", "01-01-0001", "undefined", "null"):
        return None
    if len(text) == 10 and text[2] == "-" and text[5] == "-":
        return f"{text[6:]}-{text[3:5]}-{text[:2]}"
    return text[:10]


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def make_facts(
    gol: Any, tmt_gol: Any, kedudukan: Any, pasangan: int, anak: int, ortu: int
) -> Facts:
    return {
        "gol": _int(gol),
        "tmt_gol": _iso(tmt_gol),
        "kedudukan": None if kedudukan is None else str(kedudukan).zfill(2),
        "pasangan": int(pasangan),
        "anak": int(anak),
        "ortu": int(ortu),
    }


def truth_facts(record: Mapping[str, Any]) -> Facts:
    ortu = record.get("ortu") or {}
    return make_facts(
        record.get("golRuangAkhirId"),
        record.get("tmtGolAkhir"),
        record.get("kedudukanPnsId"),
        len(record.get("pasangan") or []),
        len(record.get("anak") or []),
        sum(1 for k in ("ayah", "ibu") if ortu.get(k)),
    )


def fetch_truth(siasn_url: str, nips: list[str], concurrency: int = 16) -> dict[str, Facts]:
    """`/_sandbox/truth/asn/{nip}` of every NIP (never faulted, not rate limited) as facts."""
    import httpx

    async def run() -> dict[str, Facts]:
        out: dict[str, Facts] = {}
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=siasn_url, limits=limits, timeout=60) as client:
            queue: asyncio.Queue[str] = asyncio.Queue()
            for nip in nips:
                queue.put_nowait(nip)

            async def worker() -> None:
                while not queue.empty():
                    nip = queue.get_nowait()
                    r = await client.get(f"/_sandbox/truth/asn/{nip}")
                    r.raise_for_status()
                    out[nip] = truth_facts(r.json())

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return out

    return asyncio.run(run())


def compare_facts(expected: Mapping[str, Facts], loaded: Mapping[str, Facts]) -> dict[str, Any]:
    """Loaded rows vs. the truth: NIP sets and each fact of every common NIP."""
    missing = expected.keys() - loaded.keys()
    extra = loaded.keys() - expected.keys()
    mismatched: Counter[str] = Counter()
    example: dict[str, dict[str, Any]] = {}
    for nip in expected.keys() & loaded.keys():
        for name in FACT_FIELDS:
            if expected[nip][name] != loaded[nip].get(name):
                mismatched[name] += 1
                example.setdefault(
                    name, {"truth": expected[nip][name], "loaded": loaded[nip].get(name)}
                )
    return {
        "expected": len(expected),
        "loaded": len(loaded),
        "missing": len(missing),
        "extra": len(extra),
        "mismatched": dict(mismatched),
        "mismatch_example": example,
        "fields": list(FACT_FIELDS),
        "ok": not missing and not extra and not mismatched,
    }


def facts_from_store(url: str) -> dict[str, Facts]:
    """Facts of the active employees in the hub's store (tables asn, asn_family)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            family: dict[str, Counter[str]] = {}
            for nip, relation, n in c.execute(
                sa.text("select nip, relation, count(*) from asn_family group by nip, relation")
            ):
                family.setdefault(nip, Counter())[relation] = n
            out: dict[str, Facts] = {}
            for nip, gol, tmt, ked in c.execute(
                sa.text(
                    "select nip, gol_ruang_akhir_id, tmt_gol_akhir, kedudukan_pns_id "
                    "from asn where is_active"
                )
            ):
                f = family.get(nip, Counter())
                out[nip] = make_facts(gol, tmt, ked, f["pasangan"], f["anak"], f["ayah"] + f["ibu"])
            return out
    finally:
        engine.dispose()


def facts_from_payloads(
    utama: Mapping[str, Any] | None,
    pasangan: Mapping[str, Any] | None,
    anak: Mapping[str, Any] | None,
    ortu: Mapping[str, Any] | None,
) -> Facts | None:
    """Facts from the raw `data` of the four SIASN endpoints (None = 404)."""
    if not utama:
        return None
    ortu = ortu or {}
    return make_facts(
        utama.get("golRuangAkhirId"),
        utama.get("tmtGolAkhir"),
        utama.get("kedudukanPnsId"),
        len((pasangan or {}).get("listPasangan") or []),
        len((anak or {}).get("listAnak") or []),
        sum(1 for k in ("ayah", "ibu") if ortu.get(k)),
    )


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


DLT_FACTS_SQL = {
    "utama": (
        "select nip_baru, gol_ruang_akhir_id, tmt_gol_akhir, kedudukan_pns_id "
        "from {s}.data_utama where _dlt_valid_to is null"
    ),
    "pasangan": "select _asn_nip_baru, count(*) from {s}.data_pasangan group by 1",
    "anak": "select _asn_nip_baru, count(*) from {s}.data_anak group by 1",
    "ortu": (
        "select _asn_nip_baru, count(ayah__id) + count(ibu__id) from {s}.data_ortu group by 1"
    ),
}


def facts_from_dlt(
    duckdb_path: str | None = None, postgres_url: str | None = None
) -> dict[str, Facts]:
    """Facts of the current rows dlt loaded (schema `siasn`: data_utama SCD2 + family tables)."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    if duckdb_path:
        import duckdb

        con = duckdb.connect(duckdb_path, read_only=True)
        try:
            for key, sql in DLT_FACTS_SQL.items():
                rows[key] = con.sql(sql.format(s="siasn")).fetchall()
        finally:
            con.close()
    else:
        import sqlalchemy as sa

        engine = sa.create_engine(postgres_url or "")
        try:
            with engine.connect() as c:
                for key, sql in DLT_FACTS_SQL.items():
                    rows[key] = [tuple(r) for r in c.execute(sa.text(sql.format(s="siasn")))]
        finally:
            engine.dispose()
    family = {key: {nip: n for nip, n in rows[key]} for key in ("pasangan", "anak", "ortu")}
    return {
        nip: make_facts(
            gol,
            tmt,
            ked,
            family["pasangan"].get(nip, 0),
            family["anak"].get(nip, 0),
            family["ortu"].get(nip, 0),
        )
        for nip, gol, tmt, ked in rows["utama"]
    }


def summarize_collapsed(raw: Path, out: Path, title: str, top: int = 30) -> None:
    """A text summary of py-spy's collapsed stacks (`--format raw`): the frames the samples
    were in (self) and the frames they passed through (inclusive), all threads together."""
    self_count: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        total += count
        frames = stack.split(";")
        self_count[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [title, f"samples: {total} (all threads together)", "", "self:"]
    lines += [f"{100 * n / total:6.1f}%  {frame}" for frame, n in self_count.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"{100 * n / total:6.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
