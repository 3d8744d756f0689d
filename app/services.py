"""Build and wire every long-lived part of kefu, start them, and stop them in order."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from adapters.base import Adapter, Address, OutboundMessage, PullAdapter
from adapters.feishu import FeishuAdapter
from adapters.web import WebAdapter
from app.alerts import FeishuAlerts
from app.cluster import Leadership, SharedLiveHub, live_hubs
from app.engine.assigner import Assigner
from app.engine.conversations import EngineHooks
from app.engine.delivery_process import DeliveryProcess
from app.engine.engine_process import EngineProcess
from app.engine.handoffs import PlatformHandoffs
from app.engine.intake import Intake
from app.engine.outage import describe_storage_error
from app.engine.outbox import Outbox
from app.engine.processing import Processing
from app.engine.pull import Puller
from app.engine.waiting import SUPERVISORS
from app.http_client import http_client
from app.knowledge import LiveKnowledge, Routing
from app.live import LiveHub
from app.live_files import LiveFiles
from app.metrics import StoreGauges
from app.ops_stats import SharedFigures
from app.platforms import configured_adapters
from app.rate_limits import WebhookLimits
from app.settings import Settings
from app.store.database import create_engine, create_report_engine, session_factory
from app.store.wal_checkpoints import WalCheckpoints
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
    processing: Processing | EngineProcess  # decisions made in this process, or in a child on another core
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
    checkpoints: WalCheckpoints | None  # SQLite's log copied back beside the event loops; None on PostgreSQL

    @classmethod
    def build(cls, settings: Settings) -> Services:
        db = create_engine(settings.database_url, checkpoint_on_commit=False)
        sessions = session_factory(db)
        report_db = create_report_engine(settings.database_url, db)
        reports = session_factory(report_db)
        http = http_client(settings.outbox.send_timeout_seconds)
        adapters = configured_adapters(settings, http)
        knowledge = LiveKnowledge.from_settings(settings)
        faq, routing, live_routing = knowledge.faq, knowledge.routing, knowledge.routing_now
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        live, agent_events = live_hubs(redis)
        outbox = DeliveryProcess(settings) if settings.outbox.process else Outbox(db, adapters, settings.outbox)

        def on_outbound(message: OutboundMessage) -> None:
            outbox.wake()
            live.publish(message.address, message)

        leadership = Leadership(redis)
        assigner = Assigner(sessions, live_routing, agent_events, on_outbound, leads=leadership.holds, reads=reports)
        handoffs = PlatformHandoffs(sessions, adapters)
        alerts = _feishu_alerts(settings, sessions, adapters)

        def publish(key: str, event: dict) -> None:
            agent_events.publish(key, event)
            if alerts is not None and key == SUPERVISORS:
                alerts.publish(event)  # only starts a task: never holds up the engine

        hooks = EngineHooks(lambda: faq.current, live_routing, on_outbound, assigner.poke, publish, handoffs.notify)
        wanted = settings.engine.process and settings.engine.workers > 0
        processing = EngineProcess(settings, hooks) if wanted else Processing(db, hooks, settings.engine)
        intake = Intake(db, processing.notify)
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
            processing=processing,
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
            checkpoints=WalCheckpoints.for_url(settings.database_url),
        )

    @property
    def web(self) -> WebAdapter:
        return self.adapters[("web", self.settings.web.account)]

    async def start(self) -> None:
        if self.checkpoints is not None:
            self.checkpoints.start()
        for files in (self.faq, self.routing):
            await files.load()
            files.watch()
        self.outbox.start()
        for hub in (self.live, self.agent_events):
            if isinstance(hub, SharedLiveHub):
                hub.start()
        self.assigner.start()
        self.gauges.start()
        self.processing.start()
        try:
            await self.processing.resume()
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
        await self.faq.close()
        await self.routing.close()
        await self.puller.drain(drain)
        await self.processing.drain(drain)
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
        if self.checkpoints is not None:
            self.checkpoints.stop()
        log.info("kefu stopped: in-flight work drained, the rest resumes on restart")


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
