"""Connection settings of both APIs as validated pydantic models (no Airflow import).

An Airflow connection (``AIRFLOW_CONN_SIASN_API`` as JSON) maps onto :class:`SiasnConfig`:
``host`` → ``base_url``, ``login``/``password`` → gateway client id/secret, and every key of
``extra`` to the field of the same name. Empty extras (``""``/``null``, as the UI saves blank
fields) and Airflow's mask ``***`` mean "use the default"; unknown extras are ignored with a
warning naming the key only. Secrets are :class:`pydantic.SecretStr` and validation errors never
echo input values.

Airflow masks every extra whose *name* contains a sensitive word (``token``, ``proxy``,
``password``, ...): in the connection form and the REST API such a field shows ``***``, and a
form saved unchanged stores ``***``. So no non-secret setting has such a word in its name; the
earlier names (:data:`RENAMED_EXTRAS`) are still read, so existing connections keep working.
"""

from __future__ import annotations

import ipaddress
import logging
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urljoin, urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

__all__ = [
    "API_MODES",
    "MASKED_VALUE",
    "RENAMED_EXTRAS",
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
#: What Airflow shows (and a form saved unchanged stores) instead of a masked value.
MASKED_VALUE = "***"
#: Earlier extra names → the setting that replaced them (still accepted as aliases).
RENAMED_EXTRAS: dict[str, str] = {
    "token_skew_s": "refresh_early_s",
    "proxy_from_env": "trust_env",
    "gateway_token_url": "gateway_auth_url",
    "sso_token_url": "sso_auth_url",
    "token_url": "auth_url",
    "token_auth_method": "client_auth_method",
}


def _also(name: str) -> AliasChoices:
    """The field's own name, or its earlier name (an existing connection's extra)."""
    old = [k for k, v in RENAMED_EXTRAS.items() if v == name]
    return AliasChoices(name, *old)


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

    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, populate_by_name=True
    )

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
    refresh_early_s: float = Field(
        60.0,
        ge=0,
        le=3600,
        validation_alias=_also("refresh_early_s"),
        description="seconds before expiry when a token is fetched again (formerly token_skew_s)",
    )
    # a secret: the URL may carry the proxy's user and password
    proxy: SecretStr | None = Field(
        None,
        description="HTTP(S) proxy URL for every request, tokens included (BKN admits only "
        "whitelisted source IPs: route through the host whose IP is registered)",
    )
    trust_env: bool = Field(
        False,
        validation_alias=_also("trust_env"),
        description="without a proxy set here: use HTTPS_PROXY/HTTP_PROXY (and NO_PROXY) of "
        "the environment (formerly proxy_from_env)",
    )

    @property
    def token_skew_s(self) -> float:
        """Earlier name of :attr:`refresh_early_s`."""
        return self.refresh_early_s

    @property
    def proxy_from_env(self) -> bool:
        """Earlier name of :attr:`trust_env`."""
        return self.trust_env

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """As pydantic's, with the earlier setting names accepted in ``update``."""
        if update:
            update = {RENAMED_EXTRAS.get(k, k): v for k, v in update.items()}
        return super().model_copy(update=update, deep=deep)

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

    @model_validator(mode="after")
    def _warn_unverified_tls(self) -> Self:
        # allowed (a bench, a broken chain being mended), but never silently
        if self.verify is False and urlsplit(self.base_url).scheme == "https":
            log.warning(
                "TLS certificate verification is OFF for %s (verify: false): anyone on the "
                "network path can read and alter the traffic, tokens included; name the "
                "server's CA bundle in verify instead",
                urlsplit(self.base_url).hostname,
            )
        return self

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value().strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("proxy must be an http(s) URL")
        return SecretStr(url)

    def effective_proxy(self) -> str | None:
        """The proxy the client uses: ``proxy``, else (with ``trust_env``) the
        environment's proxy for ``base_url``'s scheme unless ``NO_PROXY`` exempts its host."""
        if self.proxy is not None or not self.trust_env:
            return self.proxy.get_secret_value() if self.proxy is not None else None
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
            if _unset(value):
                continue
            field = RENAMED_EXTRAS.get(name, name)
            if field in cls.model_fields and field not in _CORE_FIELDS:
                # the current name wins over an earlier one given too
                if field not in fields or name == field:
                    fields[field] = value
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


_CORE_FIELDS = ("base_url", "client_id", "client_secret")


def _unset(value: Any) -> bool:
    """Blank, null, or Airflow's mask: the form left the field alone, so use the default."""
    if value is None:
        return True
    return isinstance(value, str) and (not value.strip() or value.strip() == MASKED_VALUE)


class SiasnConfig(ApiConfig):
    """SIASN (BKN): gateway client credentials + SSO password grant or a static SSO token."""

    gateway_auth_url: str = Field(
        "/oauth2/token",
        validation_alias=_also("gateway_auth_url"),
        description="WSO2 gateway token endpoint, absolute or a path on the base URL "
        "(formerly gateway_token_url)",
    )
    sso_auth_url: str = Field(
        "/auth/realms/public-siasn/protocol/openid-connect/token",
        validation_alias=_also("sso_auth_url"),
        description="SSO (Keycloak) token endpoint, absolute or a path on the base URL "
        "(formerly sso_token_url)",
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
        return urlsplit(self.resolve(self.sso_auth_url)).hostname or ""

    @property
    def gateway_token_url(self) -> str:
        """Earlier name of :attr:`gateway_auth_url`."""
        return self.gateway_auth_url

    @property
    def sso_token_url(self) -> str:
        """Earlier name of :attr:`sso_auth_url`."""
        return self.sso_auth_url

    @property
    def sso_mode(self) -> Literal["static", "password"]:
        """``static`` when an operator-pasted token is configured (it takes precedence)."""
        if self.sso_token is not None and self.sso_token.get_secret_value():
            return "static"
        return "password"


class SiappConfig(ApiConfig):
    """SIAPP NV: OAuth2 client credentials."""

    auth_url: str = Field(
        "/oauth/token",
        validation_alias=_also("auth_url"),
        description="OAuth2 token endpoint, absolute or a path on the base URL "
        "(formerly token_url)",
    )
    client_auth_method: Literal["client_secret_post", "client_secret_basic"] = Field(
        "client_secret_post",
        validation_alias=_also("client_auth_method"),
        description="how the client authenticates at the token endpoint "
        "(formerly token_auth_method)",
    )
    scope: str | None = Field(None, description="OAuth2 scope, if the server wants one")

    @property
    def token_url(self) -> str:
        """Earlier name of :attr:`auth_url`."""
        return self.auth_url

    @property
    def token_auth_method(self) -> str:
        """Earlier name of :attr:`client_auth_method`."""
        return self.client_auth_method
