"""Connection settings of both APIs as validated pydantic models (no Airflow import).

An Airflow connection (``AIRFLOW_CONN_SIASN_API`` as JSON) maps onto :class:`SiasnConfig`:
``host`` → ``base_url``, ``login``/``password`` → gateway client id/secret, and every key of
``extra`` to the field of the same name. Empty extras (``""``/``null``, as the UI saves blank
fields) mean "use the default"; unknown extras are ignored with a warning naming the key only.
Secrets are :class:`pydantic.SecretStr` and validation errors never echo input values.
"""

from __future__ import annotations

import ipaddress
import logging
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urljoin, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = [
    "API_MODES",
    "ApiConfig",
    "SiappConfig",
    "SiasnConfig",
    "base_url_from_connection",
]

log = logging.getLogger(__name__)

_TRUE = {"true", "1", "yes", "on"}
#: ``SiasnConfig.api_mode`` values: the PKS endpoints, or only what BKN publishes.
API_MODES: tuple[str, ...] = ("pks", "public")
_FALSE = {"false", "0", "no", "off"}


def _is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (where the sandbox runs)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url_from_connection(host: str | None, schema: str | None, port: int | None) -> str:
    """``https://host[:port]`` from a connection's fields; ``host`` may already be a URL.

    Unlike providers-http (which defaults to ``http``), the scheme defaults to ``https``;
    ``schema`` is used as the scheme only when it is ``http`` or ``https``.
    """
    if not host:
        raise ValueError("connection has no host (the API base URL)")
    host = host.strip()
    if "://" not in host:
        scheme = schema if schema in ("http", "https") else "https"
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("host must be an http(s) URL or a host name")
    if port and parts.port is None:
        host = f"{parts.scheme}://{parts.netloc}:{port}{parts.path}"
    return host.rstrip("/")


