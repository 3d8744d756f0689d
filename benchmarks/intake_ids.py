"""CPU to store an inbound message with time-ordered ids (UUIDv7, kefu's) against random ones
(uuid4), as the messages table grows, in benchmarks/results/intake_ids.md.

    python -m benchmarks.intake_ids [--sizes 0,100000,400000] [--rows 5000] [--rounds 5]

Two SQLite stores with kefu's schema, one per kind of id. At each size both are first filled to
that many messages, then rounds alternate between them: `--rows` messages written by the intake's
batch write, 25 a transaction (one group commit under load), each row's `public_id` made by that
kind. Measured: this process's CPU per message, SQLite's thread included. The table shows each
kind's median round and the ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import uuid_utils
import uvloop

from adapters.base import Address, InboundMessage
from app.engine.intake import _row
from app.engine.intake_sqlite import SQLiteRows
from app.store.database import create_engine
from app.store.tables import Base
from benchmarks.results_file import publish

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "intake_ids.md"
BATCH = 25
IDS: dict[str, Callable[[], str]] = {
    "random (uuid4, baseline)": lambda: uuid.uuid4().hex,
    "time-ordered (UUIDv7, kefu)": lambda: uuid_utils.uuid7().hex,
}


class Store:
    """One SQLite file and the intake writing to it, with one kind of id."""

    def __init__(self, folder: Path, make_id: Callable[[], str]) -> None:
        folder.mkdir()
        self.engine = create_engine(f"sqlite+aiosqlite:///{folder / 'kefu.db'}")
        self.write_batch = SQLiteRows(self.engine, make_id)  # what one group commit of the webhooks does
        self.count = 0

    async def create(self) -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)

    async def write(self, messages: int, batch: int) -> None:
        for _ in range(messages // batch):
            await self.write_batch([_row(_message()) for _ in range(batch)])
            self.count += batch


def _message() -> InboundMessage:
    customer = f"c{secrets.randbelow(100_000)}"
    return InboundMessage(Address("web", "default", customer), secrets.token_hex(8), "发货时间是多久呀", None, None)


async def cpu_per_message(store: Store, rows: int) -> float:
    started = time.process_time()
    await store.write(rows, BATCH)
    return (time.process_time() - started) / rows * 1e6


async def measure(folder: Path, sizes: list[int], rows: int, rounds: int) -> dict[tuple[str, int], float]:
    stores = {name: Store(folder / str(n), make) for n, (name, make) in enumerate(IDS.items())}
    medians: dict[tuple[str, int], float] = {}
    try:
        for store in stores.values():
            await store.create()
        for size in sizes:
            for store in stores.values():
                await store.write(max(size - store.count, 0), 200)
            samples: dict[str, list[float]] = {name: [] for name in stores}
            for _ in range(rounds):
                for name, store in stores.items():
                    samples[name].append(await cpu_per_message(store, rows))
            medians |= {(name, size): statistics.median(values) for name, values in samples.items()}
    finally:
        for store in stores.values():
            await store.engine.dispose()
    return medians


def report(medians: dict[tuple[str, int], float], args: argparse.Namespace) -> str:
    baseline, kefu = IDS
    lines = [
        "# Intake: CPU per stored message, time-ordered against random ids, as the table grows",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%dT%H:%M+00:00}",
        f"- machine: {platform.platform()}, {os.cpu_count()} cores, shared with other work;"
        f" Python {platform.python_version()}",
        f"- SQLite with kefu's schema and settings (WAL, synchronous=NORMAL); {args.rows} messages per round,"
        f" {BATCH} a transaction, through the intake's batch write; customers among 100,000; this process's"
        f" CPU, SQLite's thread included; median of {args.rounds} alternating rounds",
        "",
        f"| messages stored before | {baseline} µs | {kefu} µs | ratio |",
        "|---|---|---|---|",
    ]
    for size in args.sizes:
        old, new = medians[(baseline, size)], medians[(kefu, size)]
        lines.append(f"| {size:,} | {old:,.0f} | {new:,.0f} | {new / old:.2f} |")
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory() as folder:
        medians = await measure(Path(folder), args.sizes, args.rows, args.rounds)
    return report(medians, args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda s: [int(n) for n in s.split(",")], default=[0, 100_000, 400_000])
    parser.add_argument("--rows", type=int, default=5000, help="messages per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; the median is reported")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    text = uvloop.run(run(args))
    publish(text, args.out)


if __name__ == "__main__":
    main()
