"""What one call costs kefu's event loop: the thread's CPU and the wall time, median of some rounds.

Shared by the benchmarks that run an ops view the old way and the new way in the same process
(benchmarks/unanswered.py, daily_report.py, dashboard.py).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")
HEADER = ["| how | event loop's thread s | ÷ baseline | wall s | ÷ baseline |", "|---|---|---|---|---|"]


async def timed(
    sessions: async_sessionmaker, call: Callable[[AsyncSession], Awaitable[T]], rounds: int
) -> tuple[float, float, T]:
    """(thread s, wall s, the last round's result); each round in a session of its own."""
    threads: list[float] = []
    walls: list[float] = []
    for _ in range(max(rounds, 1)):
        thread, wall = time.thread_time(), time.perf_counter()
        async with sessions() as session:
            result = await call(session)
        threads.append(time.thread_time() - thread)
        walls.append(time.perf_counter() - wall)
    return statistics.median(threads), statistics.median(walls), result


def row(name: str, thread: float, wall: float, baseline: tuple[float, float]) -> str:
    """One way's line of the table, with its ratios to the baseline's (thread s, wall s)."""
    return f"| {name} | {thread:.3f} | {thread / baseline[0]:.2f} | {wall:.3f} | {wall / baseline[1]:.2f} |"
