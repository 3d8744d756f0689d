"""Work on each conversation's pending messages one at a time, in arrival order; many conversations in parallel.

A conversation gets one worker task while it has pending messages. `notify` during a run marks
it to look again, so a message stored while the worker was finishing is never left behind (the
worker stops when `process_next` says nothing else waits, unless it was told to look again).

A message that keeps failing is parked after MAX_ATTEMPTS so its conversation goes on; but a
store that cannot be reached or written (down, restarting, locked, disk full) is no fault of the
message: those failures are waited out, however long, so an outage never parks a message unanswered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from adapters.base import Address
from app.engine.exclusive import ConversationBusy
from app.engine.outage import OutageLog, is_outage

log = logging.getLogger(__name__)

ProcessNext = Callable[[Address], Awaitable[bool]]  # handle the next message; True: another one waits
GiveUp = Callable[[Address, str], Awaitable[None]]

MAX_ATTEMPTS = 5
BUSY_RETRY_DELAYS = (0.02, 0.05, 0.1, 0.2, 0.4)  # seconds; about as long as a few messages take
OUTAGE_MAX_DELAY = 30.0  # seconds between tries while the store is unavailable


class Dispatcher:
    def __init__(self, process_next: ProcessNext, give_up: GiveUp, *, workers: int, retry_delay: float = 0.5) -> None:
        self._process_next = process_next
        self._give_up = give_up
        self._slots = asyncio.Semaphore(max(workers, 1))
        self._enabled = workers > 0
        self._retry_delay = retry_delay
        self._running: dict[Address, asyncio.Task] = {}
        self._look_again: set[Address] = set()
        self._closing = False
        self._outage = OutageLog(log, "processing (store unavailable)")

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def notify(self, address: Address) -> None:
        if self._closing or not self._enabled:
            return
        if address in self._running:
            self._look_again.add(address)
            return
        self._running[address] = asyncio.create_task(self._work(address), name=f"conversation {address}")

    async def _work(self, address: Address) -> None:
        try:
            async with self._slots:
                while not self._closing:
                    if await self._attempt(address):
                        continue
                    if address not in self._look_again:
                        break
                    self._look_again.discard(address)
        finally:
            self._running.pop(address, None)
            self._look_again.discard(address)

    async def _attempt(self, address: Address) -> bool:
        """Process one message, retrying failures; after MAX_ATTEMPTS park it as failed and move on."""
        attempt, outage_wait, error = 0, self._retry_delay, ""
        while attempt < MAX_ATTEMPTS:
            try:
                found = await self._process_next(address)
            except ConversationBusy:
                return await self._wait_for_other_instance(address)
            except Exception as exc:  # a bug or an outage must not stop the other conversations
                if self._closing:
                    return False
                if is_outage(exc):
                    self._outage.failed()
                    await asyncio.sleep(outage_wait)
                    outage_wait = min(outage_wait * 2, OUTAGE_MAX_DELAY)
                    continue
                attempt += 1
                log.exception("processing %s failed (attempt %d/%d)", address.channel, attempt, MAX_ATTEMPTS)
                error = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(self._retry_delay * 2 ** (attempt - 1))
            else:
                self._outage.worked()
                return found
        await self._give_up(address, error)
        return True

    async def _wait_for_other_instance(self, address: Address) -> bool:
        """Another instance is on this conversation: try again a few times, then leave it to that instance.

        Its worker loops until nothing is pending, and the sweeper takes over anything left behind.
        """
        for delay in BUSY_RETRY_DELAYS:
            await asyncio.sleep(delay)
            if self._closing:
                return False
            try:
                return await self._process_next(address)
            except ConversationBusy:
                continue
        return False

    async def drain(self, timeout: float) -> None:
        """Stop starting work and let in-flight messages finish; the rest resumes after restart."""
        self._closing = True
        tasks = list(self._running.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
