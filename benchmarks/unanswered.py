"""What finding the unanswered questions costs the event loop, in benchmarks/results/unanswered.md.

    python -m benchmarks.unanswered [--messages 100000] [--rounds 5]

The ops page asks for the unanswered questions of the last 7 days on every load, on kefu's own
event loop (webhooks wait meanwhile). A SQLite store is seeded with `--messages` customer messages
over six days, each with the bot's reply and its decision as the engine stores them (answers,
suggestions, clarifications, handoffs, suggestions picked by number), five to a conversation.
Timed, median of `--rounds`, CPU of the event loop's thread and wall time:

- baseline, in the same process: the period's turns read one by one (`customer_turns`, kept in
  benchmarks/one_by_one.py) and the unanswered ones picked in Python, as kefu did before the
  database told them apart;
- now: app/gaps.py's query, which returns only the unanswered messages.

Both are then grouped the same way (app/gaps.py's `cluster`, included in each figure) and must find
the same messages.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import subprocess
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvloop
from sqlalchemy import create_engine, insert

from app.decisions import PICKED
from app.gaps import Reader, cluster, find_gaps, reader_for
from app.knowledge import build_knowledge_base
from app.settings import SAMPLE_FAQ_DIR
from app.store.database import create_engine as create_async_engine
from app.store.database import session_factory
from app.store.migrate import upgrade
from app.store.tables import Conversation, Message
from benchmarks.loop_cost import timed
from benchmarks.one_by_one import customer_turns
from benchmarks.results_file import publish

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "unanswered.md"
PER_CONVERSATION = 5
DECISIONS = (
    ("answer", "faq:answer"),
    ("answer", PICKED),
    ("suggest", "faq:suggest: refund_card"),
    ("clarify", "faq:none"),
    ("handoff", "emotion:angry: 垃圾"),
    ("handoff", "unresolved_turns: 2 bot turns in a row did not help"),
)
TEXTS = ("实体店在哪里", "能用数字人民币吗", "可以寄到火星吗", "什么时候发货", "能开发票吗", "有没有优惠券")


def seed(db: Path, messages: int, now: datetime) -> None:
    rng, conversations, rows = random.Random(7), [], []
    for number in range(messages // PER_CONVERSATION):
        chat, customer = uuid.uuid4().hex, f"c{number}"
        conversations.append(
            {"id": chat, "channel": "web", "account": "default", "customer_id": customer, "state": "closed"}
        )
        for _ in range(PER_CONVERSATION):
            at = now - timedelta(minutes=rng.randint(1, 6 * 24 * 60))
            asked = uuid.uuid4().hex
            action, reason = rng.choice(DECISIONS)
            common = {"conversation_id": chat, "channel": "web", "account": "default", "customer_id": customer}
            rows.append(
                {**common, "public_id": uuid.uuid4().hex, "direction": "in", "sender": "customer",
                 "platform_message_id": asked, "in_reply_to": None, "text": f"{rng.choice(TEXTS)}{rng.randint(0, 50)}",
                 "created_at": at, "processed_at": at, "meta": {"reading": None}}
            )  # fmt: skip
            rows.append(
                {**common, "public_id": uuid.uuid4().hex, "direction": "out", "sender": "bot",
                 "platform_message_id": None, "in_reply_to": asked, "text": "好的", "created_at": at,
                 "processed_at": None, "meta": {"action": action, "reasons": [reason]}}
            )  # fmt: skip
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as connection:
        connection.execute(insert(Conversation), conversations)
        connection.execute(insert(Message), rows)
    engine.dispose()


async def one_by_one(session, start: datetime, end: datetime, read: Reader) -> list:
    """The baseline: every turn of the period read, the unanswered ones picked in Python."""
    turns = await customer_turns(session, start, end)
    latest, picked = {}, set()
    for turn in turns:  # suggestions whose conversation's next message picked one, as kefu marked them
        before = latest.get(turn.conversation_id)
        if before is not None and before.action == "suggest" and turn.reason == PICKED:
            picked.add(before.id)
        latest[turn.conversation_id] = turn
    gaps = [
        t
        for t in turns
        if t.action == "clarify"
        or (t.action == "suggest" and t.id not in picked)
        or (t.action == "handoff" and t.reason == "unresolved_turns")
    ]
    return cluster([(t.text, t.at) for t in gaps], read)


async def measure(args) -> list[tuple]:
    with tempfile.TemporaryDirectory(prefix="kefu-unanswered-") as folder:
        db, now = Path(folder) / "kefu.db", datetime.now(UTC)
        url = f"sqlite+aiosqlite:///{db}"
        await asyncio.to_thread(upgrade, url)
        seed(db, args.messages, now)
        engine = create_async_engine(url)
        sessions, read = session_factory(engine), reader_for(build_knowledge_base(SAMPLE_FAQ_DIR, {}))
        start = now - timedelta(days=7)
        ways = {
            "turns read one by one, picked in Python (baseline)": one_by_one,
            "told apart by the database (app/gaps.py)": find_gaps,
        }
        try:
            rows = []
            for name, find in ways.items():
                thread, wall, found = await timed(sessions, lambda s, find=find: find(s, start, now, read), args.rounds)
                rows.append((name, thread, wall, sum(g.count for g in found), len(found)))
            return rows
        finally:
            await engine.dispose()


def report(rows: list[tuple], args) -> str:
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    base_thread, base_wall = rows[0][1], rows[0][2]
    lines = [
        "# Finding the unanswered questions: the event loop's cost",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%dT%H:%M}+00:00; revision {revision.stdout.strip() or 'unknown'}",
        f"- machine: {platform.platform()}, Python {platform.python_version()}; SQLite store",
        f"- {args.messages:,} customer messages over 6 days, each with the bot's reply, {PER_CONVERSATION} to a"
        f" conversation; the last 7 days asked for, median of {args.rounds} rounds, grouping included",
        "",
        "| how | event loop's thread s | ÷ baseline | wall s | ÷ baseline | unanswered messages | groups |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, thread, wall, count, groups in rows:
        lines.append(
            f"| {name} | {thread:.3f} | {thread / base_thread:.2f} | {wall:.3f} | {wall / base_wall:.2f}"
            f" | {count:,} | {groups:,} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    rows = uvloop.run(measure(args))
    if len({row[3] for row in rows}) != 1:
        raise SystemExit(f"the two ways found different messages: {rows}")
    publish(report(rows, args), args.out)


if __name__ == "__main__":
    main()
