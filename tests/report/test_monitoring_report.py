"""The monitoring & evaluation report against a store filled by real flow runs (tests/report/
conftest.py): every number equals what plain SQL on the same SQLite file gives, the page parses
with every chart embedded and referenced, every CSV holds its table, an empty period gives a
valid report that says so, and no personal value of the sandbox's world is written.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import json
import sqlite3
import statistics
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from siapp_siasn.flows.context import FlowConfigError, RunContext
from siapp_siasn.flows.monitoring_report import (
    build_monitoring_report,
    parse_period,
    period_bounds,
    pks_flows_of,
    previous_month,
)
from siapp_siasn.store import Store
from tests.report._fill import EXPECTED_FLOWS, fill_october
from tests.report.conftest import Scene

pytestmark = pytest.mark.integration

WIB = ZoneInfo("Asia/Jakarta")
#: the agreement's flow of each outbox flow (flows/usulan_rules.py's table, written out here)
OUTBOX_PKS = {
    "usulan": "F5",
    "penolakan": "F5",
    "verifikasi-setneg": "F6",
    "keppres": "F7",
    "pic": "F8",
    "status-usulan": "F3",
    "pertek": "F4",
    "ralat-pertek": "F4",
}
STAGE_PAIRS = [
    ("submitted_at", "sent_at"),
    ("sent_at", "bkn_verified_at"),
    ("bkn_verified_at", "pertek_at"),
    ("pertek_at", "ralat_at"),
    ("pertek_at", "setneg_verified_at"),
    ("setneg_verified_at", "keppres_at"),
    ("keppres_at", "keppres_sent_at"),
    ("keppres_sent_at", "keppres_applied_at"),
    ("submitted_at", "keppres_applied_at"),
]


# ------------------------------------------------------------------------------ plain SQL


def _ts(value: dt.datetime) -> str:
    """A UTC instant as SQLite holds the store's timestamps (naive UTC text)."""
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _bounds(first: dt.date, last: dt.date) -> tuple[str, str]:
    start = dt.datetime.combine(first, dt.time(0), tzinfo=WIB)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=WIB)
    return _ts(start), _ts(end)


def _p(values: list[float], q: int) -> float:
    """Percentile with linear interpolation (statistics' "inclusive" method)."""
    if len(values) == 1:
        return round(values[0], 2)
    if q == 50:
        return round(statistics.median(values), 2)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return round(cuts[q - 1], 2)


