"""In-process fan-out of outbound messages to the chat widgets a customer has open."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from adapters.base import Address, OutboundMessage

QUEUE_LIMIT = 100


class LiveHub:
    def __init__(self) -> None:
        self._subscribers: dict[Address, set[asyncio.Queue]] = defaultdict(set)

    @contextmanager
    def subscribe(self, address: Address) -> Iterator[asyncio.Queue]:
        queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self._subscribers[address].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[address].discard(queue)
            if not self._subscribers[address]:
                del self._subscribers[address]

    def publish(self, message: OutboundMessage) -> None:
        """Push to open widgets; a widget too slow to keep up misses live events, not history."""
        for queue in self._subscribers.get(message.address, ()):
            if not queue.full():
                queue.put_nowait(message)
