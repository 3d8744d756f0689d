"""What several kefu instances share through Redis: live events, and which one runs the timers.

Embedded mode (no `KEFU_REDIS_URL`) uses the in-process versions: one instance is always the
leader and events stay in the process. Redis carries nothing that must not be lost: an event
missed during an outage is only a live push (the store has the history), and the timers wait
until a leader is known again. Per-conversation order and the outbox are kept by the database
(see app/engine/conversations.py and app/engine/outbox.py), so a Redis restart loses no message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Hashable
from dataclasses import asdict
from typing import Any, Generic, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.base import Address, OutboundMessage
from app.live import LiveHub

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)

# Keep the lease if it is ours (and extend it), or take it if nobody holds it.
_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not holder then return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) and 1 or 0 end
return 0
"""


class Lease:
    """A named lease in Redis that one instance holds at a time, kept by taking it again in time.

    `take` raises RedisError: whether an unknown holder means "wait" or "go on" is the caller's call.
    """

    def __init__(self, redis: Redis, key: str, *, owner: str, seconds: float) -> None:
        self.key = key
        self._owner = owner
        self._ms = int(seconds * 1000)
        self._script = redis.register_script(_LEASE)
        self._redis = redis

    async def take(self) -> bool:
        """Take the lease, or extend it if this instance holds it; False while another does."""
        return bool(await self._script(keys=[self.key], args=[self._owner, self._ms]))

    async def release(self) -> None:
        with contextlib.suppress(RedisError):
            if await self._redis.get(self.key) == self._owner.encode():
                await self._redis.delete(self.key)


class Leadership:
    """One instance at a time runs the queue timers (notices, re-queues, overflow, idle closes)."""

    def __init__(self, redis: Redis | None, *, key: str = "kefu:leader:timers", lease_seconds: float = 5.0) -> None:
        self.instance = uuid.uuid4().hex
        self._redis = redis
        self._lease = Lease(redis, key, owner=self.instance, seconds=lease_seconds) if redis is not None else None

    async def holds(self) -> bool:
        """True when this instance leads now (asked every tick, well within the lease)."""
        if self._lease is None:
            return True
        try:
            return await self._lease.take()
        except RedisError as exc:
            log.warning("leader lease unknown (%s): timers wait", type(exc).__name__)
            return False

    async def resign(self) -> None:
        if self._lease is not None:
            await self._lease.release()

    def lease(self, key: str, seconds: float) -> Lease | None:
        """Another lease owned by this instance (None in embedded mode, where there is one instance)."""
        if self._redis is None:
            return None
        return Lease(self._redis, key, owner=self.instance, seconds=seconds)


class SharedLiveHub(LiveHub[K], Generic[K]):
    """A LiveHub whose events reach the subscribers of every instance, through Redis pub/sub.

    `encode`/`decode` turn (key, event) into JSON and back, since keys and events are objects.
    """

    def __init__(
        self,
        redis: Redis,
        channel: str,
        encode: Callable[[K, Any], dict],
        decode: Callable[[dict], tuple[K, Any]],
    ) -> None:
        super().__init__()
        self._redis = redis
        self._channel = channel
        self._encode = encode
        self._decode = decode
        self._outgoing: asyncio.Queue[tuple[K, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []

    def publish(self, key: K, event: Any) -> None:
        self._outgoing.put_nowait((key, event))  # one sender, so events keep their order

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._send(), name=f"live events to {self._channel}"),
            asyncio.create_task(self._listen(), name=f"live events from {self._channel}"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _send(self) -> None:
        while True:
            key, event = await self._outgoing.get()
            try:
                await self._redis.publish(self._channel, json.dumps(self._encode(key, event), ensure_ascii=False))
            except RedisError as exc:  # this instance's own subscribers still hear it
                log.warning("live event not shared (%s): delivered locally only", type(exc).__name__)
                super().publish(key, event)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            key, event = self._decode(json.loads(message["data"]))
                            super().publish(key, event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting: listen again shortly
                log.warning("live events from %s interrupted (%s); resubscribing", self._channel, type(exc).__name__)
                await asyncio.sleep(0.5)


def live_hubs(redis: Redis | None) -> tuple[LiveHub[Address], LiveHub[str]]:
    """The customers' widget pushes and the agents' console events: in process, or shared through Redis."""
    if redis is None:
        return LiveHub(), LiveHub()
    replies = SharedLiveHub(redis, "kefu:live:replies", _encode_reply, _decode_reply)
    events = SharedLiveHub(redis, "kefu:live:agents", lambda key, event: {"key": key, "event": event}, _decode_event)
    return replies, events


def _encode_reply(address: Address, message: OutboundMessage) -> dict:
    return asdict(message)  # the message carries its address


def _decode_reply(data: dict) -> tuple[Address, OutboundMessage]:
    address = Address(**data.pop("address"))
    return address, OutboundMessage(address=address, **data)


def _decode_event(data: dict) -> tuple[str, dict]:
    return data["key"], data["event"]
