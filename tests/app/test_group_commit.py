"""Group commit: callers arriving during a write share the next one; failures land on the right callers."""

from __future__ import annotations

import asyncio

from app.engine.group_commit import GroupCommit


class Writer:
    """Writes items to a list, slowly enough for callers to arrive meanwhile; refuses "bad" ones."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.written: list[str] = []

    async def __call__(self, items: list[str]) -> list[str]:
        self.batches.append(items)
        await asyncio.sleep(0.01)
        if "bad" in items:
            raise ValueError("bad item")
        self.written += items
        return [item.upper() for item in items]


def group(writer: Writer) -> GroupCommit[str, str]:
    return GroupCommit(writer, fails_all=lambda exc: False, batch_size=10, name="test writer")


async def test_callers_arriving_during_a_write_share_the_next_one():
    writer = Writer()
    writes = group(writer)
    first = asyncio.create_task(writes.submit("a"))
    await asyncio.sleep(0.001)  # the first write has started with "a" alone

    results = await asyncio.gather(first, *(writes.submit(item) for item in "bcd"))

    assert results == ["A", "B", "C", "D"]
    assert writer.batches == [["a"], ["b", "c", "d"]]


async def test_an_item_that_fails_its_batch_fails_alone():
    writer = Writer()
    writes = group(writer)

    results = await asyncio.gather(*(writes.submit(item) for item in ["a", "bad", "c"]), return_exceptions=True)

    assert results[0] == "A" and results[2] == "C"
    assert isinstance(results[1], ValueError)
    assert writer.written == ["a", "c"]


async def test_a_caller_that_gives_up_leaves_its_neighbours_batch_alone():
    writer = Writer()
    writes = group(writer)
    impatient = asyncio.create_task(writes.submit("a"))
    patient = asyncio.create_task(writes.submit("b"))
    await asyncio.sleep(0.001)  # both are in the write now running

    impatient.cancel()

    assert await patient == "B"
    assert impatient.cancelled()
    assert writer.written == ["a", "b"]  # what was being written when its caller left is written all the same
    assert await writes.submit("c") == "C"  # and the writer carries on


async def test_what_a_write_scheduled_runs_before_the_next_write_starts():
    """A write that never waits (SQLite called in place) must not hold back what its commit set off."""
    events: list[str] = []

    async def write(items: list[str]) -> list[str]:
        events.append(f"write {items}")
        asyncio.get_running_loop().call_soon(events.append, f"after {items}")  # as the engine's lines to the service
        return items

    writes = GroupCommit(write, fails_all=lambda exc: False, batch_size=1, name="test writer")
    await asyncio.gather(writes.submit("a"), writes.submit("b"))

    assert events == ["write ['a']", "after ['a']", "write ['b']", "after ['b']"]
