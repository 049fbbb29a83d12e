"""Client-side rate limiter shared by every request of one client (GCRA, adaptive on 429).

Pacing is GCRA (the "generic cell rate algorithm", a token bucket written as one timestamp):
each acquisition reserves the next emission slot ``tat`` and sleeps until ``tat - tau``.
Reservations are taken without awaiting, so they are ordered on one event loop and, while
callers are waiting, the limiter delivers its rate. It paces ``headroom`` (2 %) below the
configured rate, and a hard ceiling backs it: no acquisition passes while ``rate × window``
already passed within the last ``window`` (1 s). GCRA alone lets callers catch up after the
event loop stalled (a busy machine, a long callback), which shows the server a burst; the ceiling
makes "at most ``rate`` requests in any one-second window" hold exactly for the release times,
and the headroom leaves room for jitter on the way to the server.

Every 429 goes to :meth:`RateLimiter.penalize`. Sporadic 429s (under 5 % of the answers of the
last second, or too few answers to judge) only delay the request that got them (it waits its
``Retry-After``). When throttling is substantial the server is the bottleneck: the rate drops to
just below what it accepted (non-429 answers) during the last second, at most once per second,
and climbs back additively (10 % of the target per second).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["RateLimiter"]


class RateLimiter:
    """Adaptive GCRA limiter.

    :param rate: target requests per second; ``None`` means no client-side ceiling (the limiter
        still slows down after a 429, starting from the rate observed then).
    :param burst: how many requests may pass back to back (1 = strictly paced).
    :param decrease: factor applied to the current rate on a penalty when the server accepted
        nothing during the last second.
    :param accepted_margin: on a penalty, pace at this fraction of the rate the server accepted.
    :param throttle_threshold: share of 429s among the last second's answers from which a 429
        lowers the rate (below it, 429s are sporadic).
    :param min_sample: answers needed in the last second to judge that share.
    :param recovery_per_s: fraction of the target (or of the pre-penalty rate) regained per
        second without a 429.
    :param min_rate: floor, requests per second.
    :param headroom: pace this fraction below ``rate`` (absorbs wake-up and network jitter).
    :param window: the hard ceiling's window in seconds: never more than
        ``rate * window + burst - 1`` acquisitions within any ``window``.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        burst: int = 1,
        decrease: float = 0.5,
        accepted_margin: float = 0.98,
        throttle_threshold: float = 0.05,
        min_sample: int = 20,
        recovery_per_s: float = 0.1,
        min_rate: float = 1.0,
        headroom: float = 0.02,
        window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive or None")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        self.target = rate
        self.burst = burst
        self.decrease = decrease
        self.accepted_margin = accepted_margin
        self.throttle_threshold = throttle_threshold
        self.min_sample = min_sample
        self.recovery_per_s = recovery_per_s
        self.min_rate = min_rate
        if not 0.0 <= headroom < 0.5:
            raise ValueError("headroom must be in [0, 0.5)")
        self.headroom = headroom
        self.window = window
        self._releases: deque[float] = deque()  # recent release times (hard ceiling)
        self._clock = clock
        self._tat = -math.inf
        self._reduced: float | None = None  # rate right after the last penalty
        self._ceiling: float | None = None  # rate to climb back to
        self._penalized_at = -math.inf
        self._recent: deque[float] = deque()  # release times in the last second (unlimited mode)
        self._accepted: deque[float] = deque()  # times of answers other than 429, last second
        self._throttled: deque[float] = deque()  # times of 429 answers, last second
        self.acquired = 0
        self.penalties = 0
        self.waited_s = 0.0

    def current_rate(self, now: float | None = None) -> float | None:
        """The rate in force now (``None``: unlimited)."""
        if self._reduced is None:
            return self.target
        now = self._clock() if now is None else now
        ceiling = self._ceiling if self._ceiling is not None else math.inf
        climb = (now - self._penalized_at) * self.recovery_per_s * ceiling
        rate = self._reduced + climb
        if rate >= ceiling:
            self._reduced = None
            self._ceiling = None
            return self.target
        return rate

    async def acquire(self) -> None:
        """Wait for the next slot."""
        now = self._clock()
        rate = self.current_rate(now)
        self.acquired += 1
        if rate is None:
            recent = self._recent
            recent.append(now)
            while recent and recent[0] < now - 1.0:
                recent.popleft()
            return
        interval = 1.0 / (rate * (1.0 - self.headroom))
        tau = (self.burst - 1) * interval
        tat = max(self._tat, now)
        wait = tat - tau - now
        self._tat = tat + interval
        if wait > 0:
            self.waited_s += wait
            await asyncio.sleep(wait)
        # Hard ceiling over the window (re-read the rate: a 429 may have lowered it meanwhile).
        releases = self._releases
        while True:
            now = self._clock()
            current = self.current_rate(now)
            if current is None:
                break
            cap = max(1, int(current * self.window)) + self.burst - 1
            while len(releases) > cap:
                releases.popleft()
            if len(releases) < cap or now - releases[0] >= self.window:
                break
            delay = releases[0] + self.window - now
            self.waited_s += delay
            await asyncio.sleep(delay)
        releases.append(self._clock())

    def record_accepted(self) -> None:
        """The server answered without throttling (any status but 429)."""
        now = self._clock()
        self._accepted.append(now)
        self._trim(self._accepted, now)

    @staticmethod
    def _trim(times: deque[float], now: float) -> int:
        while times and times[0] < now - 1.0:
            times.popleft()
        return len(times)

    def penalize(self, retry_after: float | None = None) -> bool:
        """Count a 429; lower the rate when throttling is substantial. Returns whether it did.

        Lowered to ``accepted_margin`` times the lower of the rate in force and the rate the
        server accepted during the last second (``decrease`` times the rate in force when it
        accepted nothing). Penalties closer than one second (or than ``retry_after``, if
        shorter) to the previous one belong to the same congestion episode and are ignored.
        """
        now = self._clock()
        self._throttled.append(now)
        throttled = self._trim(self._throttled, now)
        accepted_n = self._trim(self._accepted, now)
        answers = throttled + accepted_n
        if answers < self.min_sample or throttled / answers < self.throttle_threshold:
            return False  # sporadic: the request waits its Retry-After, the pace stays
        episode = 1.0 if retry_after is None else max(0.2, min(1.0, retry_after))
        if now - self._penalized_at < episode:
            return False
        current = self.current_rate(now)
        if current is None:
            # No ceiling configured: start from what we were actually sending.
            observed = float(self._trim(self._recent, now))
            current = max(observed, self.min_rate)
            self._ceiling = current
        elif self._ceiling is None:
            self._ceiling = self.target
        if accepted_n:
            # accepted per second over the span the window's answers actually cover
            span = max(now - min(self._accepted[0], self._throttled[0]), 0.05)
            reduced = min(current, accepted_n / span) * self.accepted_margin
        else:
            reduced = current * self.decrease
        self._reduced = max(self.min_rate, reduced)
        self._penalized_at = now
        self.penalties += 1
        return True

    def stats(self) -> dict[str, Any]:
        """JSON-able snapshot for the lineage record."""
        cur = self.current_rate()
        return {
            "configured_rps": self.target,
            "current_rps": None if cur is None else round(cur, 1),
            "acquired": self.acquired,
            "penalties": self.penalties,
            "waited_s": round(self.waited_s, 3),
        }
