"""The Assets the hub's DAGs produce (one place, so producers and consumers agree)."""

from airflow.sdk import Asset

ASN_ASSET = Asset("siasn://asn", extra={"flow": "F1"})
REFERENSI_ASSET = Asset("siasn://referensi", extra={"flow": "F2"})
USULAN_ASSET = Asset("siasn://usulan", extra={"flows": "F5-F8"})
SIAPP_STATUS_ASSET = Asset("siapp://status", extra={"flows": "F3-F4"})
RECONCILIATION_ASSET = Asset("hub://reconciliation", extra={"flows": "F4, F7"})
