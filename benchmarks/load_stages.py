"""Where a message's end-to-end time goes under load, stage by stage and moment by moment.

    python -m benchmarks.load_stages [--rate 500] [--seconds 5] [--waiting 3000] [--setting KEFU_NAME=VALUE]

One phase of load_revisions' open loop on the working tree (a fresh `kefu serve` on a fresh SQLite
store, the same warm-up and backlog), then each answered message's times are read back from the
store it left: stored (the message's row), decided (its processed mark, set when the bot decided),
committed (the reply's row, written with the batch's commit) and arrived (at the callback, seen by
the receiver). The stages' percentiles say which one makes the tail; the phase cut into 200 ms
windows says when it comes, beside the system messages nobody asked for (wait notices) stored in
each window: with a line waiting, the timers' tick once a second. kefu runs as load.py runs it,
its decisions and replies in child processes (CHILD_PROCESSES; a --setting overrides them).

kefu's times are its wall clock, the generator's and the receiver's perf_counter: they are put on
one clock by their offset, read once at the start, so the stages are good to a millisecond or so.
"""

from __future__ import annotations

import argparse
import secrets
import sqlite3
import tempfile
import time
from collections import defaultdict
from contextlib import closing
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import uvloop

from benchmarks.load import CHILD_PROCESSES
from benchmarks.load_revisions import ROOT, loaded_phase
from benchmarks.load_servers import CallbackReceiver
from benchmarks.results_file import publish, revision

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "load_stages.md"
WINDOW_SECONDS = 0.2
STAGES = ("sent → stored", "stored → decided", "decided → committed", "committed → arrived", "end to end")
# Each customer message of the phase with its first reply (the lowest id) and that reply's times.
TIMES = """
SELECT m.platform_message_id, m.created_at, m.processed_at, r.created_at
FROM messages AS m JOIN messages AS r ON r.id = (
    SELECT min(id) FROM messages WHERE direction = 'out' AND in_reply_to = m.platform_message_id
)
WHERE m.direction = 'in' AND m.platform_message_id LIKE ?
"""
NOTICES = "SELECT created_at FROM messages WHERE direction = 'out' AND sender = 'system' AND in_reply_to IS NULL"


def _percentile(values: list[float], share: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * share))] if values else float("nan")


def _seconds(stored: str, offset: float) -> float:
    """A time kefu stored (UTC, ISO text) as this process's perf_counter."""
    at = datetime.fromisoformat(stored)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() - offset


async def run(args) -> str:
    secret = secrets.token_hex(16)
    receiver = CallbackReceiver(secret)
    await receiver.start()
    offset = time.time() - time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="kefu-stages-") as temp:
            folder = Path(temp) / "phase"
            phase = await loaded_phase(ROOT, folder, receiver, secret, args.rate, args)
            with closing(sqlite3.connect(folder / "kefu.db")) as db:
                rows = db.execute(TIMES, (f"r{folder.name}-%",)).fetchall()
                notices = [_seconds(at, offset) - phase.started for (at,) in db.execute(NOTICES)]
    finally:
        await receiver.stop()
    stages: dict[str, list[float]] = defaultdict(list)
    windows: dict[int, list[float]] = defaultdict(list)
    for key, stored, decided, committed in rows:
        if key not in receiver.first or key not in phase.sent.at or decided is None:
            continue
        sent, arrived = phase.sent.at[key], receiver.first[key]
        times = [sent, *(_seconds(at, offset) for at in (stored, decided, committed)), arrived]
        for stage, (start, end) in zip(STAGES[:-1], pairwise(times), strict=True):
            stages[stage].append((end - start) * 1000)
        stages["end to end"].append((arrived - sent) * 1000)
        windows[int((sent - phase.started) / WINDOW_SECONDS)].append((arrived - sent) * 1000)
    told: dict[int, int] = defaultdict(int)
    for at in notices:
        if 0 <= at < args.seconds:
            told[int(at / WINDOW_SECONDS)] += 1
    return report(args, stages, windows, told)


def report(args, stages: dict[str, list[float]], windows: dict[int, list[float]], told: dict[int, int]) -> str:
    settings = "".join(f" --setting {name}={value}" for name, value in args.settings.items())
    lines = [
        "# Load: where the end-to-end time goes",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%dT%H:%M}+00:00; revision {revision()}",
        f"- parameters: `--rate {args.rate} --seconds {args.seconds} --waiting {args.waiting} --agents {args.agents}"
        f"{settings}`; one phase of load_revisions' open loop,"
        f" {len(stages['end to end']):,} messages answered before kefu stopped",
        "",
        "| stage | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|",
        *(
            f"| {stage} | {_percentile(stages[stage], 0.5):,.1f} | {_percentile(stages[stage], 0.99):,.1f}"
            f" | {max(stages[stage], default=float('nan')):,.1f} |"
            for stage in STAGES
        ),
        "",
        f"Each {WINDOW_SECONDS * 1000:.0f} ms of the phase, by the time the message was sent:",
        "",
        "| from s | messages | e2e p50 ms | e2e p99 ms | unprompted system messages stored |",
        "|---|---|---|---|---|",
        *(
            f"| {window * WINDOW_SECONDS:.1f} | {len(windows[window])} | {_percentile(windows[window], 0.5):,.0f}"
            f" | {_percentile(windows[window], 0.99):,.0f} | {told.get(window, 0)} |"
            for window in sorted(windows)
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=500, help="offered msg/s")
    parser.add_argument("--seconds", type=float, default=5, help="length of the phase")
    parser.add_argument("--waiting", type=int, default=3000, help="customers waiting for a person before the phase")
    parser.add_argument("--agents", type=int, default=0, help="agents online (5 chats each), busy once the line forms")
    parser.add_argument(
        "--setting", action="append", default=[], metavar="KEFU_NAME=VALUE", help="a setting for kefu; repeatable"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    args.settings = {**CHILD_PROCESSES, **dict(setting.split("=", 1) for setting in args.setting)}
    publish(uvloop.run(run(args)), args.out)


if __name__ == "__main__":
    main()
