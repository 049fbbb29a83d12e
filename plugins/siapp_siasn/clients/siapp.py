"""SIAPP NV client: OAuth2 client credentials, cursor pagination, documents, inbound posts.

Pure async code (no Airflow). Returns raw dicts: parsing belongs to :mod:`siapp_siasn.models`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from siapp_siasn.clients.auth import HeaderToken, OAuth2TokenSource, TokenAuth
from siapp_siasn.clients.config import SiappConfig
from siapp_siasn.clients.errors import ApiError, ChecksumMismatchError
from siapp_siasn.clients.http import ApiResponse, FilePart, ServiceClient

__all__ = ["SiappClient", "build_siapp_auth", "iso_utc"]

log = logging.getLogger(__name__)

LIST = "/api/v1/{resource}"
DOKUMEN = "/api/v1/dokumen/{id}"
DOKUMEN_LIST = "/api/v1/dokumen"
INBOUND = "/api/v1/inbound/{kind}"
RESOURCES = frozenset({"usulan", "verifikasi", "keppres", "pic"})
INBOUND_KINDS = frozenset({"status-usulan", "pertek", "ralat-pertek", "penolakan"})


def iso_utc(value: datetime | str | None) -> str | None:
    """ISO 8601 in UTC (naive datetimes are taken as UTC); strings pass through."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_siapp_auth(
    config: SiappConfig, on_token: Callable[[str], None] | None = None
) -> TokenAuth:
    """Client-credentials token as ``Authorization: Bearer`` on every call."""
    secret = config.client_secret.get_secret_value()
    form = {"grant_type": "client_credentials"}
    basic: tuple[str, str] | None = None
    if config.token_auth_method == "client_secret_basic":  # noqa: S105 - a method name
        basic = (config.client_id, secret)
    else:
        form.update(client_id=config.client_id, client_secret=secret)
    if config.scope:
        form["scope"] = config.scope
    source = OAuth2TokenSource(
        "siapp",
        config.resolve(config.token_url),
        form,
        basic_auth=basic,
        skew_s=config.token_skew_s,
        on_token=on_token,
    )
    return TokenAuth(default=[HeaderToken("Authorization", "Bearer", source)])


class SiappClient(ServiceClient):
    """Async SIAPP NV client over one :class:`ApiClient` (use ``async with``)."""

    name = "siapp"
    build_auth = staticmethod(build_siapp_auth)

    async def iter_list(
        self,
        resource: str,
        updated_since: datetime | str | None = None,
        page_size: int = 500,
    ) -> AsyncIterator[dict[str, Any]]:
        """Items of ``usulan``, ``verifikasi``, ``keppres`` or ``pic`` changed since
        ``updated_since``, following ``next_cursor``; a row a repeated page brings back
        (same id, version and updated_at) is yielded once."""
        if resource not in RESOURCES:
            raise ValueError(f"unknown SIAPP resource {resource!r}; one of {sorted(RESOURCES)}")
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        stats = self.api.stats.pagination
        seen: set[tuple[Any, ...]] = set()
        cursors: set[str] = set()
        cursor: str | None = None
        since = iso_utc(updated_since)
        while True:
            query: dict[str, object] = {"limit": page_size}
            if since is not None:
                query["updated_since"] = since
            if cursor is not None:
                query["cursor"] = cursor
            resp = await self.api.request("GET", LIST, path={"resource": resource}, query=query)
            stats["pages"] += 1
            body = resp.data
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise ApiError(resp.status, LIST, "unexpected page shape (no data list)")
            for row in body["data"]:
                key = (
                    (row.get("id"), row.get("version"), row.get("updated_at"))
                    if isinstance(row, dict)
                    else (repr(row),)
                )
                if key in seen:
                    stats["duplicates_dropped"] += 1
                    continue
                seen.add(key)
                yield row
            nxt = body.get("next_cursor")
            if not nxt:
                return
            if nxt in cursors:
                raise ApiError(resp.status, LIST, "pagination loop: next_cursor repeats")
            cursors.add(nxt)
            cursor = str(nxt)

    async def iter_dokumen_pages(self, page_size: int = 1000) -> AsyncIterator[list[Any]]:
        """The document inventory (``GET /api/v1/dokumen``: every document SIAPP NV holds), one
        page of raw rows at a time, following ``next_cursor``.

        Pages, not rows: the reconciliation validates and sets aside a bad page as a whole.
        Rows a repeated page brings back are not dropped here (the comparison collapses exact
        repeats). A body that is not a page raises :class:`ApiError`.
        """
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        stats = self.api.stats.pagination
        cursors: set[str] = set()
        cursor: str | None = None
        while True:
            query: dict[str, object] = {"limit": page_size}
            if cursor is not None:
                query["cursor"] = cursor
            resp = await self.api.request("GET", DOKUMEN_LIST, query=query)
            stats["pages"] += 1
            body = resp.data
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise ApiError(resp.status, DOKUMEN_LIST, "unexpected page shape (no data list)")
            yield body["data"]
            nxt = body.get("next_cursor")
            if not nxt:
                return
            if nxt in cursors:
                raise ApiError(resp.status, DOKUMEN_LIST, "pagination loop: next_cursor repeats")
            cursors.add(str(nxt))
            cursor = str(nxt)

    async def download_dokumen(
        self, dokumen_id: str, *, verify_sha256: bool = True
    ) -> tuple[bytes, str | None]:
        """Bytes of a document and its ``X-Checksum-SHA256`` header.

        With ``verify_sha256`` (default) a body that does not match the header is retried and,
        if it persists, raises :class:`ChecksumMismatchError`. A missing document raises
        ``ApiError(404)``.
        """

        def check(resp: ApiResponse) -> None:
            announced = resp.headers.get("X-Checksum-SHA256")
            if (
                verify_sha256
                and announced
                and hashlib.sha256(resp.body).hexdigest() != announced.strip().lower()
            ):
                raise ChecksumMismatchError(resp.status, DOKUMEN, "sha256 mismatch", retryable=True)

        resp = await self._download(DOKUMEN, path={"id": dokumen_id}, check=check)
        return resp.body, resp.headers.get("X-Checksum-SHA256")

    async def post_inbound(
        self,
        kind: str,
        payload: dict[str, Any],
        idempotency_key: str,
        *,
        file: bytes | None = None,
        filename: str = "dokumen.pdf",
    ) -> Any:
        """POST to ``/api/v1/inbound/{kind}`` with an ``Idempotency-Key``.

        JSON body, or, when ``file`` is given, multipart ``file`` + ``metadata`` (the payload
        as JSON) as ``pertek`` and ``ralat-pertek`` want. Returns the parsed answer
        (``{"status": "accepted", "id": ...}``).
        """
        if kind not in INBOUND_KINDS:
            raise ValueError(f"unknown inbound kind {kind!r}; one of {sorted(INBOUND_KINDS)}")
        if not idempotency_key:
            raise ValueError("idempotency_key is required")
        headers = {"Idempotency-Key": idempotency_key}
        if file is None:
            resp = await self.api.request(
                "POST", INBOUND, path={"kind": kind}, json=payload, headers=headers
            )
        else:
            resp = await self.api.request(
                "POST",
                INBOUND,
                path={"kind": kind},
                form={"metadata": orjson.dumps(payload).decode()},
                files={"file": FilePart(filename, file, "application/pdf")},
                headers=headers,
                timeout=self.download_timeout,
                sensitive=[filename],
            )
        return resp.data
