"""Where one message's CPU goes: each stage of kefu's path timed on its own, in benchmarks/results/cpu_budget.md.

    python -m benchmarks.cpu_budget [--messages 3000] [--rounds 3]

load.md measures the whole: about 1.4 ms of CPU per message at saturation, on one core. This says
which stage spends it, to tell what a change could win. kefu's own services are built as `kefu
serve` builds them (app/services.py: SQLite, the sample FAQ, the shipped rules), in this process on
uvloop, a fresh store each round; the stages run one after the other on the same messages (new
customers, load.py's mix of FAQ questions, small talk and angry messages):

1. intake: the messages stored through the intake's group commit, 50 arriving together (the
   webhook's HTTP handling is not in it: the ack path in load.md has it all);
2. engine: the stored messages processed by the dispatcher and engine, 10 conversations' next
   messages at a time (a batch's size at 700 msg/s) and one at a time (low rates);
3. the bot's decision alone (app/engine/bot.decide), which the engine's figure includes;
4. outbox: the replies the engine left, delivered to the trivial FastAPI app (another process);
5. one outbound request alone, 32 in flight: kefu's client (httpx's API over aiohttp) against
   aiohttp by itself, the floor under it (the baseline of the ratio).

CPU is the event loop's thread (which bounds one instance) and the whole process (with SQLite's
thread); the median of the rounds is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import uvloop
from sqlalchemy import func, select

from adapters.base import Address, InboundMessage
from app.engine.bot import Turn, decide
from app.engine.intake import Intake
from app.http_client import http_client
from app.services import Services
from app.settings import Settings
from app.store.migrate import upgrade
from app.store.tables import ConversationState, OutboxItem, OutboxStatus
from benchmarks.load_servers import start_ceiling
from benchmarks.load_traffic import MIX
from benchmarks.results_file import publish

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "cpu_budget.md"
ARRIVING_TOGETHER = 50
BATCH = 10
ONE_AT_A_TIME = 300  # messages processed singly: enough for a steady figure, far fewer than the rest
IN_FLIGHT = 32
REQUESTS = 3200  # per measurement of the outbound request alone


class Clock:
    """CPU seconds of the event loop's thread and of the whole process over a `with` block."""

    def __init__(self) -> None:
        self.thread = self.process = 0.0

    def __enter__(self) -> Clock:
        self._thread, self._process = time.thread_time(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.thread = time.thread_time() - self._thread
        self.process = time.process_time() - self._process

    def per(self, count: int) -> tuple[float, float]:
        """Microseconds per item: (event loop's thread, process)."""
        return self.thread / count * 1e6, self.process / count * 1e6


def texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    weights = [weight for _, weight in MIX]
    return [rng.choice(rng.choices([kind for kind, _ in MIX], weights)[0]) for _ in range(count)]


async def one_round(callback_url: str, messages: int, seed: int) -> dict[str, tuple[float, float]]:
    """Each stage's CPU per item in one round, on a fresh store."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/kefu.db"
        await asyncio.to_thread(upgrade, url)  # alembic runs its own event loop
        settings = Settings(database_url=url, web={"secret": "budget", "callback_url": callback_url})
        services = Services.build(settings)
        try:
            for files in (services.faq, services.routing):
                await files.load()
            return await _stages(services, texts(messages + ONE_AT_A_TIME, seed))
        finally:
            await services.stop()


async def _stages(services: Services, said: list[str]) -> dict[str, tuple[float, float]]:
    inbound = [InboundMessage(Address("web", "default", f"c{n}"), f"m{n}", text) for n, text in enumerate(said)]
    figures: dict[str, tuple[float, float]] = {}
    intake = Intake(services.db, lambda address: None)  # kefu's wakes the dispatcher: here the engine waits
    with Clock() as clock:
        for start in range(0, len(inbound), ARRIVING_TOGETHER):
            await asyncio.gather(*(intake.accept(m) for m in inbound[start : start + ARRIVING_TOGETHER]))
    single, batched = inbound[:ONE_AT_A_TIME], inbound[ONE_AT_A_TIME:]
    figures["intake"] = clock.per(len(inbound))
    for name, group, size in (("engine, 1 at a time", single, 1), ("engine", batched, BATCH)):
        with Clock() as clock:
            for start in range(0, len(group), size):
                for message in group[start : start + size]:
                    services.processing.dispatcher.notify(message.address)
                await _idle(services)
        figures[name] = clock.per(len(group))
    kb, routing = services.faq.current, services.routing_now()
    turns = [Turn(ConversationState.BOT, m.text, channel="web") for m in batched]
    with Clock() as clock:
        for turn in turns:
            decide(turn, kb, routing)
    figures["decision"] = clock.per(len(turns))
    deliveries = await _pending(services)
    with Clock() as clock:
        services.outbox.start()
        while await _pending(services):  # each look is a query too: not too often
            await asyncio.sleep(0.02)
    figures["outbox"] = clock.per(deliveries)
    figures["replies per message"] = (deliveries / len(inbound), deliveries / len(inbound))
    return figures


async def _idle(services: Services) -> None:
    while services.processing.dispatcher.busy:
        await asyncio.sleep(0.001)


async def _pending(services: Services) -> int:
    async with services.sessions() as session:
        query = select(func.count()).select_from(OutboxItem).where(OutboxItem.status == OutboxStatus.PENDING)
        return (await session.execute(query)).scalar_one()


async def request_cpu(send: Callable[[], Awaitable[None]], requests: int) -> tuple[float, float]:
    """Microseconds of CPU per request, IN_FLIGHT at a time."""

    async def sender(count: int) -> None:
        for _ in range(count):
            await send()

    each = requests // IN_FLIGHT
    await asyncio.gather(*(sender(5) for _ in range(IN_FLIGHT)))  # connections opened, code warm
    with Clock() as clock:
        await asyncio.gather(*(sender(each) for _ in range(IN_FLIGHT)))
    return clock.per(each * IN_FLIGHT)


async def http_round(callback_url: str, requests: int) -> dict[str, tuple[float, float]]:
    body = '{"message_id": "m-0123456789", "text": "亲，一般48小时内发货，请耐心等待哦"}'.encode()
    headers = {"content-type": "application/json"}
    async with http_client(5) as client, aiohttp.ClientSession() as session:

        async def kefu_client() -> None:
            (await client.post(callback_url, content=body, headers=headers)).raise_for_status()

        async def aiohttp_alone() -> None:
            async with session.post(callback_url, data=body, headers=headers) as response:
                await response.read()
                response.raise_for_status()

        return {
            "request, aiohttp alone": await request_cpu(aiohttp_alone, requests),
            "request, kefu's client": await request_cpu(kefu_client, requests),
        }


def report(medians: dict[str, tuple[float, float]], args: argparse.Namespace) -> str:
    replies = medians.pop("replies per message")[0]
    floor = medians["request, aiohttp alone"][0]
    per_message = {
        "intake": 1.0,
        "engine": 1.0,
        "outbox": replies,
    }
    rows = [
        ("intake", "stored message", "group commit of 50 arriving together; no HTTP"),
        ("engine", "message", f"batches of {BATCH}; the decision included"),
        ("engine, 1 at a time", "message", "one message per batch, as at low rates"),
        ("decision", "message", "app/engine/bot.decide alone"),
        ("outbox", "delivered reply", "scan, send, store what was sent"),
        ("request, kefu's client", "request", f"httpx's API over aiohttp, {IN_FLIGHT} in flight"),
        ("request, aiohttp alone", "request", "the floor under it"),
    ]
    lines = [
        "# Where one message's CPU goes: kefu's stages timed on their own",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%dT%H:%M+00:00}",
        f"- machine: {platform.platform()}, {os.cpu_count()} cores, shared with other work;"
        f" Python {platform.python_version()}",
        f"- {args.messages} messages from new customers (load.py's mix) per round, on a fresh SQLite store;"
        f" median of {args.rounds} rounds; replies delivered per message: {replies:.2f}",
        "",
        "| stage | per | event loop's thread µs | process µs | what | ratio to aiohttp alone |",
        "|---|---|---|---|---|---|",
    ]
    for name, per, what in rows:
        thread, process = medians[name]
        ratio = f"{thread / floor:.2f}" if name.startswith("request") else ""
        lines.append(f"| {name} | {per} | {thread:,.0f} | {process:,.0f} | {what} | {ratio} |")
    thread = sum(medians[name][0] * share for name, share in per_message.items())
    process = sum(medians[name][1] * share for name, share in per_message.items())
    lines += [
        "",
        f"Intake, engine and outbox ({replies:.2f} deliveries) per message: {thread:,.0f} µs on the event loop's"
        f" thread, {process:,.0f} µs in the process. The rest of load.md's figure is the webhook's HTTP"
        " handling, the timers and the assigner, and the stages' competition on one busy event loop.",
    ]
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> str:
    samples: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        server = await start_ceiling(Path(folder))
        callback_url = f"http://127.0.0.1:{server.port}/webhooks/web"
        try:
            for n in range(args.rounds):
                stages = await one_round(callback_url, args.messages, n)
                for name, figure in {**stages, **await http_round(callback_url, REQUESTS)}.items():
                    samples.setdefault(name, []).append(figure)
        finally:
            server.stop()
    medians = {
        name: (statistics.median(t for t, _ in values), statistics.median(p for _, p in values))
        for name, values in samples.items()
    }
    return report(medians, args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000, help="messages per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    publish(uvloop.run(run(args)), args.out)


if __name__ == "__main__":
    main()
