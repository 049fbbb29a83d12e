"""SIASN (BKN) client: two tokens, ``{"code":1,"data":...}`` envelopes, pagination, documents.

Pure async code (no Airflow). Returns raw dicts: parsing and validation belong to
:mod:`siapp_siasn.models`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import date
from typing import Any

from siapp_siasn.clients.auth import HeaderToken, OAuth2TokenSource, StaticTokenSource, TokenAuth
from siapp_siasn.clients.config import SiasnConfig
from siapp_siasn.clients.errors import ApiError, ChecksumMismatchError
from siapp_siasn.clients.http import ApiResponse, FilePart, ServiceClient

__all__ = ["SiasnClient", "build_siasn_auth", "siasn_date"]

log = logging.getLogger(__name__)

DATA_UTAMA = "/apisiasn/1.0/pns/data-utama/{nip}"
DATA_PASANGAN = "/apisiasn/1.0/pns/data-pasangan/{nip}"
DATA_ANAK = "/apisiasn/1.0/pns/data-anak/{nip}"
DATA_ORTU = "/apisiasn/1.0/pns/data-ortu/{nip}"
RW_GOLONGAN = "/apisiasn/1.0/pns/rw-golongan/{nip}"
REFERENSI = "/referensi_siasn/1/{ref}/search"
REF_UNOR = "/apisiasn/1.0/referensi/ref-unor"
DOWNLOAD_DOK = "/apisiasn/1.0/download-dok"
UPLOAD_DOK = "/apisiasn/1.0/upload-dok"
UPLOAD_DOK_SK_KP = "/apisiasn/1.0/upload-dok-sk-kp"
PKS_ASN = "/apisiasn/1.0/siapp/asn"
PKS_STATUS_USULAN = "/apisiasn/1.0/siapp/status-usulan"
PKS_DOKUMEN = "/apisiasn/1.0/siapp/dokumen"
PKS_POST = {
    "usulan": "/apisiasn/1.0/siapp/usulan",
    "verifikasi-setneg": "/apisiasn/1.0/siapp/verifikasi-setneg",
    "keppres": "/apisiasn/1.0/siapp/keppres",
    "pic": "/apisiasn/1.0/siapp/pic",
}

# A full page made only of rows already seen is fetched again this many times: with offset
# pagination a duplicated page hides the page that should have been there.
_DUPLICATE_PAGE_REFETCHES = 3


def siasn_date(value: date | str | None) -> str | None:
    """``dd-mm-yyyy`` as SIASN wants it (strings pass through)."""
    if value is None or isinstance(value, str):
        return value
    return value.strftime("%d-%m-%Y")


def build_siasn_auth(
    config: SiasnConfig, on_token: Callable[[str], None] | None = None
) -> TokenAuth:
    """Gateway token (``Authorization: Bearer``) everywhere, plus the SSO token (``Auth:
    bearer``) on ``/apisiasn``; ``/referensi_siasn`` gets the gateway token only."""
    secret = config.client_secret.get_secret_value()
    gateway = OAuth2TokenSource(
        "gateway",
        config.resolve(config.gateway_token_url),
        {"grant_type": "client_credentials"},
        basic_auth=(config.client_id, secret),
        skew_s=config.token_skew_s,
        on_token=on_token,
    )
    sso: OAuth2TokenSource | StaticTokenSource
    if config.sso_mode == "static":
        assert config.sso_token is not None
        sso = StaticTokenSource("sso", config.sso_token.get_secret_value())
    else:
        assert config.sso_password is not None and config.sso_username
        sso = OAuth2TokenSource(
            "sso",
            config.resolve(config.sso_token_url),
            {
                "grant_type": "password",
                "client_id": config.sso_client_id or config.client_id,
                "username": config.sso_username,
                "password": config.sso_password.get_secret_value(),
            },
            skew_s=config.token_skew_s,
            on_token=on_token,
        )
    both = [HeaderToken("Authorization", "Bearer", gateway), HeaderToken("Auth", "bearer", sso)]
    return TokenAuth(
        default=both,
        by_prefix={"/referensi_siasn": [HeaderToken("Authorization", "Bearer", gateway)]},
    )


def _since(updated_since: date | None) -> dict[str, object]:
    """The ``updatedSince`` filter of a PKS list (none: the full sweep)."""
    return {} if updated_since is None else {"updatedSince": siasn_date(updated_since)}


def _envelope_code(body: Any) -> str | None:
    if isinstance(body, dict) and "code" in body:
        return str(body["code"])
    return None


class SiasnClient(ServiceClient):
    """Async SIASN client over one :class:`ApiClient` (use ``async with``).

    :param api: the transport (session, limiter, retries, tokens).
    :param download_timeout: seconds per document download attempt.
    """

    name = "siasn"
    build_auth = staticmethod(build_siasn_auth)

    # -- envelopes ---------------------------------------------------------------------

    @staticmethod
    def unwrap(resp: ApiResponse) -> Any:
        """``data`` of a ``{"code": 1}`` envelope; ``None`` for ``{"code": 0}`` (not found and
        empty are the same on SIASN). A 404 without an envelope (wrong URL, gateway page)
        is an error, not "no data"."""
        code = _envelope_code(resp.data)
        if code == "1" and resp.status != 404:
            return resp.data.get("data")
        if code == "0":
            return None
        if resp.status == 404:
            raise ApiError(404, resp.endpoint, "not found and no SIASN envelope (wrong URL?)")
        raise ApiError(resp.status, resp.endpoint, f"not a SIASN envelope (code={code})")

    async def get_data(
        self, template: str, /, *, query: Mapping[str, object] | None = None, **path: object
    ) -> Any:
        """GET an enveloped endpoint; return its ``data`` or ``None`` when SIASN has none.

        ``get_data("/apisiasn/1.0/pns/data-utama/{nip}", nip=nip)``
        """
        resp = await self.api.request("GET", template, path=path, query=query, allow_404=True)
        return self.unwrap(resp)

    async def get_employee(self, nip: str) -> dict[str, Any]:
        """Data utama, pasangan, anak and ortu of one NIP, fetched concurrently (raw dicts,
        ``None`` where SIASN has nothing)."""
        import asyncio

        utama, pasangan, anak, ortu = await asyncio.gather(
            self.get_data(DATA_UTAMA, nip=nip),
            self.get_data(DATA_PASANGAN, nip=nip),
            self.get_data(DATA_ANAK, nip=nip),
            self.get_data(DATA_ORTU, nip=nip),
        )
        return {"utama": utama, "pasangan": pasangan, "anak": anak, "ortu": ortu}

    async def post_json(self, template: str, body: Any, idempotency_key: str) -> Any:
        """POST JSON with an ``Idempotency-Key`` (safe to retry); return the envelope's ``data``."""
        if not idempotency_key:
            raise ValueError("idempotency_key is required")
        resp = await self.api.request(
            "POST", template, json=body, headers={"Idempotency-Key": idempotency_key}
        )
        return self.unwrap(resp)

    async def post_pks(self, kind: str, body: Any, idempotency_key: str) -> Any:
        """POST to a PKS inbound endpoint: ``usulan``, ``verifikasi-setneg``, ``keppres``,
        ``pic``."""
        try:
            template = PKS_POST[kind]
        except KeyError:
            raise ValueError(f"unknown PKS endpoint {kind!r}; one of {sorted(PKS_POST)}") from None
        return await self.post_json(template, body, idempotency_key)

    # -- pagination --------------------------------------------------------------------

    async def _iter_offset(
        self,
        template: str,
        *,
        path: Mapping[str, object] | None,
        query: Mapping[str, object],
        page_size: int,
        rows_of: Callable[[Any], tuple[list[Any], int | None]],
        key_of: Callable[[Any], Any],
        enveloped: bool,
        missing_first_page_is_error: bool = False,
    ) -> AsyncIterator[Any]:
        """Offset pagination with de-duplication.

        Stops on a short page, on a 404 envelope (empty page), or at ``total``. A full page of
        rows already seen is refetched (it probably hides the real page); when a ``total`` is
        announced and fewer distinct rows were seen, one more pass fetches what was missed.
        """
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        stats = self.api.stats.pagination
        seen: set[Any] = set()
        total: int | None = None
        for sweep in range(2):
            offset = 0
            refetches = 0
            while True:
                resp = await self.api.request(
                    "GET",
                    template,
                    path=path,
                    query={**query, "limit": page_size, "offset": offset},
                    allow_404=True,
                )
                stats["pages"] += 1
                # unwrap: None for an empty page (404 envelope) or an unknown table
                data = self.unwrap(resp) if enveloped or resp.status == 404 else resp.data
                if data is None:
                    if offset == 0 and missing_first_page_is_error:
                        raise ApiError(404, template, "not found")
                    break
                try:
                    rows, page_total = rows_of(data)
                except (KeyError, TypeError, ValueError, AttributeError):
                    raise ApiError(
                        resp.status, template, "unexpected page shape", retryable=False
                    ) from None
                if page_total is not None:
                    total = page_total
                fresh = []
                for row in rows:
                    key = key_of(row)
                    if key in seen:
                        stats["duplicates_dropped"] += 1
                        continue
                    seen.add(key)
                    fresh.append(row)
                full_duplicate = rows and not fresh and len(rows) >= page_size
                if full_duplicate and sweep == 0 and refetches < _DUPLICATE_PAGE_REFETCHES:
                    refetches += 1
                    stats["duplicate_pages_refetched"] += 1
                    continue
                refetches = 0
                for row in fresh:
                    yield row
                if len(rows) < page_size:
                    break
                if sweep == 1 and total is not None and len(seen) >= total:
                    break  # the repair sweep found what was missing
                offset += page_size
                if total is not None and offset >= total:
                    break
            if total is None or len(seen) >= total or sweep == 1:
                if total is not None and len(seen) < total:
                    stats["short_of_total"] += total - len(seen)
                    log.warning(
                        "%s: %s: %d distinct rows of %d announced",
                        self.api.name,
                        template,
                        len(seen),
                        total,
                    )
                return
            stats["repair_sweeps"] += 1
            log.warning(
                "%s: %s: %d distinct rows of %d announced; sweeping again",
                self.api.name,
                template,
                len(seen),
                total,
            )

    @staticmethod
    def _pks_rows(data: Any) -> tuple[list[Any], int | None]:
        rows = data["list"]
        if rows is None:
            rows = []
        if not isinstance(rows, list):
            raise TypeError("list")
        total = data.get("total")
        return rows, (int(total) if total not in (None, "") else None)

    async def get_ref_unor(self) -> list[dict[str, Any]]:
        """Every UNOR (``referensi.UnorResponse`` rows) from ``GET
        /apisiasn/1.0/referensi/ref-unor``: one ``model.Result``, both tokens, no paging. An
        answer without rows is an error (a full pull must never read it as "all units gone")."""
        data = await self.get_data(REF_UNOR)
        if not isinstance(data, list) or not data:
            raise ApiError(502, REF_UNOR, "ref-unor: no UNOR rows in the answer")
        return data

    def iter_referensi(self, ref: str, page_size: int = 500) -> AsyncIterator[dict[str, Any]]:
        """Rows of a reference table (``golongan``, ``agama``, ``instansi``, ...), gateway token
        only. An unknown table raises ``ApiError(404)``."""

        def rows_of(data: Any) -> tuple[list[Any], int | None]:
            rows = data["results"]
            if not isinstance(rows, list):
                raise TypeError("results")
            return rows, None

        return self._iter_offset(
            REFERENSI,
            path={"ref": ref},
            query={},
            page_size=page_size,
            rows_of=rows_of,
            key_of=lambda r: r.get("id") if isinstance(r, dict) and "id" in r else repr(r),
            enveloped=False,
            missing_first_page_is_error=True,
        )

    def _iter_pks(
        self,
        template: str,
        query: dict[str, object],
        page_size: int,
        key_of: Callable[[Any], Any],
    ) -> AsyncIterator[dict[str, Any]]:
        """Rows of a PKS list endpoint (``{"code": 1, "data": {"list": [...], "total": n}}``)."""
        return self._iter_offset(
            template,
            path=None,
            query=query,
            page_size=page_size,
            rows_of=self._pks_rows,
            key_of=key_of,
            enveloped=True,
        )

    def iter_asn(
        self, updated_since: date | None = None, page_size: int = 1000
    ) -> AsyncIterator[dict[str, Any]]:
        """PKS enumeration of ASN ≥ IV/b: ``{nipBaru, golRuangAkhirId, kedudukanPnsId,
        updated}`` rows, each NIP once. ``updated_since=None`` is the full sweep."""
        return self._iter_pks(
            PKS_ASN, _since(updated_since), page_size, key_of=lambda r: r["nipBaru"]
        )

    def iter_status_usulan(
        self, updated_since: date | None = None, page_size: int = 500
    ) -> AsyncIterator[dict[str, Any]]:
        """BKN verification status, pertek and ralat pertek of SIAPP usulan."""
        return self._iter_pks(
            PKS_STATUS_USULAN,
            _since(updated_since),
            page_size,
            key_of=lambda r: (r.get("id"), r.get("statusUsulan"), r.get("updated")),
        )

    def iter_dokumen(self, id_usulan: str, page_size: int = 500) -> AsyncIterator[dict[str, Any]]:
        """Documents SIASN holds for one SIAPP usulan (``dok_id, dok_uri, sha256, size``...)."""
        return self._iter_pks(
            PKS_DOKUMEN,
            {"idUsulan": id_usulan},
            page_size,
            key_of=lambda r: r.get("dok_id") or repr(r),
        )

    # -- documents ---------------------------------------------------------------------

    async def download(
        self,
        file_path: str,
        *,
        expected_sha256: str | None = None,
        require_pdf_eof: bool = True,
    ) -> bytes:
        """Bytes of a SIASN document (``download-dok?filePath=``).

        Raises ``ApiError(404)`` when SIASN has no such file. SIASN sends no checksum, so a body
        cut short with a matching Content-Length would go unnoticed: a PDF (``%PDF-``) without
        ``%%EOF`` near its end is treated as truncated and retried (``require_pdf_eof``). With
        ``expected_sha256`` a mismatching body is retried too and, if it persists, raises
        :class:`ChecksumMismatchError`.
        """

        def check(resp: ApiResponse) -> None:
            if resp.status == 404:
                return
            ctype = resp.headers.get("Content-Type", "")
            if "json" in ctype:
                raise ApiError(resp.status, DOWNLOAD_DOK, "expected a document, got JSON")
            body = resp.body
            if require_pdf_eof and body.startswith(b"%PDF-") and b"%%EOF" not in body[-1024:]:
                self.api.stats.errors["truncated_pdf"] += 1
                raise ApiError(
                    resp.status, DOWNLOAD_DOK, "truncated PDF (no %%EOF)", retryable=True
                )
            if expected_sha256 is not None:
                digest = hashlib.sha256(resp.body).hexdigest()
                if digest != expected_sha256.lower():
                    raise ChecksumMismatchError(
                        resp.status, DOWNLOAD_DOK, "sha256 mismatch", retryable=True
                    )

        resp = await self._download(
            DOWNLOAD_DOK, query={"filePath": file_path}, allow_404=True, check=check
        )
        if resp.status == 404:
            raise ApiError(404, DOWNLOAD_DOK, "document not found")
        return resp.body

    async def _upload(
        self,
        template: str,
        file_bytes: bytes,
        filename: str,
        fields: Mapping[str, str],
        idempotency_key: str,
    ) -> Any:
        # SIASN's definition names no idempotency key for uploads; the hub sends one anyway
        # (an unknown header is ignored) so that a gateway or SIASN that honours it replays
        # the first answer instead of keeping an orphan copy when a retry follows a lost answer.
        if not idempotency_key:
            raise ValueError("idempotency_key is required")
        resp = await self.api.request(
            "POST",
            template,
            form=dict(fields),
            files={"file": FilePart(filename, file_bytes, "application/pdf")},
            headers={"Idempotency-Key": idempotency_key},
            idempotent=True,
            timeout=self.download_timeout,
            sensitive=[filename],
        )
        return self.unwrap(resp)

    async def upload_dok(
        self, file_bytes: bytes, filename: str, id_ref_dokumen: str, *, idempotency_key: str
    ) -> Any:
        """Upload a document; return ``data`` (``dok_id, dok_nama, dok_uri, object, slug``).
        ``idempotency_key``: the same for every attempt of one upload."""
        return await self._upload(
            UPLOAD_DOK,
            file_bytes,
            filename,
            {"id_ref_dokumen": str(id_ref_dokumen)},
            idempotency_key,
        )

    async def upload_dok_sk_kp(
        self,
        file_bytes: bytes,
        filename: str,
        id_usulan: str,
        no_sk: str,
        tgl_sk: date | str,
        *,
        idempotency_key: str,
    ) -> Any:
        """Upload a KP decree (SK) for a usulan; return ``data`` like :meth:`upload_dok`."""
        return await self._upload(
            UPLOAD_DOK_SK_KP,
            file_bytes,
            filename,
            {"id_usulan": id_usulan, "no_sk": no_sk, "tgl_sk": siasn_date(tgl_sk) or ""},
            idempotency_key,
        )

    # -- public-API mode (endpoints BKN publishes; no PKS) --------------------------------
    #: ``pks`` (the ``/apisiasn/1.0/siapp/…`` endpoints) or ``public`` (published endpoints
    #: only); set from the connection by :meth:`from_config`
    api_mode: str = "pks"
    #: folder of the "Export Data ASN" files (public mode's NIP list)
    export_dir: str | None = None

    @classmethod
    def from_config(cls, config: Any, *, on_token: Callable[[str], None] | None = None) -> Any:
        """Client built from ``SiasnConfig``, carrying its ``api_mode`` and ``export_dir``."""
        client = super().from_config(config, on_token=on_token)
        client.api_mode = config.api_mode
        client.export_dir = config.export_dir
        return client

    async def list_kp_instansi(
        self, periode: date | str, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """Every KP usulan of the instansi for one KP period (``periode`` ``yyyy-mm-dd``, the
        TMT of the period, e.g. ``2026-04-01``): ``GET pns/list-kp-instansi``, paged with
        ``limit``/``offset``. Raw rows (see :mod:`siapp_siasn.models.layanan`)."""
        text = periode.isoformat() if isinstance(periode, date) else periode
        return [
            row
            async for row in self._iter_offset(
                LIST_KP_INSTANSI,
                path=None,
                query={"periode": text},
                page_size=page_size,
                rows_of=_public_rows,
                key_of=lambda r: r.get("id") if isinstance(r, dict) else repr(r),
                enveloped=True,
            )
        ]

    async def kp_instansi_by_id(self, id_usulan: str) -> dict[str, Any] | None:
        """One usulan by BKN's id (``GET pns/kp-instansi-byId?IdUsulan=``); ``None`` if
        SIASN has none. A list answer yields its first row."""
        data = await self.get_data(KP_INSTANSI_BY_ID, query={"IdUsulan": id_usulan})
        if isinstance(data, list):
            return data[0] if data and isinstance(data[0], dict) else None
        return data if isinstance(data, dict) else None

    async def list_pensiun_instansi(
        self, tgl_awal: date | str, tgl_akhir: date | str
    ) -> list[dict[str, Any]]:
        """Pemberhentian usulan with a pertek dated ``tgl_awal..tgl_akhir`` (``dd-mm-yyyy``):
        ``GET pns/list-pensiun-instansi``. Not paged by SIASN: one answer."""
        data = await self.get_data(
            LIST_PENSIUN_INSTANSI,
            query={"tglAwal": siasn_date(tgl_awal), "tglAkhir": siasn_date(tgl_akhir)},
        )
        rows, _ = _public_rows(data) if data is not None else ([], None)
        return [r for r in rows if isinstance(r, dict)]


LIST_KP_INSTANSI = "/apisiasn/1.0/pns/list-kp-instansi"
KP_INSTANSI_BY_ID = "/apisiasn/1.0/pns/kp-instansi-byId"
LIST_PENSIUN_INSTANSI = "/apisiasn/1.0/pns/list-pensiun-instansi"


def _public_rows(data: Any) -> tuple[list[Any], int | None]:
    """Rows of a published list: ``data`` is the list itself, or ``{"data": [...]}`` /
    ``{"list": [...], "total"}`` as some gateways wrap it; ``count`` is not trusted."""
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict):
        for key in ("data", "list"):
            if isinstance(data.get(key), list):
                total = data.get("total")
                return data[key], (int(total) if str(total or "").isdigit() else None)
    raise TypeError("not a list")
