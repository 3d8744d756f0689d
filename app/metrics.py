"""kefu's live figures for Prometheus at /metrics: what came in, what the bot did, how long people waited.

Counters and histograms are bumped where the event happens, after its commit; gauges that
describe the store (queue lengths, outbox backlog) are read from it every few seconds, so
every instance reports the same shared truth. Label values are bounded: channels, queues,
levels, reason rules and FAQ entry ids, never customer ids or text.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.store.tables import Conversation, ConversationState, OutboxItem, OutboxStatus

log = logging.getLogger(__name__)

FIRST_RESPONSE_TARGET_SECONDS = 30.0
_WAIT_BUCKETS = (5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
_FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

MESSAGES_IN = Counter("kefu_messages_in_total", "Customer messages accepted (stored once)", ["channel"])
MESSAGES_OUT = Counter("kefu_messages_out_total", "Messages delivered to customers", ["channel", "sender"])
DELIVERY_FAILURES = Counter(
    "kefu_delivery_failures_total", "Delivery attempts that failed (retried) or gave up", ["channel", "final"]
)
DELIVERY_PROCESS_EXITS = Counter(
    "kefu_delivery_process_exits_total", "Delivery processes (KEFU_OUTBOX__PROCESS) that died and were replaced"
)
ENGINE_PROCESS_EXITS = Counter(
    "kefu_engine_process_exits_total", "Engine processes (KEFU_ENGINE__PROCESS) that died and were replaced"
)
FAQ_OUTCOMES = Counter("kefu_faq_outcomes_total", "What the bot did with a message it handled", ["decision"])
FAQ_ANSWERS = Counter("kefu_faq_answers_total", "Answers given per FAQ entry", ["entry"])
HANDOFFS = Counter("kefu_handoffs_total", "Conversations handed to people", ["reason", "queue", "level"])
QUEUE_WAIT = Histogram("kefu_queue_wait_seconds", "Handoff to assignment", ["queue"], buckets=_WAIT_BUCKETS)
FIRST_RESPONSE = Histogram(
    "kefu_first_response_seconds", "Handoff to the first human reply", ["queue"], buckets=_WAIT_BUCKETS
)
RESOLUTION = Histogram(
    "kefu_resolution_seconds", "Conversation start to close, for conversations closed", buckets=_WAIT_BUCKETS
)
SLA_BREACHES = Counter("kefu_sla_breaches_total", "Service-level misses", ["kind"])
SATISFACTION = Counter("kefu_satisfaction_total", "Customer ratings after a close", ["score"])
MATCH_SECONDS = Histogram(
    "kefu_faq_match_seconds", "Time to decide one message (read + FAQ + policy)", buckets=_FAST_BUCKETS
)
REQUEST_SECONDS = Histogram(
    "kefu_http_request_seconds", "HTTP request latency", ["route", "method", "status"], buckets=_FAST_BUCKETS
)
QUEUE_LENGTH = Gauge("kefu_queue_length", "Conversations waiting for a person", ["queue"])
OUTBOX_BACKLOG = Gauge("kefu_outbox_backlog", "Replies not yet delivered")
SQLITE_WAL_PAGES = Gauge(
    "kefu_sqlite_wal_pages", "Pages left in SQLite's write-ahead log after the last checkpoint (embedded mode)"
)


@functools.cache
def child(metric: MetricWrapperBase, *labels: str) -> MetricWrapperBase:
    """`metric.labels(*labels)`, looked up once: `labels` checks its arguments and takes a lock on every
    call, a measurable share of a webhook's CPU. For label values from a small fixed set only."""
    return metric.labels(*labels)


def handoff(reasons: Iterable[str], queue: str, level: str) -> None:
    """One count per reason rule ("risk:threat", "unresolved_turns"…), without its free-text detail."""
    for reason in reasons or ("unknown",):
        HANDOFFS.labels(reason.split(": ", 1)[0], queue, level).inc()


def first_response(queue: str | None, seconds: float) -> None:
    FIRST_RESPONSE.labels(queue or "none").observe(seconds)
    if seconds > FIRST_RESPONSE_TARGET_SECONDS:
        SLA_BREACHES.labels("first_response").inc()


class StoreGauges:
    """Refresh the gauges that describe the store every `interval` seconds."""

    def __init__(self, sessions: async_sessionmaker, queues: callable, interval: float = 5.0) -> None:
        self._sessions = sessions
        self._queues = queues  # the live queue ids, so an emptied queue reads 0 rather than vanishing
        self._interval = interval
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="metrics gauges")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self) -> None:
        async with self._sessions() as session:
            waiting = dict(
                (
                    await session.execute(
                        select(Conversation.queue, func.count())
                        .where(Conversation.state == ConversationState.QUEUED)
                        .group_by(Conversation.queue)
                    )
                ).all()
            )
            backlog = await session.scalar(
                select(func.count()).select_from(OutboxItem).where(OutboxItem.status == OutboxStatus.PENDING)
            )
        for queue in set(self._queues()) | set(waiting):
            QUEUE_LENGTH.labels(queue or "none").set(waiting.get(queue, 0))
        OUTBOX_BACKLOG.set(backlog or 0)

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # a busy store skips one refresh; the figures are a view, not the truth
                log.warning("metrics gauges not refreshed: %s", type(exc).__name__)
            await asyncio.sleep(self._interval)
