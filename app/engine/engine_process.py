"""The conversation engine in a process of its own, on the machine's second core.

Deciding is most of what a message costs kefu (benchmarks/results/cpu_budget.md). At 1,000 msg/s
on one event loop, webhooks, decisions and timers took turns on a loop that was nearly always busy,
and each message waited for the ones before it. With `KEFU_ENGINE__PROCESS=true` the service keeps
the webhooks, the agents' and ops' APIs, the timers and the assigner, stores each message as
before, and starts this module as a child process (app/engine/child_process.py) that runs the
engine (app/engine/processing.py) against the same store. The messages table is the hand-over: a
message is committed before the child hears of it, and the child's start-up and sweep take over
whatever is unprocessed, so nothing is lost when either process dies.

Its lines, each a JSON array:
- to the child: the address of a conversation with a new message;
- from the child, what the engine's hooks do in the service, once each batch is committed:
  ["out", reply] (wake the outbox, push to open widgets), ["queued"] (wake the assigner),
  ["publish", key, event] (to the agents' consoles), ["handoff", address, conversation id, queue]
  (tell the platform); and about once a second ["counts", increases] and ["decided", seconds] for
  /metrics.
Lines written in one turn of a loop go out in one write.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import uvloop

from adapters.base import Address, OutboundMessage
from app import metrics
from app.collector import long_lived_process
from app.engine.child_process import REPORT_SECONDS, ChildProcess, CounterReport, add_counts, child_input
from app.engine.conversations import EngineHooks
from app.engine.processing import Processing
from app.knowledge import LiveKnowledge
from app.settings import Settings
from app.store.database import create_engine

log = logging.getLogger(__name__)

MODULE = "app.engine.engine_process"
COUNTERS = {  # what the engine counts, reported by the child
    "outcomes": metrics.FAQ_OUTCOMES,
    "answers": metrics.FAQ_ANSWERS,
    "handoffs": metrics.HANDOFFS,
    "ratings": metrics.SATISFACTION,
}


class Batched:
    """Lines to one pipe, written together at the end of the loop's turn."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self._lines: list[bytes] = []

    def send(self, *item: Any) -> None:
        if not self._lines:
            asyncio.get_running_loop().call_soon(self._flush)
        self._lines.append(json.dumps(item, ensure_ascii=False).encode() + b"\n")

    def _flush(self) -> None:
        lines, self._lines = self._lines, []
        self._write(b"".join(lines))


class EngineProcess:
    """The engine in a child process; `notify`, `start`, `resume` and `drain` as Processing's own.
    `hooks` are the service's: the child's events are acted on with them."""

    def __init__(self, settings: Settings, hooks: EngineHooks) -> None:
        self._hooks = hooks
        self._child = ChildProcess("engine process", MODULE, settings, self._on_line, metrics.ENGINE_PROCESS_EXITS)
        self._to_child = Batched(self._child.write)

    def notify(self, address: Address) -> None:
        self._to_child.send(address.channel, address.account, address.customer_id)

    def start(self) -> None:
        self._child.start()

    async def resume(self) -> None:
        """Nothing here: each child takes over the unprocessed messages when it starts."""

    async def drain(self, timeout: float) -> None:
        await self._child.drain(timeout)

    def _on_line(self, line: bytes) -> None:
        try:
            kind, *args = json.loads(line)
            action = self._action(kind, args)
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("engine process wrote a line that is not an event: %.200r", line)
            return
        try:
            action()
        except Exception:  # one of the service's hooks failed: the child's later lines still count
            log.exception("acting on the engine process's %s event failed", kind)

    def _action(self, kind: str, args: list) -> Callable[[], None]:
        """What the service does for the event; raises for one that is not well formed."""
        hooks = self._hooks
        if kind == "out":
            (fields,) = args
            reply = OutboundMessage(**{**fields, "address": Address(**fields["address"])})
            return lambda: hooks.on_outbound(reply)
        if kind == "queued" and not args:
            return hooks.on_queued
        if kind == "publish":
            key, event = args
            return lambda: hooks.publish(key, event)
        if kind == "handoff":
            address, conversation_id, queue = args
            return lambda: hooks.on_handoff(Address(*address), conversation_id, queue)
        if kind == "counts":
            (report,) = args
            return lambda: add_counts(COUNTERS, report)
        if kind == "decided":
            (times,) = args

            def observe() -> None:
                for seconds in times:
                    hooks.decided(seconds)

            return observe
        raise KeyError(kind)


class _Reports:
    """The child's counters and decision times since the last report."""

    def __init__(self, to_service: Batched) -> None:
        self._to_service = to_service
        self._counts = CounterReport(COUNTERS)
        self.decided: list[float] = []

    def send(self) -> None:
        if counts := self._counts.take():
            self._to_service.send("counts", counts)
        if self.decided:
            self._to_service.send("decided", [round(s, 6) for s in self.decided])
            self.decided.clear()

    async def every_second(self) -> None:
        while True:
            await asyncio.sleep(REPORT_SECONDS)
            self.send()


async def _child() -> None:
    stdin, settings = await child_input("engine process")
    loop = asyncio.get_running_loop()
    stdout, pipe = await loop.connect_write_pipe(_Pipe, sys.stdout.buffer)
    to_service = Batched(stdout.write)
    reports = _Reports(to_service)
    knowledge = LiveKnowledge.from_settings(settings)
    for files in (knowledge.faq, knowledge.routing):
        await files.load()
        files.watch()
    hooks = EngineHooks(
        knowledge_base=lambda: knowledge.faq.current,
        routing=knowledge.routing_now,
        on_outbound=lambda reply: to_service.send("out", reply_fields(reply)),
        on_queued=lambda: to_service.send("queued"),
        publish=lambda key, event: to_service.send("publish", key, event),
        on_handoff=lambda address, conversation_id, queue: to_service.send(
            "handoff", [address.channel, address.account, address.customer_id], conversation_id, queue
        ),
        decided=reports.decided.append,
    )
    db = create_engine(settings.database_url, checkpoint_on_commit=False)  # the service checkpoints
    processing = Processing(db, hooks, settings.engine)
    reporting = asyncio.create_task(reports.every_second())
    processing.start()
    try:
        await processing.resume()
    except Exception as exc:  # the store is down: the sweep takes them over once it is back
        log.error("engine process could not look for unprocessed messages: %s", type(exc).__name__)
    try:
        with long_lived_process():  # as the service's (app/main.py)
            while line := await stdin.readline():  # b"" at the end of input
                processing.notify(Address(*json.loads(line)))
    finally:
        await processing.drain(settings.engine.drain_seconds)
        reporting.cancel()
        reports.send()
        for files in (knowledge.faq, knowledge.routing):
            await files.close()
        await db.dispose()
        await asyncio.sleep(0)  # the last lines go to the pipe's buffer
        stdout.close()
        await pipe.closed  # once the buffer is written


_REPLY_FIELDS = tuple(f.name for f in fields(OutboundMessage))
_ADDRESS_FIELDS = tuple(f.name for f in fields(Address))


def reply_fields(reply: OutboundMessage) -> dict[str, Any]:
    """The reply as `dataclasses.asdict` gives it, built by hand: asdict copies every value in case
    it is a container, ten times the cost for these plain ones (about 9 µs a reply)."""
    out = {name: getattr(reply, name) for name in _REPLY_FIELDS}
    out["address"] = {name: getattr(reply.address, name) for name in _ADDRESS_FIELDS}
    return out


class _Pipe(asyncio.Protocol):
    def __init__(self) -> None:
        self.closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


if __name__ == "__main__":
    uvloop.run(_child())
