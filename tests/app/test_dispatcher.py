"""The dispatcher: one message at a time per conversation, conversations in parallel, nothing left behind."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque

from sqlalchemy.exc import OperationalError

from adapters.base import Address
from app.engine.dispatcher import MAX_ATTEMPTS, Dispatcher


class FakeInbox:
    """Pending messages per address, standing in for the messages table."""

    def __init__(self) -> None:
        self.pending: dict[Address, deque[str]] = defaultdict(deque)
        self.handled: list[tuple[Address, str]] = []
        self.active: set[Address] = set()
        self.max_parallel = 0
        self.overlap = False
        self.given_up: list[tuple[Address, str]] = []

    async def process_next(self, address: Address) -> bool:
        if address in self.active:
            self.overlap = True
        if not self.pending[address]:
            await asyncio.sleep(0)
            return False
        self.active.add(address)
        self.max_parallel = max(self.max_parallel, len(self.active))
        await asyncio.sleep(0.001)
        self.handled.append((address, self.pending[address].popleft()))
        self.active.discard(address)
        return True

    async def give_up(self, address: Address, error: str) -> None:
        self.given_up.append((address, self.pending[address].popleft()))


def address(n: int) -> Address:
    return Address("web", "default", f"c{n}")


async def settle(dispatcher: Dispatcher) -> None:
    """Let the workers run until they are all done."""
    for _ in range(400):
        await asyncio.sleep(0.005)
        if not dispatcher.busy:
            return


async def test_each_conversation_is_processed_in_order_and_never_twice_at_once():
    inbox = FakeInbox()
    dispatcher = Dispatcher(inbox.process_next, inbox.give_up, workers=4)
    for n in range(30):
        inbox.pending[address(n % 5)].append(f"m{n}")
        dispatcher.notify(address(n % 5))
    await settle(dispatcher)

    assert len(inbox.handled) == 30 and not inbox.overlap
    for a in range(5):
        got = [m for addr, m in inbox.handled if addr == address(a)]
        assert got == [f"m{n}" for n in range(a, 30, 5)]
    assert 1 < inbox.max_parallel <= 4


async def test_a_message_arriving_while_the_worker_finishes_is_not_left_behind():
    inbox = FakeInbox()
    dispatcher = Dispatcher(inbox.process_next, inbox.give_up, workers=1)
    inbox.pending[address(1)].append("first")
    dispatcher.notify(address(1))
    await asyncio.sleep(0.003)  # the worker is now looking for more and finding none
    inbox.pending[address(1)].append("second")
    dispatcher.notify(address(1))
    await settle(dispatcher)

    assert [m for _, m in inbox.handled] == ["first", "second"]


async def test_a_message_that_keeps_failing_is_parked_and_the_conversation_goes_on():
    inbox = FakeInbox()
    calls = 0

    async def flaky(addr: Address) -> bool:
        nonlocal calls
        calls += 1
        if inbox.pending[addr] and inbox.pending[addr][0] == "poison":
            raise RuntimeError("boom")
        return await inbox.process_next(addr)

    dispatcher = Dispatcher(flaky, inbox.give_up, workers=1, retry_delay=0.001)
    inbox.pending[address(1)].extend(["poison", "fine"])
    dispatcher.notify(address(1))
    await settle(dispatcher)

    assert inbox.given_up == [(address(1), "poison")]
    assert inbox.handled == [(address(1), "fine")]


async def test_an_ingest_only_instance_processes_nothing():
    inbox = FakeInbox()
    dispatcher = Dispatcher(inbox.process_next, inbox.give_up, workers=0)
    inbox.pending[address(1)].append("m")
    dispatcher.notify(address(1))
    await settle(dispatcher)
    assert inbox.handled == []


async def test_drain_lets_in_flight_work_finish_and_starts_nothing_new():
    inbox = FakeInbox()
    dispatcher = Dispatcher(inbox.process_next, inbox.give_up, workers=2)
    inbox.pending[address(1)].extend(["a", "b", "c"])
    dispatcher.notify(address(1))
    await asyncio.sleep(0)
    await dispatcher.drain(timeout=1)
    dispatcher.notify(address(2))
    inbox.pending[address(2)].append("late")
    await settle(dispatcher)
    assert ("late" not in [m for _, m in inbox.handled]) and len(inbox.handled) >= 1


async def test_a_store_outage_is_waited_out_and_parks_nothing():
    inbox = FakeInbox()
    failures = MAX_ATTEMPTS + 3  # more than a poison message gets

    async def store_down_for_a_while(addr: Address) -> bool:
        nonlocal failures
        if failures:
            failures -= 1
            raise OperationalError("INSERT", {}, Exception("database or disk is full"))
        return await inbox.process_next(addr)

    dispatcher = Dispatcher(store_down_for_a_while, inbox.give_up, workers=1, retry_delay=0.0005)
    inbox.pending[address(1)].append("m1")
    dispatcher.notify(address(1))
    await settle(dispatcher)

    assert inbox.given_up == []
    assert inbox.handled == [(address(1), "m1")]
