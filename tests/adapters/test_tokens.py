"""The shared platform-token cache: one fetch for many sends, refetched near expiry or when rejected."""

from __future__ import annotations

import asyncio

from adapters.tokens import MARGIN_SECONDS, CachedToken


class Platform:
    def __init__(self) -> None:
        self.fetches = 0
        self.now = 1_000.0

    async def fetch(self) -> tuple[str, float]:
        self.fetches += 1
        await asyncio.sleep(0)
        return f"token-{self.fetches}", 7200


async def test_concurrent_callers_share_one_fetch():
    platform = Platform()
    tokens = CachedToken(platform.fetch, clock=lambda: platform.now)
    assert set(await asyncio.gather(*(tokens.get() for _ in range(5)))) == {"token-1"}
    assert platform.fetches == 1


async def test_a_token_is_refetched_shortly_before_it_expires():
    platform = Platform()
    tokens = CachedToken(platform.fetch, clock=lambda: platform.now)
    await tokens.get()
    platform.now += 7200 - MARGIN_SECONDS
    assert await tokens.get() == "token-2"


async def test_a_rejected_token_is_replaced_once_however_many_callers_saw_it():
    platform = Platform()
    tokens = CachedToken(platform.fetch, clock=lambda: platform.now)
    stale = await tokens.get()
    assert {await tokens.get(stale=stale), await tokens.get(stale=stale)} == {"token-2"}
    assert platform.fetches == 2
