"""The Assets the hub's DAGs produce and read (one place, so producers and consumers agree).

Airflow 3's ``Asset`` has no description field: each one's description is in its ``extra``
(``description``, ``producer``, ``consumers``), which the UI shows on the Asset's page. Every
event carries the producing task's lineage record in its own extra (``lineage``).
"""

from airflow.sdk import Asset

ASN_ASSET = Asset(
    "siasn://asn",
    extra={
        "flow": "F1",
        "description": "Mirror of SIASN's ASN golongan IV/b and above (data utama, keluarga, "
        "SCD2 history) in the hub's store: tables asn, asn_history, asn_family, views "
        "v_asn_current, v_asn_family.",
        "producer": "siasn_asn_daily.pull_asn",
        "consumers": "siasn_asn_daily.quality_checks; usulan_sync.collect (scope check)",
    },
)
REFERENSI_ASSET = Asset(
    "siasn://referensi",
    extra={
        "flow": "F2",
        "description": "SIASN reference tables (golongan, instansi, unor, ...) in the hub's "
        "store: table referensi, view v_referensi.",
        "producer": "siasn_asn_daily.pull_referensi",
        "consumers": "siasn_asn_daily.quality_checks",
    },
)
USULAN_ASSET = Asset(
    "siasn://usulan",
    extra={
        "flows": "F5-F8",
        "description": "Usulan, Setneg verifications, Keppres and PIC changes delivered to "
        "SIASN from the outbox (documents first); dead letters in view v_outbox_dead.",
        "producer": "usulan_sync.push_siasn",
        "consumers": "dokumen_reconciliation.check_keppres, dokumen_reconciliation.reconcile",
    },
)
SIAPP_STATUS_ASSET = Asset(
    "siapp://status",
    extra={
        "flows": "F3-F4",
        "description": "BKN's status, pertek and ralat pertek (with their PDFs) and the hub's "
        "refusals delivered to SIAPP NV from the outbox.",
        "producer": "usulan_sync.push_siapp",
        "consumers": "dokumen_reconciliation.reconcile",
    },
)
RECONCILIATION_ASSET = Asset(
    "hub://reconciliation",
    extra={
        "flows": "F4, F7",
        "description": "Daily document reconciliation of SIAPP NV, SIASN and the hub's "
        "document ledger: counts per category, repairs, the CSV and HTML reports (tables "
        "reconciliation_run, reconciliation_item).",
        "producer": "dokumen_reconciliation.reconcile",
        "consumers": "",
    },
)
MONITORING_REPORT_ASSET = Asset(
    "hub://monitoring-report",
    extra={
        "flows": "F1-F8",
        "description": "Monthly monitoring & evaluation report of the integration: per flow "
        "volumes, successes, failures, quarantine and dead letters; API latency; outbox "
        "backlog; SLA per usulan stage; API incidents; reconciliation categories (HTML page "
        "with charts and a CSV per table).",
        "producer": "pks_monitoring_report.monitoring_report",
        "consumers": "",
    },
)
