"""The conversation engine behind its dispatcher, and the sweep that takes over messages left waiting.

The same whole runs in the service's process, or in the engine process
(app/engine/engine_process.py) with hooks that pass its events to the service.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.base import Address
from app.engine.conversations import ConversationEngine, EngineHooks
from app.engine.dispatcher import Dispatcher
from app.settings import EngineSettings
from app.store.database import session_factory
from app.store.tables import Message, utcnow

log = logging.getLogger(__name__)


class Processing:
    """`notify(address)` after a message is stored; `start`, `resume` once; `drain` at the end."""

    def __init__(self, db: AsyncEngine, hooks: EngineHooks, settings: EngineSettings) -> None:
        self._sessions = session_factory(db)
        self._settings = settings
        engine = ConversationEngine(db, hooks, batch_size=settings.batch_size)
        self.dispatcher = Dispatcher(engine.process_next, engine.give_up, workers=settings.workers)
        self._sweeper: asyncio.Task | None = None

    def notify(self, address: Address) -> None:
        self.dispatcher.notify(address)

    def start(self) -> None:
        if self._settings.workers > 0:  # an ingest-only instance leaves its messages to others
            self._sweeper = asyncio.create_task(self._sweep(), name="unprocessed-message sweeper")

    async def resume(self) -> None:
        """Messages stored but never processed (a crash, here or in another instance) are picked up, in order.
        Raises when the store is unavailable: the sweeper tries again."""
        if self._settings.workers > 0:
            await self._resume_pending()

    async def drain(self, timeout: float) -> None:
        """Stop starting work and let in-flight messages finish; the rest resumes after restart."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        await self.dispatcher.drain(timeout)

    async def _resume_pending(self, *, older_than: timedelta = timedelta(0)) -> None:
        cutoff = utcnow() - older_than
        async with self._sessions() as session:
            rows = (await session.execute(UNPROCESSED)).all()
        addresses = list(dict.fromkeys(Address(*row[:3]) for row in rows if row.created_at <= cutoff))
        for address in addresses:
            self.dispatcher.notify(address)
        if addresses:
            log.info("resuming %d conversations with unprocessed messages", len(addresses))

    async def _sweep(self) -> None:
        """Every few seconds, take over messages left waiting: their instance died or was busy."""
        every = self._settings.sweep_seconds
        while True:
            await asyncio.sleep(every)
            try:
                await self._resume_pending(older_than=timedelta(seconds=every))
            except Exception as exc:  # the store is down: the next sweep tries again
                log.warning("sweep for unprocessed messages failed: %s", type(exc).__name__)


# Read through the partial pending index, which holds only the unprocessed messages. The age is
# checked here, not in SQL: with `created_at <= ?` SQLite walks the created_at index over every
# message ever stored, every sweep, holding the store's one connection; DISTINCT would make it read
# every message too. tests/app/test_sweep_query.py checks the plan.
UNPROCESSED = select(Message.channel, Message.account, Message.customer_id, Message.created_at).where(
    Message.direction == "in", Message.processed_at.is_(None)
)
