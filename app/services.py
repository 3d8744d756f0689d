"""Build and wire every long-lived part of kefu, start them, and stop them in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache, partial

import httpx
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from adapters.base import Adapter, Address, OutboundMessage, PullAdapter
from adapters.feishu import FeishuAdapter
from adapters.web import WebAdapter
from app.alerts import FeishuAlerts
from app.cluster import Leadership, SharedLiveHub, live_hubs
from app.engine.assigner import Assigner
from app.engine.conversations import ConversationEngine, EngineHooks
from app.engine.delivery_process import DeliveryProcess
from app.engine.dispatcher import Dispatcher
from app.engine.handoffs import PlatformHandoffs
from app.engine.intake import Intake
from app.engine.outage import describe_storage_error
from app.engine.outbox import Outbox
from app.engine.pull import Puller
from app.engine.waiting import SUPERVISORS
from app.http_client import http_client
from app.knowledge import Routing, build_knowledge_base, build_routing
from app.live import LiveHub
from app.live_files import LiveFiles
from app.metrics import StoreGauges
from app.ops_stats import SharedFigures
from app.platforms import configured_adapters
from app.rate_limits import WebhookLimits
from app.settings import DEFAULT_RULES_FILE, Settings
from app.store.database import create_engine, create_report_engine, session_factory
from app.store.tables import Message, utcnow
from faq.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: AsyncEngine
    sessions: async_sessionmaker
    report_db: AsyncEngine  # long reads (ops figures, gaps, reports): on SQLite, a connection of their own
    reports: async_sessionmaker  # sessions on report_db
    http: httpx.AsyncClient
    adapters: dict[tuple[str, str], Adapter]  # (channel, account) -> adapter
    faq: LiveFiles[KnowledgeBase]
    routing: LiveFiles[Routing]
    live: LiveHub[Address]
    agent_events: LiveHub[str]
    outbox: Outbox | DeliveryProcess  # replies sent from this process, or from a child on another core
    assigner: Assigner
    dispatcher: Dispatcher
    intake: Intake
    limits: WebhookLimits
    redis: Redis | None  # scale-out mode: shared live events, timer leadership, rate-limit counters
    leadership: Leadership
    gauges: StoreGauges  # queue lengths and outbox backlog for /metrics, read from the store
    puller: Puller  # reads platforms whose callbacks only say "pull" (WeCom KF)
    handoffs: PlatformHandoffs  # tells platforms of a handoff once committed
    alerts: FeishuAlerts | None  # L3 escalations posted to a staff Feishu group, when configured
    ops_figures: SharedFigures  # the dashboard's figures, read once for the pages that ask together
    deliver: Callable[[OutboundMessage], None]  # after a commit: wake the outbox, push to open widgets
    routing_now: Callable[[], Routing]  # the live rules, or the shipped ones if the configured never loaded
    sweeper: asyncio.Task | None = field(default=None, init=False)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        db = create_engine(settings.database_url)
        sessions = session_factory(db)
        report_db = create_report_engine(settings.database_url, db)
        reports = session_factory(report_db)
        http = http_client(settings.outbox.send_timeout_seconds)
        adapters = configured_adapters(settings, http)
        variables = {"shop_name": settings.shop_name}
        faq = LiveFiles("FAQ", settings.faq_dir, partial(build_knowledge_base, settings.faq_dir, variables))
        routing = LiveFiles("routing rules", settings.rules_file, partial(build_routing, settings.rules_file))
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        live, agent_events = live_hubs(redis)
        outbox = DeliveryProcess(settings) if settings.outbox.process else Outbox(sessions, adapters, settings.outbox)

        def on_outbound(message: OutboundMessage) -> None:
            outbox.wake()
            live.publish(message.address, message)

        fallback = cache(partial(build_routing, DEFAULT_RULES_FILE))  # only if the configured rules never loaded

        def live_routing() -> Routing:
            return routing.current or fallback()

        leadership = Leadership(redis)
        assigner = Assigner(sessions, live_routing, agent_events, on_outbound, leads=leadership.holds)
        handoffs = PlatformHandoffs(sessions, adapters)
        alerts = _feishu_alerts(settings, sessions, adapters)

        def publish(key: str, event: dict) -> None:
            agent_events.publish(key, event)
            if alerts is not None and key == SUPERVISORS:
                alerts.publish(event)  # only starts a task: never holds up the engine

        hooks = EngineHooks(lambda: faq.current, live_routing, on_outbound, assigner.poke, publish, handoffs.notify)
        engine = ConversationEngine(sessions, hooks, batch_size=settings.engine.batch_size)
        dispatcher = Dispatcher(engine.process_next, engine.give_up, workers=settings.engine.workers)
        intake = Intake(db, dispatcher.notify)
        pullers = {key: a for key, a in adapters.items() if isinstance(a, PullAdapter)}
        puller = Puller(sessions, pullers, intake, leases=leadership.lease)
        return cls(
            settings=settings,
            db=db,
            sessions=sessions,
            report_db=report_db,
            reports=reports,
            http=http,
            adapters=adapters,
            faq=faq,
            routing=routing,
            live=live,
            agent_events=agent_events,
            outbox=outbox,
            assigner=assigner,
            dispatcher=dispatcher,
            intake=intake,
            gauges=StoreGauges(sessions, lambda: [q.id for q in live_routing().rules.queues]),
            limits=WebhookLimits(
                settings.limits.per_ip, settings.limits.per_customer, _limits_storage(settings), fail_open=True
            ),
            redis=redis,
            leadership=leadership,
            puller=puller,
            handoffs=handoffs,
            alerts=alerts,
            ops_figures=SharedFigures(reports, settings.ops.figures_seconds),
            deliver=on_outbound,
            routing_now=live_routing,
        )

    @property
    def web(self) -> WebAdapter:
        return self.adapters[("web", self.settings.web.account)]

    async def start(self) -> None:
        for files in (self.faq, self.routing):
            await files.load()
            files.watch()
        self.outbox.start()
        for hub in (self.live, self.agent_events):
            if isinstance(hub, SharedLiveHub):
                hub.start()
        self.assigner.start()
        self.gauges.start()
        if self.settings.engine.workers > 0:  # an ingest-only instance leaves its messages to others
            self.sweeper = asyncio.create_task(self._sweep(), name="unprocessed-message sweeper")
        try:
            if self.settings.engine.workers > 0:
                await self._resume_pending()
            await self.puller.resume()
        except (SQLAlchemyError, OSError) as exc:  # serve anyway: /readyz and webhooks say 503 until it works
            log.error(
                "storage unavailable at start-up (%s): webhooks answer 503 until it works, then the sweeper"
                " resumes unprocessed messages and the next platform callbacks resume pulls",
                describe_storage_error(exc),
            )

    async def stop(self) -> None:
        drain = self.settings.engine.drain_seconds
        await self.gauges.stop()
        if self.sweeper is not None:
            self.sweeper.cancel()
        await self.faq.close()
        await self.routing.close()
        await self.puller.drain(drain)
        await self.dispatcher.drain(drain)
        await self.assigner.drain(drain)
        await self.handoffs.drain(drain)  # before the outbox: a handoff waits for the replies before it
        await self.outbox.drain(drain)
        if self.alerts is not None:
            await self.alerts.drain(drain)
        await self.leadership.resign()
        for hub in (self.live, self.agent_events):
            if isinstance(hub, SharedLiveHub):
                await hub.stop()
        await self.http.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.report_db.dispose()  # `db` itself on PostgreSQL: disposing twice does no harm
        await self.db.dispose()
        log.info("kefu stopped: in-flight work drained, the rest resumes on restart")

    async def _resume_pending(self, *, older_than: timedelta = timedelta(0)) -> None:
        """Messages stored but never processed (a crash, here or in another instance) are picked up, in order."""
        cutoff = utcnow() - older_than
        async with self.sessions() as session:
            rows = (await session.execute(_UNPROCESSED)).all()
        addresses = list(dict.fromkeys(Address(*row[:3]) for row in rows if row.created_at <= cutoff))
        for address in addresses:
            self.dispatcher.notify(address)
        if addresses:
            log.info("resuming %d conversations with unprocessed messages", len(addresses))

    async def _sweep(self) -> None:
        """Every few seconds, take over messages left waiting: their instance died or was busy."""
        every = self.settings.engine.sweep_seconds
        while True:
            await asyncio.sleep(every)
            try:
                await self._resume_pending(older_than=timedelta(seconds=every))
            except Exception as exc:  # the store is down: the next sweep tries again
                log.warning("sweep for unprocessed messages failed: %s", type(exc).__name__)


# Read through the partial pending index, which holds only the unprocessed messages. The age is
# checked here, not in SQL: with `created_at <= ?` SQLite walks the created_at index over every
# message ever stored, every sweep, holding the store's one connection; DISTINCT would make it read
# every message too. tests/app/test_sweep_query.py checks the plan.
_UNPROCESSED = select(Message.channel, Message.account, Message.customer_id, Message.created_at).where(
    Message.direction == "in", Message.processed_at.is_(None)
)


def _feishu_alerts(settings: Settings, sessions: async_sessionmaker, adapters: dict) -> FeishuAlerts | None:
    alerts = settings.alerts
    if not alerts.feishu_chat_id:
        return None
    feishu = adapters[(FeishuAdapter.name, alerts.feishu_account)]  # settings checked that it exists
    return FeishuAlerts(sessions, feishu, alerts.feishu_chat_id, console_url=alerts.console_url)


def _limits_storage(settings: Settings) -> str:
    """Rate-limit counters in Redis when instances share it, so a customer's limit is one for all."""
    if settings.redis_url and settings.limits.storage_uri == "memory://":
        return settings.redis_url
    return settings.limits.storage_uri
