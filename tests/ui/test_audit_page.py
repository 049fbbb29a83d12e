"""The "Hub audit" app on a store filled by real flow runs (tests/ui/conftest.py), in process:
the run list, the lineage chain across DAGs, the counts under each flow's own names,
quarantine, dead letters, and no personal value on any page.

Airflow's auth is replaced here by FastAPI's ``dependency_overrides`` (the user may read every
DAG, or none); the real auth is tested over HTTP in test_plugin_http.py.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from siapp_siasn.store import Store, StoreError
from siapp_siasn.store.tables import lineage
from siapp_siasn.ui.app import audit_store, create_app, dag_access

from .conftest import (
    ASN_DAG,
    ASN_RUN,
    RECON_DAG,
    RECON_RUN,
    USULAN_DAG,
    USULAN_RUN,
    AuditedStore,
)

#: Any 18-digit number (a full NIP) or 16-digit one (a NIK).
LONG_NUMBER = re.compile(r"(?<!\d)\d{16,18}(?!\d)")


def client_for(url: str, may_read: Any = lambda dag_id: True) -> TestClient:
    app = create_app(airflow_auth=False)

    def store() -> Iterator[Store]:
        s = Store(url)
        try:
            yield s
        finally:
            s.close()

    app.dependency_overrides[dag_access] = lambda: may_read
    app.dependency_overrides[audit_store] = store
    return TestClient(app)


@pytest.fixture(scope="module")
def pages(audited: AuditedStore) -> dict[str, str]:
    """Every page of the filled store, rendered once."""
    client = client_for(audited.url)
    out = {"index": client.get("/").text}
    for dag_id, run_id in ((ASN_DAG, ASN_RUN), (USULAN_DAG, USULAN_RUN), (RECON_DAG, RECON_RUN)):
        r = client.get("/run", params={"dag_id": dag_id, "run_id": run_id})
        assert r.status_code == 200, r.text[:500]
        out[dag_id] = r.text
    return out


def text_of(page: str) -> str:
    """The visible text of a page (tags dropped, entities decoded, spaces collapsed)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_run_list_shows_both_dag_runs_with_their_flows(pages: dict[str, str]) -> None:
    text = text_of(pages["index"])
    assert ASN_DAG in text and ASN_RUN in text and USULAN_DAG in text and USULAN_RUN in text
    assert "run_id=" + USULAN_RUN.replace(":", "%3A").replace("+", "%2B") in pages["index"]


def test_usulan_collect_links_to_the_asn_pull_of_another_dag(
    audited: AuditedStore, pages: dict[str, str]
) -> None:
    pull_id = audited.records["pull_asn"]["lineage_id"]
    page = pages[USULAN_DAG]
    # the collect card lists the pull as its upstream, resolved through the lineage table
    collect = _card(page, audited.records["collect"]["lineage_id"])
    assert f"/lineage/{pull_id}#lineage-{pull_id}" in collect
    assert f"{ASN_DAG} · pull_asn" in text_of(collect)
    # ... and the chain goes on to the referensi pull the ASN pull built on (depth 2)
    ref_id = audited.records["pull_referensi"]["lineage_id"]
    assert f"/lineage/{ref_id}" in page
    # the Airflow UI's own page of that task is linked (top window: the page is in an iframe)
    assert f'target="_top" class="af" href="/dags/{ASN_DAG}/runs/' in page
    # the other way round: the ASN run's page names the usulan collect that read it
    assert f"/lineage/{audited.records['collect']['lineage_id']}" in pages[ASN_DAG]


def test_counts_are_shown_under_each_flows_own_names(
    audited: AuditedStore, pages: dict[str, str]
) -> None:
    for task in ("collect", "push_siasn", "status_back", "push_siapp"):
        record = audited.records[task]
        shown = _counts_table(_card(pages[USULAN_DAG], record["lineage_id"]))
        assert shown == [(name, str(value)) for name, value in _flat(record["counts"])], task
    push_counts = dict(_flat(audited.records["push_siasn"]["counts"]))
    dead = sum(v for k, v in push_counts.items() if k.split(".")[-1] in ("dead", "dead_letters"))
    assert dead == len(audited.dead) > 0, push_counts


def test_quarantine_section_lists_the_runs_reasons_with_hashes(
    audited: AuditedStore, pages: dict[str, str]
) -> None:
    assert audited.quarantine_reasons, "malformed employees are quarantined"
    section = text_of(_section(pages[ASN_DAG], "quarantine"))
    assert f"Quarantine of this run {sum(audited.quarantine_reasons.values())}" in section
    for reason, n in audited.quarantine_reasons.items():
        assert f"{reason}: {n}" in section
    # one keyed hash (HMAC-SHA256, hex) per row
    hashes = re.findall(r'title="([0-9a-f]{64})"', _section(pages[ASN_DAG], "quarantine"))
    assert len(hashes) == sum(audited.quarantine_reasons.values())


def test_dead_letters_section_lists_every_dead_letter_of_the_run(
    audited: AuditedStore, pages: dict[str, str]
) -> None:
    section = text_of(_section(pages[USULAN_DAG], "dead-letters"))
    assert f"Dead letters {len(audited.dead)}" in section
    for row in audited.dead:
        assert f" {row['id']} {row['flow']} {row['entity_id']} " in section
    # the ASN run dead-lettered nothing
    assert "Dead letters 0" in text_of(_section(pages[ASN_DAG], "dead-letters"))


