"""The Airflow plugin of the "Hub audit" page (entry point ``airflow.plugins``).

The api-server mounts the app under ``/hub-audit``; the UI shows it in its navigation and as a
tab of every DAG run (``{DAG_ID}``/``{RUN_ID}`` are filled in by the UI), in an iframe on the same
origin, so the browser sends the UI's ``_token`` cookie and the app authenticates with it.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from siapp_siasn.ui.app import MOUNT_PREFIX, create_app

__all__ = ["HubAuditPlugin"]

PLUGIN_NAME = "siapp_siasn_hub_audit"


class HubAuditPlugin(AirflowPlugin):
    """Hub audit: lineage chains, counts, quarantine, dead letters, reconciliation, reports."""

    name = PLUGIN_NAME
    fastapi_apps: list[Any] = [  # noqa: RUF012 (AirflowPlugin declares these as class lists)
        {"app": create_app(), "url_prefix": MOUNT_PREFIX, "name": "Hub audit"}
    ]
    external_views: list[Any] = [  # noqa: RUF012
        {
            "name": "Hub audit",
            "href": f"{MOUNT_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "hub-audit",
        },
        {
            "name": "Hub audit",
            "href": f"{MOUNT_PREFIX}/run?dag_id={{DAG_ID}}&run_id={{RUN_ID}}",
            "destination": "dag_run",
            "url_route": "hub-audit-run",
        },
    ]
