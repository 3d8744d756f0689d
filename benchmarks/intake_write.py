"""CPU to store a batch of inbound messages on SQLite: one Core statement through SQLAlchemy (the
write kefu uses on PostgreSQL, and used on SQLite before) against the one-trip write kefu uses on
SQLite (app/engine/intake_sqlite.py), in benchmarks/results/intake_write.md.

    python -m benchmarks.intake_write [--batches 1,5,25,50] [--rows 5000] [--rounds 5]

One SQLite store with kefu's schema; for each batch size (one group commit of that many
webhooks; under the load benchmark's ack phase it averages about 25), rounds alternate between
the two writes, `--rows` messages each. Measured: this process's CPU per message, SQLite's
thread included, and the event loop's thread alone. The table shows each write's median round.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from adapters.base import Address, InboundMessage
from app.engine.intake import Intake, _row
from app.engine.intake_sqlite import SQLiteRows
from app.store.database import create_engine
from app.store.tables import Base, utcnow
from benchmarks.results_file import publish

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "intake_write.md"
CORE, ONE_TRIP = "Core statement (baseline)", "one trip (kefu on SQLite)"
Write = Callable[[list[dict]], Awaitable[list]]


def inbound_message() -> InboundMessage:
    """A web-channel FAQ question from one of 100,000 customers."""
    customer = f"c{secrets.randbelow(100_000)}"
    return InboundMessage(Address("web", "default", customer), secrets.token_hex(8), "发货时间是多久呀", utcnow())


async def cpu_per_message(write: Write, rows: int, batch: int) -> tuple[float, float]:
    """(all threads, this thread) µs per message."""
    batches = [[_row(inbound_message()) for _ in range(batch)] for _ in range(rows // batch)]
    process, thread = time.process_time(), time.thread_time()
    for rows_of_batch in batches:
        await write(rows_of_batch)
    done = len(batches) * batch
    return (time.process_time() - process) / done * 1e6, (time.thread_time() - thread) / done * 1e6


async def measure(folder: Path, args: argparse.Namespace) -> dict[tuple[str, int], tuple[float, float]]:
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'kefu.db'}")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        writes: dict[str, Write] = {CORE: Intake(engine, lambda address: None)._store, ONE_TRIP: SQLiteRows(engine)}
        medians = {}
        for batch in args.batches:
            samples: dict[str, list[tuple[float, float]]] = {name: [] for name in writes}
            for round_number in range(args.rounds):
                order = list(writes) if round_number % 2 == 0 else list(writes)[::-1]
                for name in order:
                    samples[name].append(await cpu_per_message(writes[name], args.rows, batch))
            for name, values in samples.items():
                medians[(name, batch)] = (
                    statistics.median(v[0] for v in values),
                    statistics.median(v[1] for v in values),
                )
        return medians
    finally:
        await engine.dispose()


def report(medians: dict[tuple[str, int], tuple[float, float]], args: argparse.Namespace) -> str:
    lines = [
        "# Intake on SQLite: CPU per stored message, Core statement against one trip",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%dT%H:%M+00:00}",
        f"- machine: {platform.platform()}, {os.cpu_count()} cores, shared with other work;"
        f" Python {platform.python_version()}",
        f"- SQLite with kefu's schema and settings (WAL, synchronous=NORMAL); {args.rows} messages per round;"
        f" customers among 100,000; median of {args.rounds} alternating rounds; µs of CPU per message, all"
        " threads (SQLite's included) / the event loop's thread alone",
        "",
        f"| batch | {CORE} | {ONE_TRIP} | ratio (all threads) |",
        "|---|---|---|---|",
    ]
    for batch in args.batches:
        (old, old_loop), (new, new_loop) = medians[(CORE, batch)], medians[(ONE_TRIP, batch)]
        lines.append(f"| {batch} | {old:,.1f} / {old_loop:,.1f} | {new:,.1f} / {new_loop:,.1f} | {new / old:.2f} |")
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory() as folder:
        return report(await measure(Path(folder), args), args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=lambda s: [int(n) for n in s.split(",")], default=[1, 5, 25, 50])
    parser.add_argument("--rows", type=int, default=5000, help="messages per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; the median is reported")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    publish(uvloop.run(run(args)), args.out)


if __name__ == "__main__":
    main()
