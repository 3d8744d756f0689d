"""A platform's access token, fetched on demand and kept until shortly before it expires.

WeChat, Feishu and most IM platforms hand out tokens valid for about two hours and limit how
often they may be fetched; every send shares one cached token, one fetch at a time, and a token
the platform rejects is replaced once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Fetch = Callable[[], Awaitable[tuple[str, float]]]  # -> (token, seconds it stays valid)
MARGIN_SECONDS = 300  # refetch this long before the platform's expiry


class CachedToken:
    def __init__(self, fetch: Fetch, *, clock: Callable[[], float] = time.time) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self, *, stale: str | None = None) -> str:
        """The cached token, fetched when missing, near expiry or rejected by the platform as `stale`."""
        async with self._lock:
            if self._token is None or self._token == stale or self._clock() >= self._expires_at:
                self._token, valid_for = await self._fetch()
                self._expires_at = self._clock() + valid_for - MARGIN_SECONDS
            return self._token
