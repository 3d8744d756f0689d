"""Group commit: callers arriving while a transaction runs are served together by the next one.

The first caller starts a write at once; those arriving while it runs wait for the next write,
which takes them all (up to `batch_size`); the event loop gets a turn between two writes. Under
load a transaction per caller becomes one per batch, and its fixed costs (a connection, BEGIN,
COMMIT, each statement's set-up) are shared; alone, a caller is served as soon as it comes. The
writer says what became of each item (a result, or the exception that item's caller gets). If
the whole write raises, `fails_all` says whether every item shares the failure (the database is
down) or one item caused it: then each is written again on its own, so the bad one fails alone
and its neighbours go through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
Writer = Callable[[list[Item]], Awaitable[Sequence[Result | Exception]]]  # one outcome per item, in order


class GroupCommit(Generic[Item, Result]):
    def __init__(self, write: Writer, *, fails_all: Callable[[Exception], bool], batch_size: int, name: str) -> None:
        self._write = write
        self._fails_all = fails_all
        self._batch_size = max(batch_size, 1)
        self._name = name
        self._waiting: list[tuple[Item, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def submit(self, item: Item) -> Result:
        """The item's outcome once its batch is committed; its exception raised here."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._run(), name=self._name)
        # A caller that gives up cancels only its own future: the batch is the writer task's, not its.
        return await future

    async def _run(self) -> None:
        batch: list[tuple[Item, asyncio.Future]] = []
        try:
            while self._waiting:
                batch = self._waiting[: self._batch_size]
                del self._waiting[: self._batch_size]
                outcomes = await self._outcomes([item for item, _ in batch])
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller gave up
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
                # The loop's turn before the next write: a write that does not wait for anything (SQLite
                # called in place) would otherwise start the next batch at once, and what this batch's
                # commit scheduled (the engine's lines telling the service of its replies) would wait
                # for that one too: at 1,000 msg/s, 10-33 ms of each reply's median path (ad hoc).
                await asyncio.sleep(0)
        finally:  # cancelled (shutdown): nobody waits forever for a write that will not happen
            for _, future in batch + self._waiting:
                if not future.done():
                    future.set_exception(ConnectionError("kefu is stopping"))
            self._waiting.clear()

    async def _outcomes(self, items: list[Item]) -> Sequence[Result | Exception]:
        try:
            return await self._write(items)
        except Exception as exc:
            if len(items) == 1 or self._fails_all(exc):
                return [exc] * len(items)
            return [await self._alone(item) for item in items]

    async def _alone(self, item: Item) -> Result | Exception:
        try:
            return (await self._write([item]))[0]
        except Exception as exc:
            return exc