def expected(db: Path, first: dt.date, last: dt.date, now: dt.datetime) -> dict[str, Any]:
    """Every figure of the report, computed from the SQLite file with plain SQL."""
    start, end = _bounds(first, last)
    end_dt = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=WIB)
    as_of_dt = min(end_dt.astimezone(dt.UTC), now)
    as_of = _ts(as_of_dt)
    period = (start, end)
    out: dict[str, Any] = {}
    with sqlite3.connect(db) as c:

        def per_flow(sql: str, *params: Any) -> dict[str, int]:
            return dict(c.execute(sql, params).fetchall())

        created = "created_at >= ? and created_at < ?"
        outbox = {
            "created": per_flow(
                f"select flow, count(*) from outbox where {created} group by flow", *period
            ),
            "sent": per_flow(
                "select flow, count(*) from outbox where sent_at >= ? and sent_at < ? "
                "group by flow",
                *period,
            ),
            "failed": per_flow(
                f"select flow, count(*) from outbox where {created} and attempts > 0 group by flow",
                *period,
            ),
            "dead": per_flow(
                "select flow, count(*) from outbox where status = 'dead' and updated_at >= ? "
                "and updated_at < ? group by flow",
                *period,
            ),
            "rejected": per_flow(
                f"select flow, count(*) from outbox where {created} and status = 'rejected' "
                "group by flow",
                *period,
            ),
        }
        quarantined = per_flow(
            f"select flow, count(*) from quarantine where {created} group by flow", *period
        )
        records = [
            (flow, json.loads(record))
            for flow, record in c.execute(
                f"select flow, record from lineage where {created}", period
            )
        ]
        flows = {
            f"F{n}": Counter(
                runs=0,
                runs_with_failures=0,
                items=0,
                succeeded=0,
                failed=0,
                dead_lettered=0,
                refused=0,
                quarantined=quarantined.get(f"F{n}", 0),
            )
            for n in range(1, 9)
        }
        for label, record in records:
            for code in pks_flows_of(label):
                flows[code]["runs"] += 1
                flows[code]["runs_with_failures"] += bool(record.get("failures"))
            if label in ("F1", "F2"):
                counts = record["counts"]
                flows[label]["items"] += counts.get("read", 0)
                flows[label]["succeeded"] += sum(
                    counts.get(k, 0) for k in ("inserted", "updated", "unchanged")
                )
                flows[label]["failed"] += counts.get("failed", 0)
        for name, column in (
            ("created", "items"),
            ("sent", "succeeded"),
            ("failed", "failed"),
            ("dead", "dead_lettered"),
            ("rejected", "refused"),
        ):
            for flow, n in outbox[name].items():
                flows[OUTBOX_PKS[flow]][column] += n
        out["flows"] = {code: dict(v) for code, v in flows.items()}
        out["runs"] = Counter(label for label, _ in records)
        # backlog at the period's end (or now, when the period has not ended)
        backlog = {}
        for flow, n, oldest in c.execute(
            "select flow, count(*), min(created_at) from outbox where created_at < ? "
            "and (sent_at is null or sent_at >= ?) "
            "and not (status in ('dead', 'rejected') and updated_at < ?) group by flow",
            (as_of, as_of, as_of),
        ):
            backlog[flow] = (n, round((as_of_dt - _parse(oldest)).total_seconds() / 86400, 2))
        out["backlog"] = backlog
        sla = {}
        for a, b in STAGE_PAIRS:
            days = [
                (_parse(y) - _parse(x)).total_seconds() / 86400
                for x, y in c.execute(
                    f"select {a}, {b} from usulan_lifecycle where {a} is not null "
                    f"and {b} >= ? and {b} < ?",
                    period,
                )
                if y >= x
            ]
            if days:
                sla[(a, b)] = (len(days), _p(days, 50), _p(days, 90))
        out["sla"] = sla
        out["recon"] = {
            cat: (new, resolved, still_open)
            for cat, new, resolved, still_open in c.execute(
                "select category,"
                " sum(first_seen_at >= ? and first_seen_at < ?),"
                " sum(resolved_at is not null and resolved_at >= ? and resolved_at < ?),"
                " sum(first_seen_at < ? and (resolved_at is null or resolved_at >= ?))"
                " from reconciliation_item group by category",
                (start, end, start, end, end, end),
            )
            if new or resolved or still_open
        }
        out["recon_runs"] = c.execute(
            "select count(*) from reconciliation_run where started_at >= ? and started_at < ?",
            period,
        ).fetchone()[0]
        out["keppres"] = per_flow(
            "select status, count(*) from keppres_check where checked_at >= ? "
            "and checked_at < ? group by status",
            *period,
        )
        latency: dict[tuple[str, str], dict[str, Any]] = {}
        for system, endpoint, ms, status, ok in c.execute(
            "select system, endpoint, latency_ms, status, ok from probe "
            "where observed_at >= ? and observed_at < ?",
            period,
        ):
            entry = latency.setdefault((system, endpoint), {"probes": 0, "ok": 0, "ms": []})
            entry["probes"] += 1
            entry["ok"] += ok
            if status is not None:
                entry["ms"].append(ms)
        out["latency"] = {
            key: (v["probes"], v["ok"], _p(v["ms"], 50), _p(v["ms"], 95))
            for key, v in latency.items()
        }
        out["incidents"] = {
            i
            for (i,) in c.execute(
                "select id from incident where opened_at < ? and "
                "(closed_at is null or closed_at >= ?)",
                (end, start),
            )
        }
        out["findings"] = {
            (kind, severity, code): n
            for kind, severity, code, n in c.execute(
                "select kind, severity, code, count(*) from finding "
                "where observed_at >= ? and observed_at < ? group by kind, severity, code",
                period,
            )
        }
    return out


# ------------------------------------------------------------------------------ helpers


