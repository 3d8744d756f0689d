"""Load on one kefu instance in embedded mode (SQLite), then on two sharing PostgreSQL + Redis, in
benchmarks/results/load.md.

    python -m benchmarks.load [--clients 50] [--seconds 10] [--ack-rounds 3]
                              [--rates 20,50,100,200,300,400,500,700,850,1000] [--rate-seconds 5]
                              [--goal-rounds 3] [--no-child-processes] [--no-scaleout]

Starts kefu as a real process (`kefu migrate`, `kefu serve`, a fresh SQLite file in a temporary folder)
and, in this process, the shop's callback endpoint, which notes when the first reply to each message
arrives. Traffic is signed web-channel messages: 70% FAQ questions phrased unlike the sample FAQ, 20%
small talk or questions it lacks, 10% angry ones (handed off); see benchmarks/load_traffic.py.

1. Ceiling and ack path, closed loop, `--clients` connections for `--seconds`, in `--ack-rounds`
   alternating rounds: a FastAPI POST returning {"ok": true} under uvicorn with kefu's settings (the
   ceiling), then an instance that only stores (KEFU_ENGINE__WORKERS=0). The machine's speed drifts
   between minutes, so each round's ratio is taken within the round and the median round is reported.
2. One instance doing everything (deciding and sending replies from its child processes,
   KEFU_ENGINE__PROCESS=true and KEFU_OUTBOX__PROCESS=true, unless `--no-child-processes`; its CPU
   counts all three processes), closed loop: customers drawn from
   1k ids, then from 100k ids already in its store (benchmarks/load_seed.py). A customer who was
   angry (handed off) is replaced by a new one, so both phases do the same work per message
   (`Messages(angry_leave=True)`). After each phase the run waits until nothing is pending (messages
   processed, replies delivered), so CPU per message is the whole cost.
3. Fully processed, open loop: each of `--rates` offered for `--rate-seconds`, new customers; then the
   goal's rate (1,000 msg/s) again, so that it runs `--goal-rounds` times in all. A p99 over one 5 s
   phase hangs on its few slowest messages, and on this shared machine it varied twofold between runs
   minutes apart: the goal is judged on the median round.
4. Scale-out (benchmarks/load_scaleout.py; skipped with `--no-scaleout` or without PostgreSQL and
   redis-server installed): two instances on a throwaway PostgreSQL and Redis, the generator sending
   to each in turn; the closed loop with 1k customers and the same rates.

Goals (issue 7): ack path ≥ 50% of the ceiling; ≥ 1,000 msg/s fully processed per instance with p99
end to end < 100 ms; CPU per message flat from 1k to 100k customers; the same figures for two
instances on PostgreSQL + Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sqlite3
import tempfile
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import uvloop

from benchmarks.load_phases import (
    Audit,
    Fetch,
    Phase,
    audit,
    drained_within,
    kefu_settings,
    log_errors,
    measure,
    outcomes,
)
from benchmarks.load_report import GOAL_RATE, report
from benchmarks.load_scaleout import scaleout, skipped
from benchmarks.load_seed import seed_customers
from benchmarks.load_servers import CallbackReceiver, Served, start_ceiling, start_kefu
from benchmarks.load_traffic import Messages, closed_loop, open_loop
from benchmarks.results_file import publish

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "load.md"
# An instance using the machine's second core: decisions and deliveries each in a child process.
CHILD_PROCESSES = {"KEFU_ENGINE__PROCESS": "true", "KEFU_OUTBOX__PROCESS": "true"}


@dataclass
class Embedded:
    phases: list[Phase]
    idle: dict[str, float]  # share of a core used with no traffic, by what the store held
    log_errors: list[str]
    counts: dict[str, Counter]  # per phase, what became of its messages
    audit: Audit


def sqlite_url(db: Path) -> str:
    return f"sqlite+aiosqlite:///{db}"


def sqlite_fetch(conn: sqlite3.Connection) -> Fetch:
    async def fetch(sql: str) -> list:
        return conn.execute(sql).fetchall()

    return fetch


async def wait_drained(db: Path, limit: float) -> tuple[float | None, int]:
    with closing(sqlite3.connect(db, timeout=10)) as conn:
        return await drained_within(sqlite_fetch(conn), limit)


async def read_store(db: Path, receiver: CallbackReceiver, phases: list[Phase]) -> tuple[dict[str, Counter], Audit]:
    """What became of the messages, and whether any was lost or handled twice."""
    with closing(sqlite3.connect(db)) as conn:
        fetch = sqlite_fetch(conn)
        counts = await outcomes(fetch, "json_extract(meta, '$.action')", "json_extract(meta, '$.handoff')")
        return counts, await audit(fetch, receiver, phases)


async def ack_round(workdir: Path, secret: str, args, number: int) -> tuple[Phase, Phase]:
    """The ceiling, then the ack path alone, one right after the other: the pair's ratio is the round's."""
    return await ceiling(workdir, args), await ingest_only(workdir / f"ingest-{number}", secret, args)


async def ceiling(workdir: Path, args) -> Phase:
    server = await start_ceiling(workdir)
    try:
        messages = Messages("ceiling", 100_000, "unused")
        traffic = closed_loop(server.port, messages, clients=args.clients, seconds=args.seconds)
        return await measure("ceiling", server, traffic)
    finally:
        server.stop()


async def ingest_only(folder: Path, secret: str, args) -> Phase:
    """The ack path alone: an instance that stores messages and processes none (KEFU_ENGINE__WORKERS=0)."""
    folder.mkdir()
    url = sqlite_url(folder / "kefu.db")
    settings = kefu_settings(url, secret, "http://127.0.0.1:9/unused", KEFU_ENGINE__WORKERS="0")
    kefu = await start_kefu(folder, settings)
    try:
        messages = Messages("ingest", 100_000, secret)
        traffic = closed_loop(kefu.port, messages, clients=args.clients, seconds=args.seconds)
        return await measure("ingest", kefu, traffic, customers=100_000)
    finally:
        kefu.stop()


async def idle_share(server: Served, seconds: float = 5) -> float:
    """Share of a core the server uses with no traffic: its timers, sweeps and gauges."""
    cpu = server.cpu_seconds()
    await asyncio.sleep(seconds)
    return (server.cpu_seconds() - cpu) / seconds


async def embedded(workdir: Path, receiver: CallbackReceiver, secret: str, args) -> Embedded:
    """One instance doing everything: 1k customers, then a store seeded to 100k, then the offered rates."""
    db, phases, idle = workdir / "kefu.db", [], {}
    drain = partial(wait_drained, db, args.drain_limit)
    children = CHILD_PROCESSES if args.child_processes else {}
    kefu = await start_kefu(workdir, kefu_settings(sqlite_url(db), secret, receiver.url, **children))
    try:
        warm = open_loop(kefu.port, Messages("warm", 1000, secret), rate=50, seconds=2)
        await measure("warm-up", kefu, warm, drain)
        idle["a fresh store"] = await idle_share(kefu)
        for customers in (1_000, 100_000):
            messages = Messages(f"k{customers // 1000}k", customers, secret, angry_leave=True)
            if customers > 1_000:
                print(f"seeded {customers:,} customers in {seed_customers(db, messages.prefix, customers):.1f} s")
                idle[f"{customers:,} customers seeded"] = await idle_share(kefu)
            traffic = closed_loop(kefu.port, messages, clients=args.clients, seconds=args.seconds)
            phases.append(await measure(messages.prefix, kefu, traffic, drain, customers=customers))
        for rate, prefix in open_rates(args):
            messages = Messages(prefix, 100_000, secret)
            traffic = open_loop(kefu.port, messages, rate=rate, seconds=args.rate_seconds)
            phases.append(await measure(messages.prefix, kefu, traffic, drain, rate=rate))
    finally:
        kefu.stop()
    return Embedded(phases, idle, log_errors(kefu.log), *await read_store(db, receiver, phases))


def open_rates(args) -> list[tuple[int, str]]:
    """(rate, its phase's name) in order: the rates, then the goal's rate until it has run `--goal-rounds` times."""
    rates = [(rate, f"r{rate}") for rate in args.rates]
    if GOAL_RATE in args.rates:
        rates += [(GOAL_RATE, f"r{GOAL_RATE}-{n}") for n in range(2, args.goal_rounds + 1)]
    return rates


async def run(args) -> str:
    secret, load = secrets.token_hex(16), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="kefu-load-") as folder:
        workdir = Path(folder)
        receiver = CallbackReceiver(secret)
        await receiver.start()
        try:
            ack = [await ack_round(workdir, secret, args, number) for number in range(args.ack_rounds)]
            instance = await embedded(workdir, receiver, secret, args)
        finally:
            await receiver.stop()
        two = skipped("skipped with `--no-scaleout`") if args.no_scaleout else await scaleout(workdir, secret, args)
    return report(ack, instance, receiver, two, args, load)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="connections in the closed-loop phases")
    parser.add_argument("--seconds", type=float, default=10, help="length of each closed-loop phase")
    parser.add_argument("--ack-rounds", type=int, default=3, help="alternating rounds of ceiling and ack path")
    rates = "20,50,100,200,300,400,500,700,850,1000"
    parser.add_argument("--rates", default=rates, help="offered msg/s in the open-loop phases")
    parser.add_argument("--rate-seconds", type=float, default=5, help="length of each open-loop phase")
    goal = f"open-loop phases at {GOAL_RATE:,} msg/s in all; the goal is judged on the median"
    parser.add_argument("--goal-rounds", type=int, default=3, help=goal)
    parser.add_argument("--drain-limit", type=float, default=60, help="longest wait for the backlog after a phase")
    parser.add_argument(
        "--child-processes",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the embedded instance decides and sends replies from child processes (see CHILD_PROCESSES)",
    )
    parser.add_argument("--no-scaleout", action="store_true", help="skip the two instances on PostgreSQL + Redis")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    if args.ack_rounds < 1 or args.goal_rounds < 1:
        parser.error("--ack-rounds and --goal-rounds must be at least 1")
    args.rates = [int(r) for r in args.rates.split(",")]
    text = uvloop.run(run(args))
    publish(text, args.out)


if __name__ == "__main__":
    main()
