"""The "Hub audit" FastAPI app, mounted by the Airflow plugin under ``/hub-audit``.

Read-only (GET routes only; the store is read through ``store.audit``'s read-only engine) and
behind Airflow's auth: every route depends on :func:`dag_access`, which resolves the user the
way Airflow's own API does (``Authorization: Bearer`` or the UI's ``_token`` cookie, which the
browser sends with the iframe the UI embeds the page in) and asks the auth manager which DAGs
the user may read. Without a valid token: 401 (403 for a forged one).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from siapp_siasn.store import Store
from siapp_siasn.ui.audit_view import MayRead, build_run_view, report_file

__all__ = ["MOUNT_PREFIX", "STORE_CONN_ID", "audit_store", "create_app", "dag_access"]

#: Where the plugin mounts the app in the api-server.
MOUNT_PREFIX = "/hub-audit"
#: The store connection the operators use too.
STORE_CONN_ID = "siapp_siasn_store"
#: Times on the page: the agreement's calendar.
LOCAL_TZ = ZoneInfo("Asia/Jakarta")

_HERE = Path(__file__).resolve().parent


def dag_access() -> MayRead:
    """Who may read what: replaced by :func:`_airflow_dag_access` in the plugin's app; on its
    own it lets nobody in."""
    raise HTTPException(status_code=401, detail="Not authenticated")


def _airflow_dag_access() -> Callable[..., MayRead]:
    """Airflow's user dependency, and a reader of the DAGs that user may see (``GET`` on the
    DAG's runs, as the auth manager decides)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        DagAccessEntity,
        DagDetails,
    )
    from airflow.api_fastapi.core_api.security import get_user

    # no annotation on ``user``: postponed annotations would name a type FastAPI cannot see
    def access(user=Depends(get_user)) -> MayRead:  # type: ignore[no-untyped-def]
        manager = get_auth_manager()
        cache: dict[str | None, bool] = {}

        def may_read(dag_id: str | None) -> bool:
            if dag_id not in cache:
                cache[dag_id] = manager.is_authorized_dag(
                    method="GET",
                    access_entity=DagAccessEntity.RUN,
                    details=DagDetails(id=dag_id),
                    user=user,
                )
            return cache[dag_id]

        return may_read

    return access


def audit_store() -> Iterator[Store]:
    """A store on the ``siapp_siasn_store`` connection, closed after the request."""
    from siapp_siasn.hooks.store import StoreHook

    store = StoreHook(STORE_CONN_ID).get_store()
    try:
        yield store
    finally:
        store.close()


#: The route parameters every page takes: who may read what, and the store.
Access = Annotated[MayRead, Depends(dag_access)]
AuditStore = Annotated[Store, Depends(audit_store)]


def _local(value: Any) -> str:
    """A time in Asia/Jakarta (``2026-11-30 19:05:03 WIB``); anything else as text."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S WIB")
    if isinstance(value, str):
        try:
            return _local(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    return "" if value is None else str(value)


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    env = templates.env
    env.autoescape = True  # every value is escaped, whatever the file suffix
    env.filters["local"] = _local
    env.filters["q"] = lambda value: quote(str(value), safe="")
    env.filters["short"] = lambda value: str(value)[:8] if value else ""
    # readable JSON (tojson would show the redaction marker's <> as \u003c); autoescape escapes
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False, default=str)
    return templates


def _ui_base(request: Request) -> str:
    """The Airflow UI's root as seen from this request (the mount point stripped)."""
    root = request.scope.get("root_path", "") or ""
    return root.removesuffix(MOUNT_PREFIX).rstrip("/") + "/"


def create_app(*, airflow_auth: bool = True) -> FastAPI:
    """The app. ``airflow_auth=False`` leaves :func:`dag_access` unresolved: only for tests
    that override it (FastAPI's ``dependency_overrides``); every request fails otherwise."""
    app = FastAPI(
        title="Hub audit",
        description="Read-only audit of the SIAPP NV - SIASN hub: lineage, problems, results.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    if airflow_auth:
        app.dependency_overrides[dag_access] = _airflow_dag_access()
    templates = _templates()
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, may_read: Access, store: AuditStore) -> HTMLResponse:
        runs = [r for r in store.audit.recent_runs(limit=200) if may_read(r["dag_id"])]
        return templates.TemplateResponse(
            request,
            "index.html",
            {"runs": runs, "ui": _ui_base(request), "dead": store.audit.dead_letter_counts()},
        )

    @app.get("/run", response_class=HTMLResponse)
    def run(
        request: Request,
        may_read: Access,
        store: AuditStore,
        dag_id: Annotated[str, Query(max_length=250)],
        run_id: Annotated[str, Query(max_length=250)],
    ) -> HTMLResponse:
        if not may_read(dag_id):
            raise HTTPException(status_code=403, detail="Forbidden")
        view = build_run_view(store.audit, dag_id, run_id, may_read)
        status = 200 if view.records else 404
        return templates.TemplateResponse(
            request, "run.html", {"view": view, "ui": _ui_base(request)}, status_code=status
        )

    @app.get("/lineage/{lineage_id}", response_class=HTMLResponse)
    def lineage(
        request: Request, lineage_id: str, may_read: Access, store: AuditStore
    ) -> HTMLResponse:
        row = store.audit.records_by_id([lineage_id]).get(lineage_id)
        if row is None or not row.get("dag_id") or not row.get("run_id"):
            raise HTTPException(status_code=404, detail="No such lineage record")
        if not may_read(row["dag_id"]):
            raise HTTPException(status_code=403, detail="Forbidden")
        view = build_run_view(store.audit, row["dag_id"], row["run_id"], may_read)
        return templates.TemplateResponse(
            request, "run.html", {"view": view, "ui": _ui_base(request), "focus": lineage_id}
        )

    @app.get("/report")
    def report(
        may_read: Access,
        store: AuditStore,
        dag_id: Annotated[str, Query(max_length=250)],
        run_id: Annotated[str, Query(max_length=250)],
        n: Annotated[int, Query(ge=0)],
    ) -> FileResponse:
        """A report file the run recorded (only those: the page never serves another path)."""
        if not may_read(dag_id):
            raise HTTPException(status_code=403, detail="Forbidden")
        view = build_run_view(store.audit, dag_id, run_id, may_read)
        path = report_file(view.reports[n]) if n < len(view.reports) else None
        if path is None:
            raise HTTPException(status_code=404, detail="Report not available on this server")
        return FileResponse(path, filename=path.name, content_disposition_type="inline")

    return app
