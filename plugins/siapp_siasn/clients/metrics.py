"""Counters of one API client run, reported as a plain JSON-able dict for lineage.

Only endpoint templates, statuses and numbers are kept: no URL, no parameter value.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from typing import Any

__all__ = ["ClientMetrics", "LatencyHistogram"]

# Log-spaced buckets: ratio 1.05 between bounds from 0.1 ms to ~10 min. A percentile read from
# a bucket is within 5 % of the true value; memory is constant whatever the number of calls.
_RATIO = 1.05
_MIN_MS = 0.1
_NBUCKETS = int(math.log(600_000 / _MIN_MS, _RATIO)) + 2
# Coarse bounds reported in the lineage dict (ms).
_REPORT_BOUNDS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


class LatencyHistogram:
    """Constant-memory latency histogram with approximate percentiles (≤ 5 % relative error)."""

    __slots__ = ("_buckets", "count", "max_ms", "min_ms", "total_ms")

    def __init__(self) -> None:
        self._buckets = [0] * _NBUCKETS
        self.count = 0
        self.total_ms = 0.0
        self.max_ms = 0.0
        self.min_ms = math.inf

    def add(self, ms: float) -> None:
        """Record one latency, in milliseconds."""
        ms = max(ms, 0.0)
        idx = 0 if ms <= _MIN_MS else min(_NBUCKETS - 1, int(math.log(ms / _MIN_MS, _RATIO)) + 1)
        self._buckets[idx] += 1
        self.count += 1
        self.total_ms += ms
        self.max_ms = max(self.max_ms, ms)
        self.min_ms = min(self.min_ms, ms)

    def percentile(self, q: float) -> float:
        """Approximate ``q``-th percentile (0–100) in ms; 0.0 when empty."""
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(self.count * q / 100.0))
        seen = 0
        for idx, n in enumerate(self._buckets):
            seen += n
            if seen >= rank:
                upper = _MIN_MS * _RATIO**idx
                return min(upper, self.max_ms)
        return self.max_ms

    def coarse(self) -> dict[str, int]:
        """Counts per coarse bucket (``le_<ms>`` cumulative-free, plus ``gt_30000``)."""
        out: dict[str, int] = {}
        bounds = list(_REPORT_BOUNDS)
        counts = [0] * (len(bounds) + 1)
        for idx, n in enumerate(self._buckets):
            if not n:
                continue
            upper = _MIN_MS * _RATIO**idx
            pos = next((i for i, b in enumerate(bounds) if upper <= b), len(bounds))
            counts[pos] += n
        for b, c in zip(bounds, counts, strict=False):
            out[f"le_{b}ms"] = c
        out[f"gt_{bounds[-1]}ms"] = counts[-1]
        return out

    def summary(self) -> dict[str, float]:
        """Percentiles, mean, min and max in ms, rounded for the lineage record."""
        if not self.count:
            return {"count": 0}
        return {
            "count": self.count,
            "p50": round(self.percentile(50), 2),
            "p90": round(self.percentile(90), 2),
            "p95": round(self.percentile(95), 2),
            "p99": round(self.percentile(99), 2),
            "mean": round(self.total_ms / self.count, 2),
            "min": round(self.min_ms, 2),
            "max": round(self.max_ms, 2),
        }


class ClientMetrics:
    """What one client did: requests, retries, statuses, throttling, tokens, bytes, latency."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = time.monotonic()
        self.requests = 0  # attempts actually sent (retries included, token calls excluded)
        self.calls = 0  # logical calls (one per request() whatever the retries)
        self.retries = 0
        self.failures = 0  # logical calls that ended in an error
        self.status: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()  # connection, timeout, truncated, ...
        self.throttled_429 = 0
        self.unauthorized_401 = 0
        self.token_refreshes: Counter[str] = Counter()
        self.bytes_in = 0
        self.bytes_out = 0
        self.retry_wait_s = 0.0
        self.pagination: Counter[str] = Counter()  # pages, duplicates dropped, refetches
        self.latency = LatencyHistogram()
        self.per_endpoint: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.endpoint_latency: defaultdict[str, LatencyHistogram] = defaultdict(LatencyHistogram)

    def record_response(
        self, method: str, endpoint: str, status: int, latency_ms: float, nbytes: int
    ) -> None:
        """Count one answered attempt."""
        key = f"{method} {endpoint}"
        self.requests += 1
        self.status[status] += 1
        self.bytes_in += nbytes
        self.latency.add(latency_ms)
        self.endpoint_latency[key].add(latency_ms)
        self.per_endpoint[key]["requests"] += 1
        self.per_endpoint[key][str(status)] += 1
        if status == 429:
            self.throttled_429 += 1
        elif status == 401:
            self.unauthorized_401 += 1

    def record_error(self, method: str, endpoint: str, kind: str) -> None:
        """Count one attempt that got no usable answer (``kind``: connection, timeout, ...)."""
        key = f"{method} {endpoint}"
        self.requests += 1
        self.errors[kind] += 1
        self.per_endpoint[key]["requests"] += 1
        self.per_endpoint[key][kind] += 1

    def as_dict(self, limiter: dict[str, Any] | None = None) -> dict[str, Any]:
        """Plain JSON-able snapshot (no personal data: templates and numbers only)."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        endpoints = {}
        for key, counts in sorted(self.per_endpoint.items()):
            entry: dict[str, Any] = dict(sorted(counts.items()))
            hist = self.endpoint_latency.get(key)
            if hist is not None and hist.count:
                entry["p50_ms"] = round(hist.percentile(50), 2)
                entry["p99_ms"] = round(hist.percentile(99), 2)
            endpoints[key] = entry
        out: dict[str, Any] = {
            "client": self.name,
            "calls": self.calls,
            "requests": self.requests,
            "retries": self.retries,
            "failures": self.failures,
            "status": {str(k): v for k, v in sorted(self.status.items())},
            "errors": dict(sorted(self.errors.items())),
            "throttled_429": self.throttled_429,
            "unauthorized_401": self.unauthorized_401,
            "token_refreshes": dict(sorted(self.token_refreshes.items())),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "retry_wait_s": round(self.retry_wait_s, 3),
            "pagination": dict(sorted(self.pagination.items())),
            "elapsed_s": round(elapsed, 3),
            "rate_rps": round(self.requests / elapsed, 1),
            "latency_ms": self.latency.summary(),
            "latency_histogram": self.latency.coarse(),
            "endpoints": endpoints,
        }
        if limiter is not None:
            out["limiter"] = limiter
        return out
