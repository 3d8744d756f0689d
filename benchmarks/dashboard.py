"""What the ops dashboard's waits cost the event loop on a promotion day, in benchmarks/results/dashboard.md.

    python -m benchmarks.dashboard [--handoffs 100000] [--rounds 3]

The ops page asks `/api/ops/stats?range=24h` every minute, on kefu's own event loop (webhooks wait
meanwhile). Its queue waits and first responses are medians and p90s of every chat handed off in
the 24 hours: 双十一's two million chats in twelve hours hand off a few hundred thousand. A SQLite
store is seeded with `--handoffs` chats handed off over the last 24 hours, most of them served
(assigned, answered, closed) and some rated, and two days of older ones before them. Timed, median of
`--rounds`, CPU of the event loop's thread and wall time:

- baseline, in the same process: one row per chat read and the figures worked out in Python, as
  kefu did before (benchmarks/one_by_one.py);
- now: app/ops_stats.py, where the database ranks the waits and returns a few rows per group.

The two sets of figures must be equal, or no result is written.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import uvloop
from sqlalchemy import create_engine, insert

from app.ops_stats import read_stats
from app.store.database import create_engine as create_async_engine
from app.store.database import session_factory
from app.store.migrate import upgrade
from app.store.tables import Conversation
from benchmarks import one_by_one
from benchmarks.loop_cost import HEADER, row, timed
from benchmarks.results_file import publish, revision

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "dashboard.md"
HISTORY_DAYS = 2  # older handoffs before the 24 hours, as many a day


def seed(db: Path, handoffs: int, now: datetime) -> None:
    rng, rows = random.Random(5), []
    for number in range(handoffs * (1 + HISTORY_DAYS)):
        queued = now - timedelta(seconds=rng.randint(60, 86_400 * (1 + HISTORY_DAYS)))
        row = {"id": uuid.uuid4().hex, "channel": "web", "account": "default", "customer_id": f"c{number}",
               "state": "closed", "queue": "aftersale", "level": "L1", "priority": 10, "queued_at": queued,
               "created_at": queued - timedelta(minutes=2), "ticket": rng.random() < 0.03}  # fmt: skip
        assigned = queued + timedelta(milliseconds=rng.randint(500, 600_000))
        replied = assigned + timedelta(milliseconds=rng.randint(1_000, 90_000))
        closed = assigned + timedelta(minutes=rng.randint(2, 40))
        rating = rng.choice((None, None, None, 1, 2, 3, 4, 5))
        row["state"] = "queued"  # until each step is past: nothing is dated after now
        if not row["ticket"] and rng.random() < 0.9 and assigned < now:
            row |= {"state": "with_agent", "assigned_at": assigned}
            if replied < now and rng.random() < 0.95:
                row["first_agent_reply_at"] = replied
            if closed < now:
                row |= {"state": "closed", "closed_at": closed, "satisfaction": rating}
        rows.append(row)
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as connection:
        for keys in {tuple(sorted(row)) for row in rows}:  # one INSERT per shape of row
            connection.execute(insert(Conversation), [row for row in rows if tuple(sorted(row)) == keys])
    engine.dispose()


async def measure(args) -> list[tuple[str, float, float, dict]]:
    with tempfile.TemporaryDirectory(prefix="kefu-dashboard-") as folder:
        db, now = Path(folder) / "kefu.db", datetime.now(UTC)
        url = f"sqlite+aiosqlite:///{db}"
        await asyncio.to_thread(upgrade, url)
        seed(db, args.handoffs, now)
        engine = create_async_engine(url)
        sessions = session_factory(engine)
        ways = {
            "one row per chat, figures in Python (baseline)": one_by_one.read_stats,
            "ranked by the database (app/ops_stats.py)": read_stats,
        }
        try:
            return [
                (name, *await timed(sessions, partial(read, range_="24h", now=now), args.rounds))
                for name, read in ways.items()
            ]
        finally:
            await engine.dispose()


def report(rows: list[tuple], args) -> str:
    totals = rows[-1][3]["totals"]
    lines = [
        "# The ops dashboard's waits on a promotion day: the event loop's cost",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%dT%H:%M}+00:00; revision {revision()}",
        f"- machine: {platform.platform()}, Python {platform.python_version()}; SQLite store",
        f"- {args.handoffs:,} chats handed off in the last 24 hours ({rows[-1][3]['scanned']['conversations']:,} in the"
        f" dashboard's hours), {args.handoffs * HISTORY_DAYS:,} in the {HISTORY_DAYS} days before;"
        f" `/api/ops/stats?range=24h`: {totals['queue_wait']['count']:,} queue waits,"
        f" {totals['first_response']['count']:,} first responses, {totals['satisfaction']['count']:,} ratings;"
        f" median of {args.rounds} rounds",
        "- both ways gave the same figures",
        "",
        *HEADER,
        *(row(name, thread, wall, rows[0][1:3]) for name, thread, wall, _ in rows),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handoffs", type=int, default=100_000, help="chats handed off in the last 24 hours")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    rows = uvloop.run(measure(args))
    if rows[0][3] != rows[1][3]:
        differ = {key for key in rows[0][3] if rows[0][3][key] != rows[1][3].get(key)}
        raise SystemExit(f"the two ways differ in {sorted(differ)}")
    publish(report(rows, args), args.out)


if __name__ == "__main__":
    main()
