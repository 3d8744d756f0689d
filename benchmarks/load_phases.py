"""What benchmarks/load.py measures in a phase, and reads from kefu's store after it, on SQLite or PostgreSQL.

The embedded and the scale-out phases share this module, so both are measured and judged alike;
only the way to reach the store differs (`Fetch`: a query's rows, from sqlite3 or asyncpg).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.load_traffic import Sent

Fetch = Callable[[str], Awaitable[list]]  # a statement's rows, each a sequence
LIMITS = {"KEFU_LIMITS__PER_IP": "100000/second"}  # all load comes from one address, like a platform's
PENDING = (
    "SELECT (SELECT count(*) FROM messages WHERE direction = 'in' AND processed_at IS NULL)"
    " + (SELECT count(*) FROM outbox WHERE status = 'pending')"
)
# The bot's replies to customers' messages; {action} and {handoff} read `meta`, a JSON column, in the dialect's way.
REPLIES = (
    "SELECT in_reply_to, {action}, {handoff} IS NOT NULL FROM messages"
    " WHERE direction = 'out' AND in_reply_to IS NOT NULL"
)
REPLY_ROWS = (
    "SELECT public_id, in_reply_to, sender, text FROM messages WHERE direction = 'out' AND in_reply_to IS NOT NULL"
)
INBOUND = "SELECT platform_message_id, processed_at IS NOT NULL FROM messages WHERE direction = 'in'"
GAVE_UP = "SELECT platform_message_id FROM messages WHERE direction = 'in' AND error IS NOT NULL"


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
    others: dict[str, float] = field(default_factory=dict)  # CPU seconds of what kefu relies on, same span as `cpu`


@dataclass
class Audit:
    """Nothing lost, nothing done twice: each accepted message stored, answered once, each reply delivered once."""

    accepted: int  # messages answered 200 in the phases
    not_stored: int  # answered 200, yet not in the store
    gave_up: int  # stored, but the engine gave up on them (`messages.error`)
    answered_twice: int  # messages with one reply stored more than once (same sender and text): processed twice
    repeated: int  # callbacks for a reply that had already arrived (any reply, wait notices included)
    not_received: int  # replies stored for the phases' messages that never reached the callback endpoint

    @property
    def clean(self) -> bool:
        return not (self.not_stored or self.gave_up or self.answered_twice or self.repeated or self.not_received)


def keep_out_of_collections() -> None:
    """Collect now, and keep what earlier phases left (their sent and received records) out of the
    garbage collector's full passes during the next one.

    Those records grow to hundreds of thousands of objects over a run, and a full pass over them
    paused this process 40-80 ms at a time: callbacks and acks were timed late, and the pauses
    showed as kefu's tail latency. (kefu freezes its start-up objects the same way, app/main.py.)"""
    gc.collect()
    gc.freeze()


async def measure(
    name: str,
    server,
    traffic: Awaitable[Sent],
    drain: Callable[[], Awaitable[tuple[float | None, int]]] | None = None,
    meters: dict[str, Callable[[], float]] | None = None,
    **labels,
) -> Phase:
    """Run the traffic, wait for the backlog (`drain`), and note the CPU the server and each of `meters` used."""
    keep_out_of_collections()
    meters = meters or {}
    cpu, bench, start = server.cpu_seconds(), time.process_time(), time.perf_counter()
    others = {what: read() for what, read in meters.items()}
    sent = await traffic
    seconds = time.perf_counter() - start
    drained, conversations = await drain() if drain else (0.0, None)
    used, bench = server.cpu_seconds() - cpu, time.process_time() - bench
    others = {what: read() - others[what] for what, read in meters.items()}
    phase = Phase(name, sent, start, seconds, used, bench, drained, conversations=conversations, **labels)
    phase.finished, phase.others = time.perf_counter(), others
    print(f"{name}: {sent.accepted / seconds:,.0f} accepted/s, drained after {drained}", flush=True)
    return phase


async def drained_within(fetch: Fetch, limit: float) -> tuple[float | None, int]:
    """Seconds until no message waits for the bot and no reply for delivery (None past `limit`);
    and the conversations stored by then."""
    start, drained = time.perf_counter(), None
    while (waited := time.perf_counter() - start) < limit:
        if not (await fetch(PENDING))[0][0]:
            drained = waited
            break
        await asyncio.sleep(0.25)
    return drained, (await fetch("SELECT count(*) FROM conversations"))[0][0]


def kefu_settings(database_url: str, secret: str, callback_url: str, **extra: str) -> dict[str, str]:
    return {
        "KEFU_ENV": "test",
        "KEFU_DATABASE_URL": database_url,
        "KEFU_WEB__SECRET": secret,
        "KEFU_WEB__CALLBACK_URL": callback_url,
        "KEFU_LOG_LEVEL": "WARNING",
        **LIMITS,
        **extra,
    }


async def outcomes(fetch: Fetch, action: str, handoff: str) -> dict[str, Counter]:
    """Per phase (message id prefix), what became of each message: the first of handoff, answer,
    other reply (suggest, clarify), silent (processed, no reply: a person is awaited), unprocessed.
    `action` and `handoff` are the dialect's expressions for meta's fields."""
    replies: dict[str, set] = defaultdict(set)
    counts: dict[str, Counter] = defaultdict(Counter)
    for key, kind, handed in await fetch(REPLIES.format(action=action, handoff=handoff)):
        replies[key].add("handoff" if handed else "answer" if kind == "answer" else "other")
    for key, processed in await fetch(INBOUND):
        got = replies.get(key, set())
        kind = next((k for k in ("handoff", "answer", "other") if k in got), None)
        kind = kind or ("silent" if processed else "unprocessed")
        counts[key.rsplit("-", 1)[0]][kind] += 1
    return counts


async def audit(fetch: Fetch, receiver, phases: list[Phase]) -> Audit:
    """Compare what the generator got accepted, what the store holds and what the callback endpoint received."""
    accepted = {message_id for phase in phases for message_id in phase.sent.at}
    stored = {key for key, _ in await fetch(INBOUND)}
    replies = [row for row in await fetch(REPLY_ROWS) if row[1] in accepted]
    same = Counter((key, sender, text) for _, key, sender, text in replies)
    return Audit(
        accepted=len(accepted),
        not_stored=len(accepted - stored),
        gave_up=len({key for (key,) in await fetch(GAVE_UP)} & accepted),
        answered_twice=len({key for (key, _, _), n in same.items() if n > 1}),
        repeated=sum(n - 1 for n in receiver.arrivals.values()),
        not_received=sum(public_id not in receiver.arrivals for public_id, *_ in replies),
    )


def log_errors(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if "ERROR" in line or "Traceback" in line]
