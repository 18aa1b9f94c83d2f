"""A per-identity token bucket (spec §8.2 ``rateLimit``): N requests a minute, in bursts of up to N.

Each key (a user id) has a bucket that holds at most ``burst`` tokens and refills continuously at
``per_minute / 60`` tokens a second. A request takes one token; with the bucket empty it is
refused, and :attr:`RateDecision.retry_after` says how long until a token is back. Unlike the
spec's fixed window, a bucket never lets ``2 N`` requests through around a window boundary: over
any interval of ``t`` seconds at most ``burst + t * per_minute / 60`` requests pass.

Examples
--------
>>> clock = iter([0.0, 0.0, 0.0, 30.0]).__next__
>>> limiter = RateLimiter(per_minute=2, clock=clock)
>>> [limiter.check("ana").allowed for _ in range(3)]
[True, True, False]
>>> limiter.check("ana")  # 30 s later, one token is back
RateDecision(allowed=True, remaining=0, retry_after=0.0)
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from auterity_lab.errors import ConfigError

_EPSILON = 1e-9
_PRUNE_AT = 4096
"""Buckets kept before full (hence forgettable) ones are dropped."""


@dataclass(frozen=True)
class RateDecision:
    """Whether one request passes, the whole tokens left, and seconds until the next one would."""

    allowed: bool
    remaining: int
    retry_after: float

    @property
    def retry_after_header(self) -> str:
        """``Retry-After`` in whole seconds, rounded up (at least 1 when refused).

        Examples
        --------
        >>> RateDecision(False, 0, 0.2).retry_after_header
        '1'
        """
        return str(max(1, math.ceil(self.retry_after))) if not self.allowed else "0"


class RateLimiter:
    """Token buckets, one per key; thread-safe.

    Parameters
    ----------
    per_minute
        Sustained requests a minute per key (``settings.rate_limit_per_minute``).
    burst
        Most requests a key may make at once (default: ``per_minute``).
    clock
        Seconds on a monotonic clock (tests pass a fake one).

    Examples
    --------
    >>> RateLimiter(per_minute=60).check("bo").remaining
    59
    """

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(per_minute, bool) or not isinstance(per_minute, int) or per_minute < 1:
            raise ConfigError(f"per_minute must be a positive integer, not {per_minute!r}")
        burst = per_minute if burst is None else burst
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ConfigError(f"burst must be a positive integer, not {burst!r}")
        self.per_minute = per_minute
        self.burst = burst
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def check(self, key: str) -> RateDecision:
        """Take one token from ``key``'s bucket if there is one."""
        with self._lock:
            now = self._clock()
            tokens = self._tokens(key, now)
            if tokens >= 1.0 - _EPSILON:  # a client exactly on schedule is not refused by rounding
                left = max(0.0, tokens - 1.0)
                self._buckets[key] = (left, now)
                if len(self._buckets) > _PRUNE_AT:
                    self._prune(now)
                return RateDecision(True, int(left + _EPSILON), 0.0)
            self._buckets[key] = (tokens, now)
            return RateDecision(False, 0, (1.0 - tokens) / self._rate)

    def peek(self, key: str) -> float:
        """Tokens ``key`` has now, without taking one.

        Examples
        --------
        >>> RateLimiter(per_minute=5).peek("new")
        5.0
        """
        with self._lock:
            return self._tokens(key, self._clock())

    def _tokens(self, key: str, now: float) -> float:
        if key not in self._buckets:
            return float(self.burst)
        tokens, at = self._buckets[key]
        return min(float(self.burst), tokens + max(0.0, now - at) * self._rate)

    def _prune(self, now: float) -> None:
        full = [k for k in self._buckets if self._tokens(k, now) >= self.burst]
        for key in full:
            del self._buckets[key]