class ApiConfig(BaseModel):
    """Settings common to both API clients."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    base_url: str = Field(description="scheme://host[:port][/prefix] of the API")
    client_id: str = Field(min_length=1, description="OAuth2 client id")
    client_secret: SecretStr = Field(description="OAuth2 client secret")
    verify: bool | str = Field(
        True, description="TLS verification: true (default), false, or a CA bundle path"
    )
    timeout: float = Field(30.0, gt=0, le=3600, description="seconds per attempt")
    download_timeout: float = Field(300.0, gt=0, le=7200, description="seconds per download")
    concurrency: int = Field(32, ge=1, le=512, description="requests in flight at most")
    rate_limit_rps: float | None = Field(
        100.0, gt=0, description="client-side ceiling in requests/s (null: none)"
    )
    rate_limit_burst: int = Field(1, ge=1, le=1000)
    max_retries: int = Field(8, ge=0, le=50, description="retries after the first attempt")
    backoff_base_s: float = Field(0.5, ge=0, le=60)
    backoff_max_s: float = Field(30.0, ge=0, le=600)
    max_retry_after_s: float = Field(300.0, ge=0)
    token_skew_s: float = Field(60.0, ge=0, le=3600, description="refresh tokens this early")
    proxy: str | None = Field(
        None,
        description="HTTP(S) proxy URL for every request, tokens included (BKN admits only "
        "whitelisted source IPs: route through the host whose IP is registered)",
    )
    proxy_from_env: bool = Field(
        False,
        description="without proxy: use HTTPS_PROXY/HTTP_PROXY (and NO_PROXY) of the environment",
    )

    @field_validator("verify", mode="before")
    @classmethod
    def _verify(cls, value: Any) -> Any:
        if isinstance(value, str):
            low = value.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            if not Path(value).exists():
                raise ValueError("verify must be true, false or an existing CA bundle path")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("proxy must be an http(s) URL")
        return value.strip()

    def effective_proxy(self) -> str | None:
        """The proxy the client uses: ``proxy``, else (with ``proxy_from_env``) the
        environment's proxy for ``base_url``'s scheme unless ``NO_PROXY`` exempts its host."""
        if self.proxy or not self.proxy_from_env:
            return self.proxy
        parts = urlsplit(self.base_url)
        env = urllib.request.getproxies_environment()
        proxy = env.get(parts.scheme) or env.get("all")
        if not proxy or urllib.request.proxy_bypass_environment(parts.hostname or ""):
            return None
        return proxy

    def resolve(self, url: str) -> str:
        """An absolute URL, or a path resolved against ``base_url``'s origin."""
        if "://" in url:
            return url
        parts = urlsplit(self.base_url)
        return urljoin(f"{parts.scheme}://{parts.netloc}", url)

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~siapp_siasn.clients.http.ApiClient`."""
        return {
            "verify": self.verify,
            "timeout": self.timeout,
            "concurrency": self.concurrency,
            "rate_limit_rps": self.rate_limit_rps,
            "rate_limit_burst": self.rate_limit_burst,
            "max_retries": self.max_retries,
            "backoff_base_s": self.backoff_base_s,
            "backoff_max_s": self.backoff_max_s,
            "max_retry_after_s": self.max_retry_after_s,
            "proxy": self.effective_proxy(),
        }

    @classmethod
    def from_connection(cls, conn: Any, **overrides: Any) -> Self:
        """Build from an Airflow ``Connection`` (or anything with the same attributes).

        ``overrides`` win over the connection (e.g. a task that wants less concurrency).
        """
        conn_type = getattr(conn, "conn_type", None) or ""
        extra = getattr(conn, "extra_dejson", None)
        if extra is None:
            extra = {}
        if not isinstance(extra, Mapping):
            raise ValueError("connection extra must be a JSON object")
        prefix = f"extra__{conn_type}__"
        fields: dict[str, Any] = {}
        ignored = []
        for key, value in extra.items():
            name = key[len(prefix) :] if key.startswith(prefix) else key
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if name in cls.model_fields and name not in ("base_url", "client_id", "client_secret"):
                fields[name] = value
            else:
                ignored.append(name)
        if ignored:
            log.warning(
                "%s connection %s: ignoring unknown extra keys %s",
                conn_type or "api",
                getattr(conn, "conn_id", "?"),
                sorted(ignored),
            )
        fields["base_url"] = base_url_from_connection(
            getattr(conn, "host", None), getattr(conn, "schema", None), getattr(conn, "port", None)
        )
        fields["client_id"] = getattr(conn, "login", None) or ""
        fields["client_secret"] = getattr(conn, "password", None) or ""
        fields.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**fields)


class SiasnConfig(ApiConfig):
    """SIASN (BKN): gateway client credentials + SSO password grant or a static SSO token."""

    gateway_token_url: str = Field(
        "/oauth2/token", description="WSO2 token endpoint (absolute, or a path on base_url)"
    )
    sso_token_url: str = Field(
        "/auth/realms/public-siasn/protocol/openid-connect/token",
        description="Keycloak token endpoint (absolute, or a path on base_url)",
    )
    sso_client_id: str | None = Field(
        None,
        description="SSO (Keycloak) client_id of the password grant, issued by BKN with the "
        "SSO account; not the gateway consumer key. Required unless the SSO host is the local "
        "sandbox (there the gateway client id is used)",
    )
    sso_username: str | None = Field(None, description="SSO user (password grant)")
    sso_password: SecretStr | None = Field(None, description="SSO password (password grant)")
    sso_token: SecretStr | None = Field(
        None, description="static SSO token pasted by an operator (instead of user/password)"
    )
    api_mode: Literal["pks", "public"] = Field(
        "pks",
        description="pks: the PKS endpoints /apisiasn/1.0/siapp/...; public: only endpoints BKN "
        "publishes (NIP list from an Export Data ASN file in export_dir)",
    )
    export_dir: str | None = Field(
        None,
        description="folder where SIASN 'Export Data ASN' CSV files are dropped "
        "(required in public mode)",
    )

    @field_validator("api_mode", mode="before")
    @classmethod
    def _api_mode(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
        if value not in API_MODES:
            raise ValueError(f"api_mode must be one of {', '.join(API_MODES)}")
        return value

    @field_validator("export_dir")
    @classmethod
    def _export_dir(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # not checked for existence here: the connection is also validated on machines that
        # do not mount the folder (UI "Test"); the reader says clearly when it is missing
        path = Path(value.strip()).expanduser()
        if not path.is_absolute():
            raise ValueError("export_dir must be an absolute path")
        return str(path)

    @model_validator(mode="after")
    def _public_needs_export_dir(self) -> Self:
        if self.api_mode == "public" and not self.export_dir:
            raise ValueError(
                "api_mode public reads the NIP list from an Export Data ASN file: set export_dir"
            )
        return self

    @model_validator(mode="after")
    def _sso(self) -> Self:
        has_static = self.sso_token is not None and bool(self.sso_token.get_secret_value())
        has_password = bool(self.sso_username) and self.sso_password is not None
        if not has_static and not has_password:
            raise ValueError(
                "SIASN needs an SSO token: set sso_username + sso_password or sso_token"
            )
        if not has_static and not self.sso_client_id and not _is_loopback(self.sso_host):
            raise ValueError(
                f"sso_client_id is required for the SSO password grant against {self.sso_host}: "
                "it is the client_id BKN issued for SIASN SSO, not the gateway consumer key"
            )
        return self

    @property
    def sso_host(self) -> str:
        """Host name of the SSO token endpoint."""
        return urlsplit(self.resolve(self.sso_token_url)).hostname or ""

    @property
    def sso_mode(self) -> Literal["static", "password"]:
        """``static`` when an operator-pasted token is configured (it takes precedence)."""
        if self.sso_token is not None and self.sso_token.get_secret_value():
            return "static"
        return "password"


class SiappConfig(ApiConfig):
    """SIAPP NV: OAuth2 client credentials."""

    token_url: str = Field("/oauth/token", description="token endpoint (absolute or a path)")
    token_auth_method: Literal["client_secret_post", "client_secret_basic"] = Field(
        "client_secret_post", description="how the client authenticates at the token endpoint"
    )
    scope: str | None = Field(None, description="OAuth2 scope, if the server wants one")
