"""What a long waiting line costs the assigner and its timers, in benchmarks/results/waiting_line.md.

    python -m benchmarks.waiting_line [--waiting 1000,10000] [--passes 15]

In a promotion thousands of chats wait while every agent is busy, and the assigner runs on every
handoff and every second; whatever it spends, it spends on the event loop (or on SQLite's one
connection) that every customer's message also needs. kefu's services are built as `kefu serve`
builds them (SQLite, the shipped rules), with N chats waiting in the rules' queues (a tenth L2, a
hundredth L3, queued over the last two hours) and 50 online agents with every skill, 5 chats each.

Per pass, the median of `--passes`: the event loop's thread CPU and the wall time, for
- an assignment pass with every agent full (the usual pass in a promotion),
- one with a single free place (an agent closed a chat),
- a timers tick with nobody due a wait notice, and one with 70 due (the line's notices spread
  over their two-minute interval: about 70 a second with 10,000 waiting),
- a tick with the whole line due at once (handed off in the same minute): kefu's, which tells
  NOTICES_PER_TICK of them, and, in the same process, one telling them all, as ticks did before.
The baseline, in the same process, is one read of the whole line (`waiting_chats`), which every
pass and notice tick made before the line was ordered in SQL.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvloop
from sqlalchemy import insert, update

from app.engine.timers import NOTICES_PER_TICK, QueueTimers
from app.engine.waiting import waiting_chats
from app.services import Services
from app.settings import Settings
from app.store.migrate import upgrade
from app.store.tables import Agent, Conversation, ConversationState, new_id
from benchmarks.results_file import publish

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "waiting_line.md"
AGENTS, CAPACITY, DUE = 50, 5, 70
Step = Callable[[], Awaitable[object]]


async def measure(waiting: int, passes: int) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory(prefix="kefu-line-") as folder:
        url = f"sqlite+aiosqlite:///{folder}/kefu.db"
        await asyncio.to_thread(upgrade, url)
        services = Services.build(
            Settings(database_url=url, web={"secret": "x", "callback_url": "http://127.0.0.1:9/"})
        )
        await services.routing.load()
        try:
            chats = await fill(services, waiting)
            return await passes_timed(services, chats, passes)
        finally:
            await services.db.dispose()


async def fill(services: Services, waiting: int) -> list[str]:
    """N waiting chats and the agents, all full; the ids of the waiting chats."""
    rules, rng, now = services.routing_now().rules, random.Random(7), datetime.now(UTC)
    queues = [queue.id for queue in rules.queues]
    skills = sorted({skill for queue in rules.queues for skill in queue.skills})
    rows = [
        {
            "id": new_id(),
            "channel": "web",
            "account": "default",
            "customer_id": f"c{n}",
            "state": ConversationState.QUEUED,
            "queue": rng.choice(queues),
            "level": "L3" if n % 100 == 0 else "L2" if n % 10 == 0 else "L1",
            "priority": rng.choice((0, 10, 20)),
            "queued_at": now - timedelta(seconds=rng.uniform(0, 7200)),
            "notified_at": now,
            "agent_id": None,
            "assigned_at": None,
        }
        for n in range(waiting + AGENTS * CAPACITY)
    ]
    agents = [
        {
            "id": f"a{n}",
            "username": f"a{n}",
            "name": f"客服{n}",
            "skills": skills,
            "capacity": CAPACITY,
            "token_hash": f"a{n}",
        }
        for n in range(AGENTS)
    ]
    for n, row in enumerate(rows[waiting:]):  # the chats the agents have now
        row.update(state=ConversationState.WITH_AGENT, agent_id=f"a{n // CAPACITY}", assigned_at=now)
    async with services.sessions.begin() as session:
        await session.execute(insert(Agent).values(status="online"), agents)
        await session.execute(insert(Conversation), rows)
    return [row["id"] for row in rows[:waiting]]


async def passes_timed(services: Services, chats: list[str], passes: int) -> dict[str, tuple[float, float]]:
    assigner, rng = services.assigner, random.Random(3)

    async def execute(statement) -> None:
        async with services.sessions.begin() as session:
            await session.execute(statement)

    async def whole_line() -> None:
        async with services.sessions() as session:
            await waiting_chats(session)

    async def free_a_place() -> None:
        await execute(update(Agent).where(Agent.id == "a0").values(capacity=CAPACITY + 1))

    async def take_it_back() -> None:  # the chat given goes back to the line, for the next pass
        await execute(
            update(Conversation)
            .where(Conversation.agent_id == "a0", Conversation.assigned_at >= started)
            .values(state=ConversationState.QUEUED, agent_id=None, assigned_at=None)
        )
        await execute(update(Agent).where(Agent.id == "a0").values(capacity=CAPACITY))

    async def notices_come_due() -> None:
        await execute(update(Conversation).where(Conversation.id.in_(rng.sample(chats, DUE))).values(notified_at=None))

    async def all_come_due() -> None:  # handed off in the same minute, as in a promotion's first minutes
        await execute(update(Conversation).where(Conversation.id.in_(chats)).values(notified_at=None))

    services_timers = (services.sessions, services.routing_now, services.agent_events, services.deliver, assigner.poke)
    telling_all = QueueTimers(*services_timers, notices_per_tick=len(chats))  # the tick before NOTICES_PER_TICK

    started = datetime.now(UTC)
    steps: dict[str, tuple[Step, Step | None, Step | None]] = {  # name: (timed, before it, after it)
        "whole line read (baseline)": (whole_line, None, None),
        "assignment pass, every agent full": (assigner.assign_waiting, None, None),
        "assignment pass, one free place": (assigner.assign_waiting, free_a_place, take_it_back),
        "timers tick, no notice due": (assigner.timers.run, None, None),
        f"timers tick, {DUE} notices due": (assigner.timers.run, notices_come_due, None),
        f"timers tick, all due at once: {NOTICES_PER_TICK} told, the rest in the next ticks": (
            assigner.timers.run,
            all_come_due,
            None,
        ),
        "timers tick, all due at once: all told in one tick (before)": (telling_all.run, all_come_due, None),
    }
    return {name: await timed(*step, passes=passes) for name, step in steps.items()}


async def timed(step: Step, before: Step | None, after: Step | None, *, passes: int) -> tuple[float, float]:
    """Median ms of the event loop's thread and of the wall, per pass (after two passes to warm up)."""
    cpu, wall = [], []
    for n in range(passes + 2):
        if before:
            await before()
        c0, t0 = time.thread_time(), time.perf_counter()
        await step()
        if n >= 2:
            cpu.append((time.thread_time() - c0) * 1000)
            wall.append((time.perf_counter() - t0) * 1000)
        if after:
            await after()
    return statistics.median(cpu), statistics.median(wall)


