"""Errors raised by the API clients, and the redaction that keeps personal data out of them.

Every message is built from an endpoint TEMPLATE (``/apisiasn/1.0/pns/data-utama/{nip}``), a
status and text that went through :func:`redact`. Concrete URLs, path or query values, request
bodies and tokens never reach an exception, a log line or a metric.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["ApiError", "ChecksumMismatchError", "redact"]

_MAX_MESSAGE = 240
# Digit runs long enough to be a NIP (18), NIK (16), phone number or old NIP (9).
_DIGITS = re.compile(r"\d{8,}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Anything that looks like a bearer token or a JWT, in case a server echoes one back.
_BEARER = re.compile(r"(?i)\b(bearer)\s+\S+")
_JWT = re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*")


def redact(text: object, values: Iterable[object] = ()) -> str:
    """Return ``text`` as a short single line with personal-looking values masked.

    ``values`` are concrete values known to be sensitive (path parameters, credentials): every
    occurrence is replaced by ``<redacted>``. Long digit runs (NIP, NIK, phone), e-mail
    addresses and bearer tokens are masked whatever their origin.
    """
    out = " ".join(str(text).split())
    for value in values:
        v = str(value) if value is not None else ""
        if len(v) >= 3:
            out = out.replace(v, "<redacted>")
    out = _BEARER.sub(r"\1 <redacted>", out)
    out = _JWT.sub("<redacted>", out)
    out = _EMAIL.sub("<email>", out)
    out = _DIGITS.sub("<digits>", out)
    if len(out) > _MAX_MESSAGE:
        out = out[: _MAX_MESSAGE - 1] + "…"
    return out


class ApiError(Exception):
    """A call to SIASN or SIAPP NV failed.

    :param status: HTTP status of the last attempt, or ``None`` when no response arrived
        (connection error, timeout).
    :param endpoint: the endpoint TEMPLATE, never a concrete path.
    :param message: short, already redacted text.
    :param retryable: whether the client may try again (used by the retry loop).
    :param retry_after: seconds the server asked us to wait (``Retry-After``), if any.
    :param attempts: how many attempts were made before giving up.
    """

    def __init__(
        self,
        status: int | None,
        endpoint: str,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        attempts: int = 1,
        sent: bool = True,
    ) -> None:
        self.status = status
        self.endpoint = endpoint
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.attempts = attempts
        # False when the request certainly never reached the server (connect failure): safe to
        # retry even for a non-idempotent call.
        self.sent = sent
        super().__init__(status, endpoint, message)

    def __str__(self) -> str:
        status = "no response" if self.status is None else f"HTTP {self.status}"
        tail = f" (after {self.attempts} attempts)" if self.attempts > 1 else ""
        return f"{self.endpoint}: {status}: {self.message}{tail}"

    def __reduce__(self):  # keep keyword state through pickling (Airflow may pickle errors)
        return (
            _rebuild,
            (
                type(self),
                self.status,
                self.endpoint,
                self.message,
                self.retryable,
                self.retry_after,
                self.attempts,
                self.sent,
            ),
        )


class ChecksumMismatchError(ApiError):
    """A downloaded document did not match its announced SHA-256, on every attempt."""


def _rebuild(
    cls: type[ApiError],
    status: int | None,
    endpoint: str,
    message: str,
    retryable: bool,
    retry_after: float | None,
    attempts: int,
    sent: bool,
) -> ApiError:
    return cls(
        status,
        endpoint,
        message,
        retryable=retryable,
        retry_after=retry_after,
        attempts=attempts,
        sent=sent,
    )
