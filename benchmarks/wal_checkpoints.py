"""How long a COMMIT holds the event loop when SQLite checkpoints inside it (its default) against
checkpoints on the service's thread (app/store/wal_checkpoints.py), in benchmarks/results/wal_checkpoints.md.

    python -m benchmarks.wal_checkpoints [--commits 3000] [--batch 5] [--rounds 5] [--every 0.1]

Each round stores `--commits` group commits of `--batch` messages through the intake's SQLite write
(app/engine/intake_sqlite.py) on a fresh store with kefu's schema, a 2 ms pause between commits (a
busy instance's pace); the two set-ups alternate. Measured on the event loop's thread: each write's
wall time, from the call to its COMMIT's return; and the process's CPU per commit, all threads.
The table shows each set-up's median round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from app.engine.intake import _row
from app.engine.intake_sqlite import SQLiteRows
from app.store.database import create_engine
from app.store.tables import Base
from app.store.wal_checkpoints import CHECKPOINT_SECONDS, WalCheckpoints
from benchmarks.intake_write import inbound_message
from benchmarks.results_file import publish, revision

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "wal_checkpoints.md"
ON_COMMIT, THREAD = "in the COMMIT (SQLite's default)", "on the service's thread (kefu serve)"
PAUSE_SECONDS = 0.002


async def one_round(folder: Path, setup: str, args: argparse.Namespace) -> dict[str, float]:
    url = f"sqlite+aiosqlite:///{folder / 'kefu.db'}"
    engine = create_engine(url, checkpoint_on_commit=setup == ON_COMMIT)
    checkpoints = WalCheckpoints.for_url(url, every=args.every) if setup == THREAD else None
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        if checkpoints is not None:
            checkpoints.start()
        write, times = SQLiteRows(engine), []
        cpu = time.process_time()
        for _ in range(args.commits):
            rows = [_row(inbound_message()) for _ in range(args.batch)]
            started = time.perf_counter()
            await write(rows)
            times.append(time.perf_counter() - started)
            await asyncio.sleep(PAUSE_SECONDS)
        cpu = time.process_time() - cpu
    finally:
        if checkpoints is not None:
            checkpoints.stop()
        await engine.dispose()
    times.sort()
    return {
        "mean": statistics.fmean(times) * 1e3,
        "p50": times[len(times) // 2] * 1e3,
        "p99": times[int(len(times) * 0.99)] * 1e3,
        "max": times[-1] * 1e3,
        "over 2 ms": sum(1 for t in times if t > 0.002),
        "cpu": cpu / args.commits * 1e6,
    }


async def measure(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    rounds: dict[str, list[dict[str, float]]] = {ON_COMMIT: [], THREAD: []}
    with tempfile.TemporaryDirectory() as temp:
        for number in range(args.rounds):
            order = [ON_COMMIT, THREAD] if number % 2 == 0 else [THREAD, ON_COMMIT]
            for setup in order:
                folder = Path(temp) / f"{number}-{order.index(setup)}"
                folder.mkdir()
                rounds[setup].append(await one_round(folder, setup, args))
    return {
        setup: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for setup, results in rounds.items()
    }


def report(medians: dict[str, dict[str, float]], args: argparse.Namespace) -> str:
    lines = [
        "# SQLite checkpoints: in the COMMIT against on a thread of their own",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%dT%H:%M+00:00}; revision {revision()}",
        f"- machine: {platform.platform()}, {os.cpu_count()} cores, shared with other work;"
        f" Python {platform.python_version()}",
        f"- {args.commits} group commits of {args.batch} messages per round through the intake's SQLite write,"
        f" {PAUSE_SECONDS * 1e3:g} ms apart, each round on a fresh store with kefu's schema and settings (WAL,"
        f" synchronous=NORMAL); the thread checkpoints every {args.every:g} s;"
        f" median of {args.rounds} alternating rounds",
        "- write: wall time on the event loop's thread from the call to its COMMIT's return;"
        " CPU: the process's, all threads, per commit",
        "",
        "| checkpoints | write mean / p50 / p99 ms | slowest write ms | writes over 2 ms | CPU per commit |",
        "|---|---|---|---|---|",
    ]
    for setup, m in medians.items():
        writes = f"{m['mean']:.2f} / {m['p50']:.2f} / {m['p99']:.2f}"
        cells = f"{writes} | {m['max']:.1f} | {m['over 2 ms']:.0f} | {m['cpu']:,.0f} µs"
        lines.append(f"| {setup} | {cells} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=3000, help="group commits per round")
    parser.add_argument("--batch", type=int, default=5, help="messages per commit")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; the median is reported")
    parser.add_argument(
        "--every", type=float, default=CHECKPOINT_SECONDS, help="seconds between the thread's checkpoints"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    publish(report(uvloop.run(measure(args)), args), args.out)


if __name__ == "__main__":
    main()
