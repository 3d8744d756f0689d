"""What the outbox's scan walks past after a platform outage, in benchmarks/results/outbox_backlog.md.

    python -m benchmarks.outbox_backlog [--conversations 2000] [--rounds 3]

While a platform is down, each conversation's first reply fails and waits in backoff, and the
replies after it (customers keep writing) cannot go before it. The outbox scans for due replies
after every burst of deliveries, on the one SQLite connection the engine and the intake use too;
every row it looks at and leaves (due by its own time, but blocked by the one before it) costs
each scan. kefu's services are built as `kefu serve` builds them (SQLite, the web channel, the
outbox's first backoff at 30 s, as a few minutes into an outage), the callback endpoint answers
503 (a real HTTP server on 127.0.0.1), and `--rounds` times, every conversation gets a reply, a
second apart. Then the outbox stops, and its scan query is timed on
the store it left (median of 20): the rows pending, the rows due by their own time (what a scan
walks), and the scan's ms. The baseline, in the same process, is the scan on an empty outbox.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import uvloop
from aiohttp import web
from sqlalchemy import insert, select
from sqlalchemy.dialects import sqlite

from app.engine.batch_writes import BatchWrites
from app.engine.outbox import _DUE
from app.services import Services
from app.settings import Settings
from app.store.migrate import upgrade
from app.store.tables import Conversation, ConversationState, new_id
from benchmarks.load_servers import free_port
from benchmarks.results_file import publish, revision

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "outbox_backlog.md"
SCANS = 20
BACKOFF = 30.0  # seconds before a failed reply's next try: an outage some minutes old (it doubles up to 300)


async def outage(folder: Path, conversations: int, rounds: int) -> Path:
    """The store after `rounds` replies to each conversation while the callback answered 503."""
    port = free_port()
    down = web.Application()
    down.router.add_post("/callback", lambda request: web.Response(status=503))
    runner = web.AppRunner(down, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"sqlite+aiosqlite:///{folder}/kefu.db"
    await asyncio.to_thread(upgrade, url)
    callback = {"secret": "x", "callback_url": f"http://127.0.0.1:{port}/callback"}
    settings = Settings(database_url=url, web=callback, outbox={"base_delay_seconds": BACKOFF})
    services = Services.build(settings)
    try:
        ids = [new_id() for _ in range(conversations)]
        async with services.sessions.begin() as session:
            rows = [{"id": i, "customer_id": f"c{n}", "state": ConversationState.BOT} for n, i in enumerate(ids)]
            await session.execute(insert(Conversation).values(channel="web", account="default"), rows)
        services.outbox.start()
        for _ in range(rounds):
            writes = BatchWrites()
            async with services.sessions.begin() as session:
                chats = (await session.scalars(select(Conversation))).all()
                replies = [writes.reply(chat, sender="bot", text="亲，在的～") for chat in chats]
                await writes.write(session)
            for reply in replies:
                services.deliver(reply)
            await asyncio.sleep(1)
        await asyncio.sleep(2)  # the last round's first tries fail too
    finally:
        await services.stop()  # the outbox stores what it tried, and the store is left as it is
        await runner.cleanup()
    return folder / "kefu.db"


def scanned(db: Path) -> tuple[int, int, float]:
    """Rows pending, rows due by their own time, median ms of the outbox's scan query."""
    compiled = _DUE[False].compile(dialect=sqlite.dialect())
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    values = {**compiled.params, "now": now, "limit": 64}
    parameters = [values[name] for name in compiled.positiontup]
    with sqlite3.connect(db) as connection:
        pending, due = connection.execute(
            "SELECT count(*), sum(next_attempt_at <= ?) FROM outbox WHERE status = 'pending'", (now,)
        ).fetchone()
        times = []
        for _ in range(SCANS):
            start = time.perf_counter()
            connection.execute(str(compiled), parameters).fetchall()
            times.append((time.perf_counter() - start) * 1000)
    return pending, due or 0, statistics.median(times)


def report(rows: list[tuple[str, int, int, float]], baseline: float, args) -> str:
    lines = [
        "# The outbox after a platform outage: what each scan walks past",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%dT%H:%M}+00:00; revision {revision()}",
        f"- machine: {platform.platform()}, Python {platform.python_version()}; SQLite store, the outbox's first"
        f" backoff {BACKOFF:.0f} s",
        f"- {args.conversations:,} conversations, {args.rounds} replies each a second apart, the callback answering"
        f" 503; then the scan query timed {SCANS} times on the store left (median)",
        "",
        "| store | replies pending | due by their own time (walked by a scan) | scan ms | ÷ empty outbox |",
        "|---|---|---|---|---|",
    ]
    for name, pending, due, ms in rows:
        lines.append(f"| {name} | {pending:,} | {due:,} | {ms:.2f} | {ms / baseline:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="replies to each conversation during the outage")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kefu-outbox-") as temp:
        empty = Path(temp) / "empty"
        empty.mkdir()
        upgrade(f"sqlite+aiosqlite:///{empty}/kefu.db")
        _, _, baseline = scanned(empty / "kefu.db")
        after = Path(temp) / "after"
        after.mkdir()
        db = uvloop.run(outage(after, args.conversations, args.rounds))
        rows = [("empty outbox (baseline)", 0, 0, baseline), ("after the outage", *scanned(db))]
    publish(report(rows, baseline, args), args.out)


if __name__ == "__main__":
    main()
