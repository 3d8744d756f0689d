"""Webhook rate limits per client IP and per customer, so one flood cannot starve everyone else.

A request over a limit is refused with 429 and Retry-After before anything is stored: the
platform (or the shop's own client) sends it again later, so nothing is lost. The IP limit is
checked before the signature, so bogus floods cost little; the customer limit after parsing.
Counters live in memory (one instance, `LocalWindows`); a `redis://` storage URI shares them
across instances (the `limits` library's moving window).
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from adapters.base import Address

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Refusal:
    scope: str  # "ip" or "customer"
    limit: str
    retry_after: int  # seconds


class LocalWindows:
    """Moving windows in this process: per key, the times of its hits still inside the window.

    The same rule as `limits`' moving window at O(1) a hit. (Its asyncio memory storage re-scans
    every key, with a thread hop each, on every hit: most of the webhook's CPU under load.)
    """

    SWEEP_SECONDS = 10.0  # how often keys whose window emptied are forgotten

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[tuple[str, ...], tuple[float, deque[float]]] = {}  # key -> (window, hit times)
        self._next_sweep = clock() + self.SWEEP_SECONDS

    def hit(self, item: RateLimitItem, key: tuple[str, ...]) -> float | None:
        """Count a hit and return None, or refuse it: seconds until the oldest hit leaves the window."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        window = float(item.get_expiry())
        if (known := self._hits.get(key)) is None:  # not setdefault: it would build a deque on every hit
            known = self._hits[key] = (window, deque())
        hits = known[1]
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= item.amount:
            return hits[0] + window - now
        hits.append(now)
        return None

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self.SWEEP_SECONDS
        for key in [k for k, (window, hits) in self._hits.items() if not hits or hits[-1] <= now - window]:
            del self._hits[key]


class WebhookLimits:
    def __init__(
        self, per_ip: str | None, per_customer: str | None, storage_uri: str = "memory://", *, fail_open: bool = False
    ) -> None:
        self._fail_open = fail_open  # shared counters unreachable (Redis restarting): serve rather than refuse
        self._per_ip = parse(per_ip) if per_ip else None
        self._per_customer = parse(per_customer) if per_customer else None
        self._local = LocalWindows() if storage_uri == "memory://" else None
        self._limiter = None if self._local else _shared_limiter(storage_uri)

    async def check_ip(self, ip: str | None) -> Refusal | None:
        return await self._check(self._per_ip, "ip", ip or "unknown")

    async def check_customer(self, address: Address) -> Refusal | None:
        return await self._check(self._per_customer, "customer", address.channel, address.account, address.customer_id)

    async def _check(self, item: RateLimitItem | None, scope: str, *identity: str) -> Refusal | None:
        if item is None:
            return None
        if self._local is not None:
            wait = self._local.hit(item, (scope, *identity))
            return None if wait is None else Refusal(scope, str(item), max(1, math.ceil(wait)))
        try:
            if await self._limiter.hit(item, scope, *identity):
                return None
            stats = await self._limiter.get_window_stats(item, scope, *identity)
        except Exception as exc:  # the storage's own errors vary by driver
            if not self._fail_open:
                raise
            log.warning("rate limit not checked, storage unavailable: %s", type(exc).__name__)
            return None
        return Refusal(scope, str(item), max(1, math.ceil(stats.reset_time - time.time())))


def _shared_limiter(storage_uri: str) -> MovingWindowRateLimiter:
    uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"  # the asyncio driver
    options = {"implementation": "redispy"} if uri.startswith("async+redis") else {}  # redis-py, already here
    return MovingWindowRateLimiter(storage_from_string(uri, **options))