def test_reconciliation_section_shows_the_run_its_items_and_links_its_reports(
    audited: AuditedStore, pages: dict[str, str]
) -> None:
    recon = audited.reconciliation
    page = pages[RECON_DAG]
    section = _section(page, "reconciliation")
    assert recon["run_id"] in text_of(section)
    counts = {k: v for k, v in recon["counts"].items() if v}
    assert counts, "the dead letters left documents to reconcile"
    for category, n in counts.items():
        assert f"{category} {n}" in text_of(section)
    items = sum(n for c, n in recon["counts"].items() if c not in ("ok", "usulan_no_answer"))
    assert f"Items {items}" in text_of(section)
    # the reports are linked (by index: the page serves only paths the run recorded)
    client = client_for(audited.url)
    links = re.findall(r'href="(/report\?[^"]+)"', section)
    assert len(links) == 2
    served = [client.get(html.unescape(link)) for link in links]
    assert [r.status_code for r in served] == [200, 200]
    names = {Path(recon["report_csv"]).name, Path(recon["report_html"]).name}
    assert {
        r.headers["content-disposition"].split("filename=")[-1].strip('"') for r in served
    } == names
    body = b"".join(r.content for r in served).decode()
    assert not [v for v in audited.personal if v in body]


def test_no_personal_value_on_any_page(audited: AuditedStore, pages: dict[str, str]) -> None:
    assert len(audited.personal) > 100  # names, NIPs, NIKs, birth dates and places, ...
    for name, page in pages.items():
        found = [v for v in audited.personal if v in page]
        assert found == [], f"{name}: personal values on the page: {len(found)}"
        assert LONG_NUMBER.findall(text_of(page)) == [], name


def test_monitor_section_is_absent_without_a_finding_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    store = Store(url)
    try:
        store.migrate("0005")  # a store from before the monitor (issue 13)
        store.lineage.write({"lineage_id": "l-1", "flow": "F1", "dag_id": "d", "run_id": "r"})
    finally:
        store.close()
    page = client_for(url).get("/run", params={"dag_id": "d", "run_id": "r"})
    assert page.status_code == 200 and 'id="monitor"' not in page.text


def test_monitor_section_shows_the_findings_of_the_runs_tasks(audited: AuditedStore) -> None:
    collect = audited.records["collect"]["lineage_id"]
    store = Store(audited.url)
    try:
        store.findings.add_findings(
            [
                {
                    "kind": "drift",
                    "severity": "high",
                    "system": "siasn",
                    "endpoint": "/apisiasn/1.0/pns/data-utama/{nip}",
                    "code": "field_renamed",
                    "subject": "tglLahir",
                    "detail": {"now": "tanggalLahir", "type": "str"},
                }
            ],
            lineage_id=collect,
        )
        client = client_for(audited.url)
        page = client.get("/run", params={"dag_id": USULAN_DAG, "run_id": USULAN_RUN}).text
        section = text_of(_section(page, "monitor"))
        assert "finding 1" in section
        assert "field_renamed" in section and "tglLahir" in section and "tanggalLahir" in section
        # another run's page shows none of them
        other = client.get("/run", params={"dag_id": ASN_DAG, "run_id": ASN_RUN}).text
        assert "finding 0" in text_of(_section(other, "monitor"))
    finally:
        with store.engine.begin() as c:
            c.execute(sa.text("DELETE FROM finding WHERE lineage_id = :l"), {"l": collect})
        store.close()


def test_a_viewer_without_access_to_a_dag_gets_403_and_no_trace_of_it(
    audited: AuditedStore,
) -> None:
    only_usulan = client_for(audited.url, lambda dag_id: dag_id == USULAN_DAG)
    assert only_usulan.get("/run", params={"dag_id": ASN_DAG, "run_id": ASN_RUN}).status_code == 403
    assert ASN_RUN not in only_usulan.get("/").text
    page = only_usulan.get("/run", params={"dag_id": USULAN_DAG, "run_id": USULAN_RUN}).text
    assert "(no access)" in page and ASN_RUN not in page


def test_unknown_run_is_404_and_reports_are_served_only_by_index(audited: AuditedStore) -> None:
    client = client_for(audited.url)
    assert client.get("/run", params={"dag_id": "nope", "run_id": "nope"}).status_code == 404
    r = client.get("/report", params={"dag_id": USULAN_DAG, "run_id": USULAN_RUN, "n": 99})
    assert r.status_code == 404


def test_only_get_routes_and_the_store_is_read_only(audited: AuditedStore) -> None:
    app = create_app(airflow_auth=False)
    methods = {m for route in app.routes for m in getattr(route, "methods", ()) or ()}
    assert methods <= {"GET", "HEAD"}
    store = Store(audited.url)
    try:
        with pytest.raises(StoreError), store.audit.read("write attempt") as c:
            c.execute(sa.delete(lineage))
        assert store.lineage.list(limit=1)  # nothing was deleted
    finally:
        store.close()


# ---------------------------------------------------------------------------- helpers


def _flat(counts: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if not isinstance(counts, dict):
        return [(prefix, counts)]
    out: list[tuple[str, Any]] = []
    for k, v in counts.items():
        out += _flat(v, f"{prefix}.{k}" if prefix else k)
    return out


def _counts_table(card: str) -> list[tuple[str, str]]:
    """(name, value) pairs of a card's counts table, in the order shown."""
    table = card[card.index('<table class="counts">') :]
    table = table[: table.index("</table>")]

    def cells(tag: str) -> list[str]:
        found = re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", table)
        return [text_of(c).strip() for c in found]

    return list(zip(cells("th"), cells("td"), strict=True))


def _card(page: str, lineage_id: str) -> str:
    start = page.index(f'id="lineage-{lineage_id}"')
    return page[start : page.index("</article>", start)]


def _section(page: str, section_id: str) -> str:
    start = page.index(f'<section id="{section_id}"')
    return page[start : page.index("</section>", start)]
