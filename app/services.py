"""Build and wire every long-lived part of kefu, start them, and stop them in order."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from adapters.base import Adapter, Address, OutboundMessage
from adapters.feishu import FeishuAdapter
from adapters.telegram import TelegramAdapter
from adapters.web import WebAdapter
from adapters.wechat_mp import WeChatMPAdapter
from app.engine.assigner import Assigner
from app.engine.conversations import ConversationEngine, EngineHooks
from app.engine.dispatcher import Dispatcher
from app.engine.intake import Intake
from app.engine.outbox import Outbox
from app.knowledge import Routing, build_knowledge_base, build_routing
from app.live import LiveHub
from app.live_files import LiveFiles
from app.settings import DEFAULT_RULES_FILE, FeishuAccount, Settings, TelegramAccount, WeChatMPAccount
from app.store.database import create_engine, session_factory
from app.store.tables import Message
from faq.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: AsyncEngine
    sessions: async_sessionmaker
    http: httpx.AsyncClient
    adapters: dict[tuple[str, str], Adapter]  # (channel, account) -> adapter
    faq: LiveFiles[KnowledgeBase]
    routing: LiveFiles[Routing]
    live: LiveHub[Address]
    agent_events: LiveHub[str]
    outbox: Outbox
    assigner: Assigner
    dispatcher: Dispatcher
    intake: Intake
    deliver: Callable[[OutboundMessage], None]  # after a commit: wake the outbox, push to open widgets
    routing_now: Callable[[], Routing]  # the live rules, or the shipped ones if the configured never loaded

    @classmethod
    def build(cls, settings: Settings) -> Services:
        db = create_engine(settings.database_url)
        sessions = session_factory(db)
        http = httpx.AsyncClient(timeout=settings.outbox.send_timeout_seconds)
        built: list[Adapter] = [_web_adapter(settings, http)]
        built += [_wechat_mp_adapter(name, account, http) for name, account in settings.wechat_mp.items()]
        built += [_telegram_adapter(name, account, http) for name, account in settings.telegram.items()]
        built += [_feishu_adapter(name, account, http) for name, account in settings.feishu.items()]
        adapters = {(a.name, a.account): a for a in built}
        variables = {"shop_name": settings.shop_name}
        faq = LiveFiles("FAQ", settings.faq_dir, partial(build_knowledge_base, settings.faq_dir, variables))
        routing = LiveFiles("routing rules", settings.rules_file, partial(build_routing, settings.rules_file))
        live: LiveHub[Address] = LiveHub()
        agent_events: LiveHub[str] = LiveHub()
        outbox = Outbox(sessions, adapters, settings.outbox)

        def on_outbound(message: OutboundMessage) -> None:
            outbox.wake()
            live.publish(message.address, message)

        fallback = cache(partial(build_routing, DEFAULT_RULES_FILE))  # only if the configured rules never loaded

        def live_routing() -> Routing:
            return routing.current or fallback()

        assigner = Assigner(sessions, live_routing, agent_events, on_outbound)
        hooks = EngineHooks(lambda: faq.current, live_routing, on_outbound, assigner.poke, agent_events.publish)
        engine = ConversationEngine(sessions, hooks)
        dispatcher = Dispatcher(engine.process_next, engine.give_up, workers=settings.engine.workers)
        intake = Intake(sessions, dispatcher.notify)
        return cls(
            settings=settings,
            db=db,
            sessions=sessions,
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
        self.assigner.start()
        await self._resume_pending()

    async def stop(self) -> None:
        drain = self.settings.engine.drain_seconds
        await self.faq.close()
        await self.routing.close()
        await self.dispatcher.drain(drain)
        await self.assigner.drain(drain)
        await self.outbox.drain(drain)
        await self.http.aclose()
        await self.db.dispose()
        log.info("kefu stopped: in-flight work drained, the rest resumes on restart")

    async def _resume_pending(self) -> None:
        """Messages stored before a crash but never processed are picked up again, in order."""
        query = (
            select(Message.channel, Message.account, Message.customer_id)
            .where(Message.direction == "in", Message.processed_at.is_(None))
            .distinct()
        )
        async with self.sessions() as session:
            addresses = [Address(*row) for row in (await session.execute(query)).all()]
        for address in addresses:
            self.dispatcher.notify(address)
        if addresses:
            log.info("resuming %d conversations with unprocessed messages", len(addresses))


def _web_adapter(settings: Settings, http: httpx.AsyncClient) -> WebAdapter:
    web = settings.web
    return WebAdapter(
        secret=web.secret.get_secret_value() if web.secret else None,
        callback_url=web.callback_url,
        client=http,
        account=web.account,
        max_body_bytes=web.max_body_bytes,
        max_text_chars=web.max_text_chars,
        timestamp_tolerance=web.timestamp_tolerance_seconds,
    )


def _wechat_mp_adapter(name: str, mp: WeChatMPAccount, http: httpx.AsyncClient) -> WeChatMPAdapter:
    return WeChatMPAdapter(
        app_id=mp.app_id,
        account=name,
        app_secret=mp.app_secret.get_secret_value(),
        token=mp.token.get_secret_value(),
        encoding_aes_key=mp.encoding_aes_key.get_secret_value() if mp.encoding_aes_key else None,
        client=http,
        api_base=mp.api_base,
    )


def _telegram_adapter(name: str, bot: TelegramAccount, http: httpx.AsyncClient) -> TelegramAdapter:
    return TelegramAdapter(
        account=name,
        bot_token=bot.bot_token.get_secret_value(),
        secret_token=bot.secret_token.get_secret_value(),
        client=http,
        api_base=bot.api_base,
    )


def _feishu_adapter(name: str, app: FeishuAccount, http: httpx.AsyncClient) -> FeishuAdapter:
    return FeishuAdapter(
        account=name,
        app_id=app.app_id,
        app_secret=app.app_secret.get_secret_value(),
        verification_token=app.verification_token.get_secret_value() if app.verification_token else None,
        encrypt_key=app.encrypt_key.get_secret_value() if app.encrypt_key else None,
        client=http,
        api_base=app.api_base,
    )
