"""``store.findings`` on SQLite and on the real PostgreSQL: incidents open, count their
findings, close; probes give latency percentiles per system and endpoint."""

from __future__ import annotations

import datetime as dt

from siapp_siasn.checks import Finding
from siapp_siasn.store import Store
from siapp_siasn.store.findings import ProbeRow, percentile

T0 = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def test_incident_lifecycle_and_finding_counts(store: Store) -> None:
    repo = store.findings
    first = repo.open_incident("outage", "siasn", "/oauth2/token", "warning", opened_at=T0)
    assert [i.id for i in repo.open_incidents()] == [first]
    outage = Finding("outage", "warning", "siasn", "/oauth2/token", "http_error", "gateway")
    drift = Finding("drift", "info", "siapp", "/api/v1/usulan", "new_field", "[].x")
    with store.transaction() as conn:
        repo.add_findings(
            [{**outage.as_dict(), "incident_id": first}, drift.as_dict()],
            observed_at=T0,
            lineage_id="l-1",
            conn=conn,
        )
        repo.update_incident(first, severity="breaking", notice_path="/n/1.txt", conn=conn)
    repo.add_findings([{**outage.as_dict(), "incident_id": first}], observed_at=T0 + HOUR)
    got = repo.get_incident(first)
    assert got is not None
    assert (got.severity, got.finding_count, got.notice_path, got.closed_at) == (
        "breaking",
        2,
        "/n/1.txt",
        None,
    )
    rows = repo.list(lineage_id="l-1")
    assert [(r["code"], r["incident_id"]) for r in rows] == [
        ("http_error", first),
        ("new_field", None),
    ]
    assert rows[0]["detail"] == {} and rows[0]["observed_at"] == T0

    repo.close_incident(first, closed_at=T0 + 2 * HOUR)
    repo.close_incident(first, closed_at=T0 + 5 * HOUR)  # closed once, the first time
    assert repo.open_incidents() == []
    closed = repo.get_incident(first)
    assert closed is not None and closed.closed_at == T0 + 2 * HOUR
    # the period view: open at some time in [since, until)
    assert [i.id for i in repo.incidents(since=T0 + HOUR, until=T0 + 3 * HOUR)] == [first]
    assert repo.incidents(since=T0 + 3 * HOUR, until=T0 + 4 * HOUR) == []
    assert repo.list(since=T0 + HOUR, kind="outage")[0]["observed_at"] == T0 + HOUR


def test_latency_percentiles_per_endpoint(store: Store) -> None:
    repo = store.findings
    ms = [10.0, 20.0, 30.0, 40.0, 1000.0]
    repo.add_probes(
        [ProbeRow("siasn", "/a", 200, v, True) for v in ms]
        + [ProbeRow("siasn", "/a", None, 30000.0, False), ProbeRow("siapp", "/b", 503, 5.0, False)],
        observed_at=T0,
        lineage_id="l-2",
    )
    repo.add_probes([ProbeRow("siasn", "/a", 200, 1.0, True)], observed_at=T0 + 3 * HOUR)
    got = repo.latency(since=T0, until=T0 + HOUR)
    assert got[("siasn", "/a")] == {
        "probes": 6,
        "failed": 1,
        "p50_ms": percentile(ms, 0.5),
        "p95_ms": percentile(ms, 0.95),
    }
    assert got[("siapp", "/b")]["failed"] == 1 and got[("siapp", "/b")]["p50_ms"] == 5.0
    assert len(repo.probes(since=T0 + HOUR)) == 1


def test_percentile() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([0.0, 10.0], 0.95) == 9.5