def report(results: dict[int, dict[str, tuple[float, float]]], passes: int) -> str:
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    lines = [
        "# A long waiting line: what the assigner and its timers spend per pass",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%dT%H:%M}+00:00; revision {revision.stdout.strip() or 'unknown'}",
        f"- machine: {platform.platform()}, Python {platform.python_version()}; SQLite store, the shipped rules",
        f"- {AGENTS} online agents with every skill, {CAPACITY} chats each; median of {passes} passes;"
        " ms of the event loop's thread (what every customer's message waits behind; SQLite's writing"
        " connection runs on it too) and of the wall",
        "",
        "| waiting | step | loop thread ms | wall ms | wall ÷ whole line read |",
        "|---|---|---|---|---|",
    ]
    for waiting, steps in results.items():
        baseline = steps["whole line read (baseline)"][1]
        for name, (cpu, wall) in steps.items():
            lines.append(f"| {waiting:,} | {name} | {cpu:.2f} | {wall:.2f} | {wall / baseline:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", default="1000,10000", help="chats waiting, one measurement each")
    parser.add_argument("--passes", type=int, default=15)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    results = {int(n): uvloop.run(measure(int(n), args.passes)) for n in args.waiting.split(",")}
    publish(report(results, args.passes), args.out)


if __name__ == "__main__":
    main()
