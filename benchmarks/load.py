"""Load on one kefu instance in embedded mode (one process, SQLite), in benchmarks/results/load.md.

    python -m benchmarks.load [--clients 50] [--seconds 10] [--rates 20,50,100,200,500,1000] [--rate-seconds 5]

Starts kefu as a real process (`kefu migrate`, `kefu serve`, a fresh SQLite file in a temporary folder)
and, in this process, the shop's callback endpoint, which notes when the first reply to each message
arrives. Traffic is signed web-channel messages: 70% FAQ questions phrased unlike the sample FAQ, 20%
small talk or questions it lacks, 10% angry ones (handed off); see benchmarks/load_traffic.py.

1. Ceiling: a FastAPI POST returning {"ok": true}, under uvicorn with kefu's settings, same generator.
2. Ack path, closed loop, `--clients` connections for `--seconds`: first an instance that only stores
   (KEFU_ENGINE__WORKERS=0); then one instance doing everything, customers drawn from 1k ids, then
   from 100k ids already in its store (benchmarks/load_seed.py). After each phase the run waits until
   nothing is pending (messages processed, replies delivered), so CPU per message is the whole cost.
3. Fully processed, open loop: each of `--rates` offered for `--rate-seconds`, new customers.

Goals (issue 7): ack path ≥ 50% of the ceiling; ≥ 1,000 msg/s fully processed per instance with p99
end to end < 100 ms; CPU per message flat from 1k to 100k customers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sqlite3
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import uvloop

from benchmarks.load_report import report
from benchmarks.load_seed import seed_customers
from benchmarks.load_servers import CallbackReceiver, Served, start_ceiling, start_kefu
from benchmarks.load_traffic import Messages, Sent, closed_loop, open_loop

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "load.md"
PENDING = (
    "SELECT (SELECT count(*) FROM messages WHERE direction = 'in' AND processed_at IS NULL)"
    " + (SELECT count(*) FROM outbox WHERE status = 'pending')"
)
LIMITS = {"KEFU_LIMITS__PER_IP": "100000/second"}  # all load comes from one address, like a platform's


@dataclass
class Phase:
    name: str
    sent: Sent
    started: float  # perf_counter when the traffic began
    seconds: float  # how long the traffic ran
    cpu: float  # server CPU seconds, from the start until nothing was pending
    bench_cpu: float  # this process: generator and callback receiver
    drained: float | None = 0.0  # seconds after the traffic until nothing was pending; None: not within the limit
    customers: int | None = None
    rate: float | None = None
    conversations: int | None = None  # in the store once drained
    finished: float = 0.0  # perf_counter once drained


@dataclass
class Embedded:
    phases: list[Phase]
    idle: dict[str, float]  # share of a core used with no traffic, by what the store held
    log_errors: list[str]


async def measure(name: str, server: Served, traffic, db: Path | None = None, drain_limit: float = 0, **labels):
    cpu, bench, start = server.cpu_seconds(), time.process_time(), time.perf_counter()
    sent = await traffic
    seconds = time.perf_counter() - start
    drained, conversations = await wait_drained(db, drain_limit) if db else (0.0, None)
    used, bench = server.cpu_seconds() - cpu, time.process_time() - bench
    phase = Phase(name, sent, start, seconds, used, bench, drained, conversations=conversations, **labels)
    phase.finished = time.perf_counter()
    print(f"{name}: {sent.accepted / seconds:,.0f} accepted/s, drained after {drained}", flush=True)
    return phase


async def wait_drained(db: Path, limit: float) -> tuple[float | None, int]:
    """Seconds until no message waits for the bot and no reply for delivery (None past `limit`)."""
    start = time.perf_counter()
    with closing(sqlite3.connect(db, timeout=10)) as conn:
        drained = None
        while (waited := time.perf_counter() - start) < limit:
            if not conn.execute(PENDING).fetchone()[0]:
                drained = waited
                break
            await asyncio.sleep(0.25)
        return drained, conn.execute("SELECT count(*) FROM conversations").fetchone()[0]


def outcomes(db: Path) -> dict[str, Counter]:
    """Per phase (message id prefix), what became of each message: the first of handoff, answer,
    other reply (suggest, clarify), silent (processed, no reply: a person is awaited), unprocessed."""
    replies: dict[str, set] = defaultdict(set)
    counts: dict[str, Counter] = defaultdict(Counter)
    with closing(sqlite3.connect(db)) as conn:
        for key, action, handoff in conn.execute(
            "SELECT in_reply_to, json_extract(meta, '$.action'), json_extract(meta, '$.handoff') IS NOT NULL"
            " FROM messages WHERE direction = 'out' AND in_reply_to IS NOT NULL"
        ):
            replies[key].add("handoff" if handoff else "answer" if action == "answer" else "other")
        for key, processed in conn.execute(
            "SELECT platform_message_id, processed_at IS NOT NULL FROM messages WHERE direction = 'in'"
        ):
            got = replies.get(key, set())
            kind = next((k for k in ("handoff", "answer", "other") if k in got), None)
            kind = kind or ("silent" if processed else "unprocessed")
            counts[key.rsplit("-", 1)[0]][kind] += 1
    return counts


async def ceiling(workdir: Path, args) -> Phase:
    server = await start_ceiling(workdir)
    try:
        messages = Messages("ceiling", 100_000, "unused")
        traffic = closed_loop(server.port, messages, clients=args.clients, seconds=args.seconds)
        return await measure("ceiling", server, traffic)
    finally:
        server.stop()


def kefu_settings(db: Path, secret: str, callback_url: str, **extra: str) -> dict[str, str]:
    return {
        "KEFU_ENV": "test",
        "KEFU_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "KEFU_WEB__SECRET": secret,
        "KEFU_WEB__CALLBACK_URL": callback_url,
        "KEFU_LOG_LEVEL": "WARNING",
        **LIMITS,
        **extra,
    }


async def ingest_only(workdir: Path, secret: str, args) -> Phase:
    """The ack path alone: an instance that stores messages and processes none (KEFU_ENGINE__WORKERS=0)."""
    folder = workdir / "ingest"
    folder.mkdir()
    settings = kefu_settings(folder / "kefu.db", secret, "http://127.0.0.1:9/unused", KEFU_ENGINE__WORKERS="0")
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
    kefu = await start_kefu(workdir, kefu_settings(db, secret, receiver.url))
    try:
        warm = open_loop(kefu.port, Messages("warm", 1000, secret), rate=50, seconds=2)
        await measure("warm-up", kefu, warm, db, args.drain_limit)
        idle["a fresh store"] = await idle_share(kefu)
        for customers in (1_000, 100_000):
            messages = Messages(f"k{customers // 1000}k", customers, secret)
            if customers > 1_000:
                print(f"seeded {customers:,} customers in {seed_customers(db, messages.prefix, customers):.1f} s")
                idle[f"{customers:,} customers seeded"] = await idle_share(kefu)
            traffic = closed_loop(kefu.port, messages, clients=args.clients, seconds=args.seconds)
            phases.append(await measure(messages.prefix, kefu, traffic, db, args.drain_limit, customers=customers))
        for rate in args.rates:
            messages = Messages(f"r{rate}", 100_000, secret)
            traffic = open_loop(kefu.port, messages, rate=rate, seconds=args.rate_seconds)
            phases.append(await measure(messages.prefix, kefu, traffic, db, args.drain_limit, rate=rate))
    finally:
        kefu.stop()
    errors = [line for line in kefu.log.read_text().splitlines() if "ERROR" in line or "Traceback" in line]
    return Embedded(phases, idle, errors)


async def run(args) -> str:
    secret, load = secrets.token_hex(16), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="kefu-load-") as folder:
        workdir = Path(folder)
        receiver = CallbackReceiver(secret)
        await receiver.start()
        try:
            top = await ceiling(workdir, args)
            ingest = await ingest_only(workdir, secret, args)
            instance = await embedded(workdir, receiver, secret, args)
        finally:
            await receiver.stop()
        counts = outcomes(workdir / "kefu.db")
    return report(top, ingest, instance, receiver, counts, args, load)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="connections in the closed-loop phases")
    parser.add_argument("--seconds", type=float, default=10, help="length of each closed-loop phase")
    parser.add_argument("--rates", default="20,50,100,200,500,1000", help="offered msg/s in the open-loop phases")
    parser.add_argument("--rate-seconds", type=float, default=5, help="length of each open-loop phase")
    parser.add_argument("--drain-limit", type=float, default=60, help="longest wait for the backlog after a phase")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    args.rates = [int(r) for r in args.rates.split(",")]
    text = uvloop.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text + f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