class Page(HTMLParser):
    """What the report page holds: images, figures, links, text."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.figures: list[str] = []
        self.links: list[str] = []
        self.external: list[str] = []
        self.text: list[str] = []
        self.tags: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags[tag] += 1
        if tag == "img":
            self.images.append(a)
        if tag == "figure":
            self.figures.append(a.get("id", ""))
        if tag == "a":
            self.links.append(a.get("href", ""))
        for key in ("src", "href"):
            if a.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(a[key])
        if tag in ("script", "link"):
            self.external.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def full_period(scene: Scene) -> tuple[dt.date, dt.date]:
    """From before the sandbox's first day to today: every row the scene wrote."""
    return dt.date(2026, 1, 1), dt.datetime.now(WIB).date() + dt.timedelta(days=1)


@pytest.fixture(scope="module")
def report(scene: Scene, tmp_path_factory: pytest.TempPathFactory) -> Any:
    first, last = full_period(scene)
    now = dt.datetime.now(dt.UTC)
    out = tmp_path_factory.mktemp("report")
    result = build_monitoring_report(scene.store, first, last, out, run=RunContext(now=now))
    return result, now


def _db(scene: Scene) -> Path:
    return Path(scene.store.url.database or "")


# ------------------------------------------------------------------------------ tests


def _check_numbers(result: Any, want: dict[str, Any]) -> None:
    flows = {r["flow"]: r for r in result.tables["flows"].rows}
    for code, numbers in want["flows"].items():
        assert {k: flows[code][k] for k in numbers} == numbers, code
    assert {r["flow"]: r["runs"] for r in result.tables["runs"].rows} == dict(want["runs"])
    assert {
        r["outbox_flow"]: (r["owed_at_period_end"], r["oldest_age_days"])
        for r in result.tables["backlog"].rows
    } == want["backlog"]
    assert {
        (r["from_stamp"], r["to_stamp"]): (r["usulan"], r["median_days"], r["p90_days"])
        for r in result.tables["sla"].rows
    } == want["sla"]
    recon = result.tables["reconciliation"].rows
    assert {
        r["category"]: (r["new_in_period"], r["resolved_in_period"], r["open_at_period_end"])
        for r in recon
        if r["check"] == "documents"
    } == want["recon"]
    assert {r["category"]: r["new_in_period"] for r in recon if r["check"] == "keppres"} == want[
        "keppres"
    ]
    assert (
        f"{want['recon_runs']} document reconciliation runs" in result.tables["reconciliation"].note
    )
    assert {
        (r["system"], r["endpoint"]): (r["probes"], r["ok"], r["p50_ms"], r["p95_ms"])
        for r in result.tables["latency"].rows
    } == want["latency"]
    assert {r["id"] for r in result.tables["incidents"].rows} == want["incidents"]
    assert {
        (r["kind"], r["severity"], r["code"]): r["findings"] for r in result.tables["findings"].rows
    } == want["findings"]


def test_every_number_equals_plain_sql_on_the_store(scene: Scene, report: Any) -> None:
    result, now = report
    want = expected(_db(scene), result.period_from, result.period_to, now)
    _check_numbers(result, want)
    # the scene did what it claims: the report is not comparing zeros with zeros
    flows = want["flows"]
    assert flows["F1"]["items"] > 100 and flows["F2"]["items"] > 0
    assert flows["F5"]["items"] > 5 and flows["F5"]["succeeded"] > 5
    assert flows["F3"]["succeeded"] > 0 and flows["F4"]["succeeded"] > 0
    assert flows["F7"]["items"] > 0 and flows["F7"]["runs"] >= 3  # push, reconcile, keppres
    assert flows["F8"]["dead_lettered"] >= 1  # the PIC grant of an unknown NIP
    assert sum(f["quarantined"] for f in flows.values()) > 0
    assert len(want["sla"]) >= 3 and want["keppres"] and want["recon"]
    assert want["recon_runs"] == 2 and any(r[1] for r in want["recon"].values())
    assert want["incidents"] == set(scene.incidents.values())
    assert sum(n for n, _ in want["backlog"].values()) > 0
    assert not result.empty
    # the report's own lineage record carries its path and the totals
    record = result.record.to_xcom()
    assert record["extra"]["report"]["html"] == str(result.html)
    assert record["counts"]["items"] == sum(f["items"] for f in flows.values())
    assert record["counts"]["dead_lettered"] == sum(f["dead_lettered"] for f in flows.values())
    assert record["counts"]["incidents"] == 2
    assert record["window"]["period_from"] == result.period_from.isoformat()


