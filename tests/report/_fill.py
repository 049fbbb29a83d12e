"""A few rows of October 2026 written through the store's repositories (no sandbox): for the
PostgreSQL comparison and the DAG's end-to-end run, where a month of traffic is not needed.

The repositories stamp rows with the wall clock; the rows are then moved into October with one
UPDATE per table, as a month-old store would hold them.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from siapp_siasn.store import OutboxItem, QuarantineItem, Store
from siapp_siasn.store.findings import ProbeRow
from siapp_siasn.store.tables import lineage, outbox, quarantine

OCT5 = dt.datetime(2026, 10, 5, 3, tzinfo=dt.UTC)

#: what :func:`fill_october` leaves in the report of October 2026
EXPECTED_FLOWS = {
    "F1": {"runs": 1, "items": 10, "succeeded": 9, "failed": 1, "quarantined": 1},
    "F5": {"items": 3, "succeeded": 1, "failed": 1},
    "F8": {"items": 1, "failed": 1, "dead_lettered": 1},
}


def fill_october(store: Store) -> None:
    """Outbox items (one sent in October, one in November, one failing, one dead letter), a
    quarantine row, an F1 lineage record, two usulan sent three days after submission, two
    probes and an open outage."""
    items = [
        OutboxItem("usulan", f"u{i}", f"h{i}", f"usulan:u{i}:h{i}", {"usulan_id": f"u{i}"})
        for i in range(3)
    ] + [OutboxItem("pic", "p1", "h", "pic:p1:h", {"id": "p1"})]
    store.outbox.enqueue(items)
    rows = {r.entity_id: r.id for r in store.outbox.list()}
    store.outbox.mark_sent(rows["u0"], response={"ok": True}, sent_at=OCT5 + dt.timedelta(days=1))
    store.outbox.mark_sent(
        rows["u1"], response={"ok": True}, sent_at=dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    )
    store.outbox.mark_attempt_failed(rows["u2"], error="HTTP 503", next_attempt_at=None, dead=False)
    store.outbox.mark_attempt_failed(rows["p1"], error="HTTP 400", next_attempt_at=None, dead=True)
    store.quarantine.add([QuarantineItem(flow="F1", entity_kind="asn", key="x", reason="invalid")])
    store.lineage.write(
        {
            "lineage_id": "october-f1",
            "flow": "F1",
            "counts": {"read": 10, "inserted": 6, "updated": 1, "unchanged": 2, "failed": 1},
            "failures": [],
        }
    )
    later = OCT5 + dt.timedelta(hours=2)
    with store.transaction() as c:
        c.execute(sa.update(outbox).values(created_at=OCT5, updated_at=later))
        c.execute(sa.update(quarantine).values(created_at=OCT5))
        c.execute(sa.update(lineage).values(created_at=OCT5))
    for i, (submitted, sent) in enumerate(((1, 4), (2, 5))):
        store.usulan.upsert(
            f"u{i}",
            fields={"status": "dikirim"},
            stamps={
                "submitted_at": dt.datetime(2026, 10, submitted, 5, tzinfo=dt.UTC),
                "sent_at": dt.datetime(2026, 10, sent, 5, tzinfo=dt.UTC),
            },
        )
    store.findings.add_probes(
        [ProbeRow("siasn", "/a", 200, 10.0, True), ProbeRow("siasn", "/a", 200, 30.0, True)],
        observed_at=OCT5,
    )
    store.findings.open_incident("outage", "siapp", "/b", "breaking", opened_at=OCT5)
