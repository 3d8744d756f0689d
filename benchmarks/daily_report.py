"""What the daily report (日报) costs the event loop, in benchmarks/results/daily_report.md.

    python -m benchmarks.daily_report [--messages 100000] [--rounds 5]

`/api/ops/reports/daily` is served by kefu's own event loop (webhooks wait meanwhile). A SQLite
store is seeded with `--messages` customer messages, each with the bot's reply and its decision as
the engine stores them, in conversations started from six hours before the day to the end of the
next one: three in four the bot's alone, the rest handed off (a few as 留言), most of those
served by one of 20 agents, some transferred, some rated, some reviewed (质检); most customers
come back once or more. Timed, median of `--rounds`, CPU of the event loop's thread and wall time:

- baseline, in the same process: the report as kefu made it before, reading the day's customer
  messages one by one and every conversation of the day as an object (benchmarks/one_by_one.py);
- now: app/quality_report.py, where the database counts.

The two reports must be equal, figure for figure, or no result is written.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import tempfile
import uuid
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

import uvloop
from sqlalchemy import create_engine, insert

from app.quality import day_bounds
from app.quality_report import daily_report
from app.store.database import create_engine as create_async_engine
from app.store.database import session_factory
from app.store.migrate import upgrade
from app.store.tables import Agent, Conversation, Message, QualityReview, StateTransition
from benchmarks import one_by_one
from benchmarks.loop_cost import HEADER, row, timed
from benchmarks.results_file import publish, revision
from routing.rules import IDLE_DISPOSITION

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "daily_report.md"
DAY = date(2026, 11, 11)
PER_CONVERSATION = 4
AGENTS = 20
BOT_DECISIONS = (
    ("answer", "faq:answer: ship 0.92", "ship"),
    ("answer", "picked suggestion", "invoice"),
    ("suggest", "faq:suggest: refund_card", None),
    ("clarify", "faq:none", None),
)
DISPOSITIONS = ("物流", "退换货", "咨询", "质量", "服务态度", IDLE_DISPOSITION)


class Seed:
    """The rows of the store, made with one random generator so every run seeds the same."""

    def __init__(self, day: date) -> None:
        self.rng = random.Random(11)
        self.start = day_bounds(day)[0] - timedelta(hours=6)
        self.agents = [
            {"id": uuid.uuid4().hex, "username": f"agent{n}", "name": f"客服{n}", "role": "agent",
             "token_hash": uuid.uuid4().hex * 2}
            for n in range(AGENTS)
        ]  # fmt: skip
        self.conversations: list[dict] = []
        self.messages: list[dict] = []
        self.transitions: list[dict] = []
        self.reviews: list[dict] = []

    def conversation(self, customer: str) -> int:
        """One conversation of `customer`; the number of customer messages it has."""
        rng = self.rng
        created = self.start + timedelta(seconds=rng.randint(0, 54 * 3600))
        chat = {"id": uuid.uuid4().hex, "channel": "web", "account": "default", "customer_id": customer,
                "state": "closed", "created_at": created}  # fmt: skip
        handoff = None
        if rng.random() < 0.25:
            handoff = (rng.choice(("presale", "aftersale", "logistics", "complaints")), rng.choice("111112223"))
            chat.update(self._handed(created, *handoff))
            if chat.get("ticket"):  # still waiting: the customer's one open conversation
                chat["customer_id"] = f"ticket-{len(self.conversations)}"
        else:
            chat.update(closed_at=created + timedelta(minutes=30), disposition=IDLE_DISPOSITION)
        self.conversations.append(chat)
        at, turns = created, PER_CONVERSATION if handoff is None else 2
        for number in range(turns):
            at += timedelta(seconds=rng.randint(20, 120))
            last = handoff is not None and number == 1
            action, reason, faq_id = ("handoff", "emotion:angry: 垃圾", None) if last else rng.choice(BOT_DECISIONS)
            meta = {"action": action, "reasons": [reason]}
            if last:
                meta["handoff"] = {"queue": handoff[0], "level": f"L{handoff[1]}"}
            self._turn(chat, at, meta, faq_id)
        return turns

    def _handed(self, created: datetime, queue: str, level: str) -> dict:
        rng = self.rng
        queued = created + timedelta(minutes=3)
        fields = {"queue": queue, "level": f"L{level}", "priority": 10, "queued_at": queued}
        if rng.random() < 0.05:
            return fields | {"ticket": True, "state": "queued"}
        assigned = queued + timedelta(seconds=rng.randint(5, 300))
        replied = assigned + timedelta(seconds=rng.randint(3, 120)) if rng.random() < 0.9 else None
        closed = (replied or assigned) + timedelta(minutes=rng.randint(1, 30))
        agent = rng.choice(self.agents)["id"]
        fields |= {"assigned_at": assigned, "first_agent_reply_at": replied, "closed_at": closed, "agent_id": agent}
        fields |= {"disposition": rng.choice(DISPOSITIONS), "satisfaction": rng.choice((None, None, 1, 2, 3, 4, 5))}
        return fields

    def _turn(self, chat: dict, at: datetime, meta: dict, faq_id: str | None) -> None:
        asked = uuid.uuid4().hex
        common = {"conversation_id": chat["id"], "channel": "web", "account": "default",
                  "customer_id": chat["customer_id"], "created_at": at}  # fmt: skip
        self.messages.append(
            {**common, "public_id": uuid.uuid4().hex, "direction": "in", "sender": "customer",
             "platform_message_id": asked, "in_reply_to": None, "text": "什么时候发货", "processed_at": at,
             "meta": {"reading": None}}
        )  # fmt: skip
        self.messages.append(
            {**common, "public_id": uuid.uuid4().hex, "direction": "out", "sender": "bot", "faq_id": faq_id,
             "platform_message_id": None, "in_reply_to": asked, "text": "好的", "processed_at": None, "meta": meta}
        )  # fmt: skip

    def agents_work(self) -> None:
        """Transfers and re-queues of some served chats, and 质检 reviews of some."""
        boss = self.agents[0]["id"]
        for chat in self.conversations:
            if chat.get("agent_id") and self.rng.random() < 0.08:
                self.transitions.append(
                    {"conversation_id": chat["id"], "from_state": "with_agent", "to_state": "queued",
                     "reason": "transferred", "created_at": chat["assigned_at"]}
                )  # fmt: skip
            if chat.get("agent_id") and self.rng.random() < 0.1:
                self.reviews.append(
                    {"conversation_id": chat["id"], "agent_id": chat["agent_id"], "reviewer_id": boss,
                     "politeness": self.rng.randint(1, 5), "accuracy": self.rng.randint(1, 5),
                     "resolution": self.rng.randint(1, 5)}
                )  # fmt: skip


def seed(db: Path, messages: int) -> int:
    """Seed the store; the number of customer messages stored."""
    rows, stored = Seed(DAY), 0
    customers = max(messages // PER_CONVERSATION * 2 // 3, 1)  # most customers come back
    while stored < messages:
        stored += rows.conversation(f"c{rows.rng.randrange(customers)}")
    rows.agents_work()
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as connection:
        for table, values in (
            (Agent, rows.agents),
            (Conversation, rows.conversations),
            (Message, rows.messages),
            (StateTransition, rows.transitions),
            (QualityReview, rows.reviews),
        ):
            if values:
                # each table's rows grouped by their keys: one INSERT per shape
                for keys in {tuple(sorted(v)) for v in values}:
                    connection.execute(insert(table), [v for v in values if tuple(sorted(v)) == keys])
    engine.dispose()
    return stored


async def measure(args) -> tuple[int, list[tuple[str, float, float, dict]]]:
    with tempfile.TemporaryDirectory(prefix="kefu-daily-report-") as folder:
        db = Path(folder) / "kefu.db"
        url = f"sqlite+aiosqlite:///{db}"
        await asyncio.to_thread(upgrade, url)
        stored = seed(db, args.messages)
        engine = create_async_engine(url)
        sessions, now = session_factory(engine), day_bounds(DAY)[1] + timedelta(days=2)
        ways = {
            "every message and conversation read one by one (baseline)": one_by_one.daily_report,
            "counted by the database (app/quality_report.py)": daily_report,
        }
        try:
            rows = []
            for name, make in ways.items():
                rows.append((name, *await timed(sessions, partial(make, day=DAY, now=now), args.rounds)))
            return stored, rows
        finally:
            await engine.dispose()


def report(stored: int, rows: list[tuple], args) -> str:
    figures = rows[-1][3]
    lines = [
        "# The daily report (日报): the event loop's cost",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%dT%H:%M}+00:00; revision {revision()}",
        f"- machine: {platform.platform()}, Python {platform.python_version()}; SQLite store",
        f"- {stored:,} customer messages, each with the bot's reply, in conversations started from 6 hours before"
        f" {DAY} to the end of the next day; the report of {DAY}: {figures['messages']['messages']:,} messages,"
        f" {figures['bot_containment']['started']:,} conversations started, {figures['first_response']['count']:,}"
        f" first responses, {figures['one_touch']['closed_by_agents']:,} chats closed by agents;"
        f" median of {args.rounds} rounds",
        "- both reports were equal, figure for figure",
        "",
        *HEADER,
        *(row(name, thread, wall, rows[0][1:3]) for name, thread, wall, _ in rows),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    stored, rows = uvloop.run(measure(args))
    if rows[0][3] != rows[1][3]:
        differ = {key for key in rows[0][3] if rows[0][3][key] != rows[1][3].get(key)}
        raise SystemExit(f"the two reports differ in {sorted(differ)}")
    publish(report(stored, rows, args), args.out)


if __name__ == "__main__":
    main()