def test_a_period_of_a_few_simulated_days_counts_only_those_days(
    scene: Scene, tmp_path: Path
) -> None:
    """The lifecycle stamps and decree checks carry the sandbox's calendar (January 2026),
    the hub's own rows the real clock: a window of simulated days holds only the former."""
    first = dt.date(2026, 1, 7)
    last = first + dt.timedelta(days=3)
    now = dt.datetime.now(dt.UTC)
    result = build_monitoring_report(scene.store, first, last, tmp_path, run=RunContext(now=now))
    want = expected(_db(scene), first, last, now)
    _check_numbers(result, want)
    assert want["sla"]  # some usulan reached a stage in those days
    everything = expected(_db(scene), *full_period(scene), now)
    assert sum(n for n, *_ in want["sla"].values()) < sum(n for n, *_ in everything["sla"].values())


def test_the_page_parses_and_every_chart_is_embedded_and_referenced(report: Any) -> None:
    result, _ = report
    page = parse_page(result.html)
    assert page.external == []  # self-contained: no script, stylesheet or remote image
    assert set(result.charts) == {
        "flows",
        "latency",
        "backlog",
        "sla",
        "incidents",
        "reconciliation",
    }
    assert len(page.images) == len(result.charts) == len(page.figures)
    assert page.figures == [f"chart-{name}" for name in result.charts]
    for image in page.images:
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        png = base64.b64decode(image["src"][len(prefix) :], validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000
        assert image["alt"]
    for name in result.charts:
        assert f"#chart-{name}" in page.links  # the section's text links to its figure
    for table in result.tables.values():
        assert table.name + ".csv" in page.links  # and to its CSV


def test_every_csv_exists_and_holds_its_table(report: Any) -> None:
    result, _ = report
    assert (
        set(result.csv)
        == set(result.tables)
        == {"flows", "runs", "latency", "backlog", "sla", "incidents", "findings", "reconciliation"}
    )
    for name, table in result.tables.items():
        path = result.csv[name]
        assert path.parent == result.html.parent
        rows = read_csv(path)
        with path.open(encoding="utf-8") as fh:
            assert next(csv.reader(fh)) == list(table.columns)
        assert len(rows) == len(table.rows), name
        for got, row in zip(rows, table.rows, strict=True):
            for column in table.columns:
                value = row.get(column)
                shown = (
                    ""
                    if value is None
                    else ("yes" if value is True else "no" if value is False else value)
                )
                if isinstance(value, float):
                    assert float(got[column]) == pytest.approx(value), (name, column)
                else:
                    assert got[column] == str(shown), (name, column)
    flows = {r["flow"]: r for r in read_csv(result.csv["flows"])}
    assert list(flows) == [f"F{n}" for n in range(1, 9)]
    assert int(flows["F8"]["dead_lettered"]) >= 1


def test_no_personal_value_is_written(scene: Scene, report: Any) -> None:
    result, _ = report
    assert len(scene.personal) > 100  # names, NIPs, NIKs, birth dates, ...
    files = [result.html, *result.csv.values()]
    for path in files:
        text = path.read_text(encoding="utf-8")
        found = [v for v in scene.personal if v in text]
        assert found == [], f"{path.name}: {len(found)} personal values"
    record = json.dumps(result.record.to_xcom())
    assert [v for v in scene.personal if v in record] == []


def test_an_empty_period_gives_a_valid_report_that_says_so(scene: Scene, tmp_path: Path) -> None:
    result = build_monitoring_report(scene.store, "2020-01-01", "2020-01-31", tmp_path)
    assert result.empty and result.charts == ()
    page = parse_page(result.html)
    text = " ".join(page.text)
    assert "No activity recorded in this period" in text
    assert "No monitor data in this period." in text
    assert page.images == [] and page.tags["h1"] == 1 and page.tags["section"] == 8
    for name, table in result.tables.items():
        rows = read_csv(result.csv[name])
        if name == "flows":  # one row per flow of the agreement, all zero
            assert [r["flow"] for r in rows] == [f"F{n}" for n in range(1, 9)]
            assert all(int(r[c]) == 0 for r in rows for c in table.columns[2:])
        else:
            assert rows == [], name
    assert result.record.counts.as_dict() == dict.fromkeys(
        (
            "runs",
            "items",
            "succeeded",
            "failed",
            "quarantined",
            "dead_lettered",
            "backlog",
            "incidents",
            "charts",
        ),
        0,
    )
    assert result.html.parent.name == "monitoring_2020-01-01_2020-01-31"


def test_a_store_without_the_monitor_tables_says_no_monitor_data(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'old.sqlite'}")
    store.migrate("0006")  # before the API monitor's migration
    try:
        assert store.monitoring.monitor_tables() == []
        result = build_monitoring_report(store, "2026-10-01", "2026-10-31", tmp_path / "r")
    finally:
        store.close()
    text = " ".join(parse_page(result.html).text)
    assert "No monitor data in this period. (this store has no API monitor tables yet" in text
    assert result.tables["latency"].rows == result.tables["incidents"].rows == []
    assert result.empty


def test_periods() -> None:
    assert previous_month(dt.date(2026, 11, 1)) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert previous_month(dt.date(2026, 3, 15)) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert previous_month(dt.date(2026, 1, 1)) == (dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    assert parse_period("2026-10-01", dt.date(2026, 10, 31)) == (
        dt.date(2026, 10, 1),
        dt.date(2026, 10, 31),
    )
    with pytest.raises(FlowConfigError, match="before period_from"):
        parse_period("2026-10-31", "2026-10-01")
    with pytest.raises(FlowConfigError, match="not a date"):
        parse_period("October", "2026-10-31")
    start, end = period_bounds(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    # Jakarta midnight is 17:00 UTC the day before
    assert start == dt.datetime(2026, 9, 30, 17, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 10, 31, 17, tzinfo=dt.UTC)
    assert pks_flows_of("F1") == ("F1",)
    assert pks_flows_of("F1-quality") == ("F1",)
    assert pks_flows_of("F3-F4") == ("F3", "F4")
    assert pks_flows_of("F5-F8") == ("F5", "F6", "F7", "F8")
    assert pks_flows_of("F4/F7") == ("F4", "F7")
    assert pks_flows_of("keppres_check") == ("F7",)
    assert pks_flows_of("monitoring_report") == ()


def test_report_numbers_on_postgresql_equal_the_sqlite_ones(
    postgres_db_url: str, tmp_path: Path
) -> None:
    """The repository's period queries on the real PostgreSQL: the same rows written through
    the repositories on both dialects give the same report."""
    results = {}
    for backend, url in (("sqlite", f"sqlite:///{tmp_path / 's.sqlite'}"), ("pg", postgres_db_url)):
        store = Store(url, hash_key=b"k")
        store.migrate()
        try:
            fill_october(store)
            now = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
            results[backend] = build_monitoring_report(
                store, "2026-10-01", "2026-10-31", tmp_path / backend, run=RunContext(now=now)
            )
        finally:
            store.close()
    for name in results["sqlite"].tables:
        assert results["pg"].tables[name].rows == results["sqlite"].tables[name].rows, name
    flows = {r["flow"]: r for r in results["pg"].tables["flows"].rows}
    for code, numbers in EXPECTED_FLOWS.items():
        assert {k: flows[code][k] for k in numbers} == numbers, code
    backlog = {r["outbox_flow"]: r for r in results["pg"].tables["backlog"].rows}
    # owed on 1 Nov 00:00 WIB: the usulan sent on 2 Nov and the one never sent
    assert backlog["usulan"]["owed_at_period_end"] == 2
    sla = {r["to_stamp"]: r for r in results["pg"].tables["sla"].rows}
    assert sla["sent_at"]["usulan"] == 2 and sla["sent_at"]["median_days"] == 3.0
    (latency,) = results["pg"].tables["latency"].rows
    assert (latency["probes"], latency["p50_ms"], latency["max_ms"]) == (2, 20.0, 30.0)
    (incident,) = results["pg"].tables["incidents"].rows
    assert incident["open_at_period_end"] is True and incident["kind"] == "outage"
