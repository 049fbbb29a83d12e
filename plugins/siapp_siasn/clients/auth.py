"""Token sources (OAuth2 client credentials, password grant, static) and header policies.

A :class:`TokenSource` caches one bearer token and refreshes it before it expires (with a skew)
or when a request was answered 401. Concurrent refreshes coalesce into one request
(``asyncio.Lock`` plus a re-check inside it), sent unbounded: it never waits for a concurrency
slot or the rate limiter, so requests holding every slot cannot starve the refresh they need.
Token values and secrets are never logged and never put into an exception.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from siapp_siasn.clients.errors import ApiError

if TYPE_CHECKING:
    from siapp_siasn.clients.http import ApiClient

__all__ = ["HeaderToken", "OAuth2TokenSource", "StaticTokenSource", "TokenAuth", "TokenSource"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: float  # time.monotonic() deadline, skew already taken off


class TokenSource(abc.ABC):
    """Base class: one cached bearer token."""

    name: str = "token"
    refreshable: bool = False

    @abc.abstractmethod
    async def get(self, client: ApiClient) -> str:
        """Return a valid token, fetching a new one if needed."""

    def invalidate(self, value: str) -> bool:
        """Forget ``value`` if it is still the cached token (after a 401). Returns whether a
        later :meth:`get` will fetch a different token."""
        return False


class StaticTokenSource(TokenSource):
    """A token pasted by an operator (SIASN SSO): never refreshed."""

    refreshable = False

    def __init__(self, name: str, value: str) -> None:
        if not value:
            raise ValueError(f"{name}: empty static token")
        self.name = name
        self._value = value

    async def get(self, client: ApiClient) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"StaticTokenSource({self.name!r}, <redacted>)"


class OAuth2TokenSource(TokenSource):
    """OAuth2 token endpoint: client credentials (HTTP Basic or form) or password grant.

    :param name: label for logs and metrics (``gateway``, ``sso``, ``siapp``).
    :param token_url: absolute URL of the token endpoint.
    :param form: form fields (``grant_type`` and, depending on the flow, ``client_id``,
        ``client_secret``, ``username``, ``password``).
    :param basic_auth: ``(client_id, client_secret)`` sent as HTTP Basic, or ``None``.
    :param skew_s: refresh this long before expiry (capped at 20 % of the lifetime so that
        short-lived tokens stay usable).
    :param default_ttl_s: lifetime assumed when the endpoint omits ``expires_in``.
    :param on_token: called with every new token (the Airflow hook registers it with the
        secrets masker).
    """

    refreshable = True

    def __init__(
        self,
        name: str,
        token_url: str,
        form: Mapping[str, str],
        *,
        basic_auth: tuple[str, str] | None = None,
        skew_s: float = 60.0,
        default_ttl_s: float = 300.0,
        on_token: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self._on_token = on_token
        self.token_url = token_url
        self._form = dict(form)
        self._basic_auth = basic_auth
        self.skew_s = skew_s
        self.default_ttl_s = default_ttl_s
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        # The template used in logs and errors: the token URL's path (no credentials in it).
        self.endpoint = urlsplit(token_url).path or "/"
        self.fetches = 0

    def __repr__(self) -> str:
        return f"OAuth2TokenSource({self.name!r}, {self.endpoint!r})"

    def _valid(self, now: float) -> str | None:
        tok = self._token
        if tok is not None and now < tok.expires_at:
            return tok.value
        return None

    async def get(self, client: ApiClient) -> str:
        value = self._valid(time.monotonic())
        if value is not None:
            return value
        async with self._lock:
            # Another coroutine may have refreshed while we waited for the lock.
            value = self._valid(time.monotonic())
            if value is not None:
                return value
            self._token = await self._fetch(client)
            return self._token.value

    def invalidate(self, value: str) -> bool:
        tok = self._token
        if tok is not None and tok.value == value:
            self._token = None
        return True

    async def _fetch(self, client: ApiClient) -> _Token:
        started = time.monotonic()
        secrets: list[Any] = [v for k, v in self._form.items() if k != "grant_type"]
        if self._basic_auth:
            secrets.extend(self._basic_auth)
        try:
            resp = await client.request(
                "POST",
                self.endpoint,
                url=self.token_url,
                form=self._form,
                basic_auth=self._basic_auth,
                authenticate=False,
                # No concurrency slot, no rate limiter: see ``Request`` in clients.http.
                bounded=False,
                idempotent=True,
                sensitive=secrets,
            )
        except ApiError as exc:
            # The token call already used its own retries: the API call that needed the token
            # must not multiply them.
            exc.retryable = False
            raise
        body = resp.data
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ApiError(
                resp.status, self.endpoint, f"{self.name} token response has no access_token"
            )
        try:
            ttl = float(body.get("expires_in") or self.default_ttl_s)
        except (TypeError, ValueError):
            ttl = self.default_ttl_s
        ttl = max(ttl, 1.0)
        skew = min(self.skew_s, ttl * 0.2)
        self.fetches += 1
        if self._on_token is not None:
            self._on_token(token)
        client.stats.token_refreshes[self.name] += 1
        log.info("%s: %s token obtained (expires in %.0f s)", client.name, self.name, ttl)
        return _Token(token, started + ttl - skew)


class HeaderToken(NamedTuple):
    """Send ``source``'s token in ``header`` as ``f"{scheme} {token}"``."""

    header: str
    scheme: str
    source: TokenSource


class TokenAuth:
    """Which tokens go in which headers, chosen by the endpoint template's prefix.

    :param default: headers for every template not matched by ``by_prefix``.
    :param by_prefix: template prefix → headers (longest prefix wins).
    """

    def __init__(
        self,
        default: Sequence[HeaderToken],
        by_prefix: Mapping[str, Sequence[HeaderToken]] | None = None,
    ) -> None:
        self.default = tuple(default)
        self.by_prefix = sorted((by_prefix or {}).items(), key=lambda kv: -len(kv[0]))

    def rule(self, template: str) -> tuple[HeaderToken, ...]:
        """Headers that apply to ``template``."""
        for prefix, rule in self.by_prefix:
            if template.startswith(prefix):
                return tuple(rule)
        return self.default

    @property
    def sources(self) -> list[TokenSource]:
        """Every distinct token source, in a stable order."""
        out: list[TokenSource] = []
        for rule in [self.default, *(r for _, r in self.by_prefix)]:
            for ht in rule:
                if all(ht.source is not s for s in out):
                    out.append(ht.source)
        return out

    async def headers(
        self, client: ApiClient, template: str
    ) -> tuple[dict[str, str], list[tuple[TokenSource, str]]]:
        """Headers for one request, and the (source, token) pairs used (for invalidation)."""
        headers: dict[str, str] = {}
        used: list[tuple[TokenSource, str]] = []
        for ht in self.rule(template):
            value = await ht.source.get(client)
            headers[ht.header] = f"{ht.scheme} {value}"
            used.append((ht.source, value))
        return headers, used

    @staticmethod
    def invalidate(used: Sequence[tuple[TokenSource, str]]) -> bool:
        """After a 401: drop the tokens that were sent. Returns whether any can be refreshed."""
        refreshable = False
        for source, value in used:
            refreshable = (source.invalidate(value) and source.refreshable) or refreshable
        return refreshable

    async def warm(self, client: ApiClient) -> dict[str, str]:
        """Fetch every token now (connection test). Returns ``{source name: "ok"|"static"}``."""
        out = {}
        for source in self.sources:
            await source.get(client)
            out[source.name] = "ok" if source.refreshable else "static"
        return out
