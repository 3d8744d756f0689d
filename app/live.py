"""In-process fan-out of live events: to the chat widgets a customer has open, to agents' consoles."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

QUEUE_LIMIT = 100
K = TypeVar("K", bound=Hashable)


class LiveHub(Generic[K]):
    def __init__(self) -> None:
        self._subscribers: dict[K, set[asyncio.Queue]] = defaultdict(set)

    @contextmanager
    def subscribe(self, *keys: K) -> Iterator[asyncio.Queue]:
        queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_LIMIT)
        for key in keys:
            self._subscribers[key].add(queue)
        try:
            yield queue
        finally:
            for key in keys:
                self._subscribers[key].discard(queue)
                if not self._subscribers[key]:
                    del self._subscribers[key]

    def publish(self, key: K, event: Any) -> None:
        """Push to live subscribers; one too slow to keep up misses live events, not history."""
        for queue in self._subscribers.get(key, ()):
            if not queue.full():
                queue.put_nowait(event)
