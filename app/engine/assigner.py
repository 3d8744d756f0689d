"""Give waiting chats to agents, and run the timers that keep them moving.

Woken on every handoff, agent status change, transfer and close, and every second for the
timers: re-queue an assigned chat nobody answered, move a chat that waited too long to its
queue's overflow, and tell waiting customers their place and ETA. Claims are conditional
updates (`… WHERE state = 'queued'`), so a chat is never given twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased

from adapters.base import OutboundMessage
from app.engine.closing import close
from app.engine.replies import add_reply
from app.knowledge import Routing
from app.live import LiveHub
from app.store.tables import Agent, Conversation, ConversationState, Message, StateTransition, utcnow
from routing.assignment import SELECTORS, AgentLoad, Selector, choose_agent
from routing.hours import is_open
from routing.queues import Waiting, eta_minutes, ordered, positions
from routing.rules import IDLE_DISPOSITION

log = logging.getLogger(__name__)
SUPERVISORS = "supervisors"  # the event key every supervisor console listens to
THROUGHPUT_WINDOW = timedelta(minutes=30)
HEAD_OF_QUEUE_BOOST = 1000  # a re-queued chat goes first in its level


class Assigner:
    def __init__(
        self,
        sessions: async_sessionmaker,
        routing: Callable[[], Routing],
        events: LiveHub[str],
        on_outbound: Callable[[OutboundMessage], None],
        *,
        tick_seconds: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._routing = routing
        self._events = events
        self._on_outbound = on_outbound
        self._tick = tick_seconds
        self._clock = clock
        self._wake = asyncio.Event()
        self._selectors: dict[str, Selector] = {}
        self._task: asyncio.Task | None = None
        self._closing = False

    def poke(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="assigner")

    async def drain(self, timeout: float) -> None:
        self._closing = True
        self._wake.set()
        if self._task:
            await asyncio.wait([self._task], timeout=timeout)

    async def _run(self) -> None:
        timers_due = 0.0
        loop = asyncio.get_running_loop()
        while not self._closing:
            self._wake.clear()
            try:
                await self.assign_waiting()
                if loop.time() >= timers_due:  # timers once per tick, not on every poke
                    timers_due = loop.time() + self._tick
                    await self.run_timers()
            except Exception:  # one bad pass must not stop assignment; it runs again next tick
                log.exception("assignment pass failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._tick)
            except TimeoutError:
                pass

    async def assign_waiting(self) -> int:
        """Offer every waiting chat, in serving order, to the best free agent; return how many were given."""
        rules = self._routing().rules
        now = self._clock()
        async with self._sessions() as session:
            waiting = await _waiting(session)
            agents = await _agent_loads(session) if waiting else []
            if not agents:
                return 0
            last_agents = await _last_agents(session, waiting, now - timedelta(days=rules.service.sticky_days))
        selector = self._selector(rules.service.selector)
        given = 0
        for chat in ordered(waiting, now=now, aging_per_minute=rules.service.aging_per_minute):
            queue = _queue(rules, chat.queue)
            agent = choose_agent(agents, queue.skills, selector, prefer=last_agents.get(chat.conversation_id))
            by = rules.service.selector
            if agent is not None and await self.claim(
                chat.conversation_id, agent.agent_id, by=by, agent_name=agent.name
            ):
                agent.active += 1
                agent.last_assigned_at = now
                given += 1
        return given

    async def claim(self, conversation_id: str, agent_id: str, *, by: str, agent_name: str | None = None) -> bool:
        """Give a waiting chat to an agent, atomically; False when it was no longer waiting."""
        now = self._clock()
        async with self._sessions.begin() as session:
            conversation = (
                await session.scalars(
                    update(Conversation)
                    .where(Conversation.id == conversation_id, Conversation.state == ConversationState.QUEUED)
                    .values(state=ConversationState.WITH_AGENT, agent_id=agent_id, assigned_at=now)
                    .returning(Conversation),
                    execution_options={"populate_existing": True},
                )
            ).one_or_none()
            if conversation is None:
                return False
            if agent_name is None:
                agent_name = (await session.get_one(Agent, agent_id)).name
            session.add(_transition(conversation, ConversationState.QUEUED, f"assigned to {agent_name} ({by})"))
            greeting = self._routing().rules.templates.assigned.format(agent_name=agent_name)
            notice = await add_reply(session, conversation, sender="system", text=greeting)
        self._on_outbound(notice)
        event = {
            "type": "assigned",
            "conversation_id": conversation_id,
            "agent_id": agent_id,
            "queue": conversation.queue,
        }
        self._events.publish(agent_id, event)
        self._events.publish(SUPERVISORS, event)
        return True

    async def run_timers(self) -> None:
        rules = self._routing().rules
        now = self._clock()
        await self._requeue_unanswered(now - timedelta(minutes=rules.service.no_reply_minutes))
        await self._overflow(rules, now)
        await self._notify_waiting(rules, now)
        await self._close_idle(rules, now - timedelta(minutes=rules.service.idle_close_minutes))

    async def _requeue_unanswered(self, assigned_before: datetime) -> None:
        """An agent who has not replied in time loses the chat; it goes to the head of its queue."""
        async with self._sessions() as session:
            stale = (
                await session.scalars(
                    select(Conversation).where(
                        Conversation.state == ConversationState.WITH_AGENT,
                        Conversation.first_agent_reply_at.is_(None),
                        Conversation.assigned_at < assigned_before,
                    )
                )
            ).all()
        for conversation in stale:
            await self._requeue(conversation)

    async def _requeue(self, stale: Conversation) -> None:
        async with self._sessions.begin() as session:
            moved = await session.execute(
                update(Conversation)
                .where(
                    Conversation.id == stale.id,
                    Conversation.agent_id == stale.agent_id,
                    Conversation.first_agent_reply_at.is_(None),
                )
                .values(
                    state=ConversationState.QUEUED,
                    agent_id=None,
                    assigned_at=None,
                    priority=(stale.priority or 0) + HEAD_OF_QUEUE_BOOST,
                )
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:
                return
            conversation = await session.get_one(Conversation, stale.id, populate_existing=True)
            session.add(_transition(conversation, ConversationState.WITH_AGENT, "no agent reply in time: re-queued"))
            notice = await add_reply(
                session, conversation, sender="system", text=self._routing().rules.templates.requeued
            )
        self._on_outbound(notice)
        alert = {"type": "requeued", "conversation_id": stale.id, "agent_id": stale.agent_id, "queue": stale.queue}
        self._events.publish(stale.agent_id, alert)
        self._events.publish(SUPERVISORS, alert)
        self.poke()

    async def _overflow(self, rules, now: datetime) -> None:
        """A chat that waited past its queue's limit moves to the fallback queue, keeping its wait.

        Looked for with a read first, so the usual tick with nothing to move writes nothing.
        """
        limits = {q.id: q for q in rules.queues if q.overflow_to}
        async with self._sessions() as session:
            waiting = await _waiting(session)
        overdue = [
            w
            for w in waiting
            if w.queue in limits and w.queued_at < now - timedelta(minutes=limits[w.queue].overflow_after_minutes)
        ]
        if not overdue:
            return
        async with self._sessions.begin() as session:
            for chat in overdue:
                target = limits[chat.queue].overflow_to
                moved = await session.execute(
                    update(Conversation)
                    .where(
                        Conversation.id == chat.conversation_id,
                        Conversation.state == ConversationState.QUEUED,
                        Conversation.queue == chat.queue,
                    )
                    .values(queue=target)
                    .execution_options(synchronize_session=False)
                )
                if moved.rowcount == 1:
                    session.add(
                        StateTransition(
                            conversation_id=chat.conversation_id,
                            from_state=ConversationState.QUEUED,
                            to_state=ConversationState.QUEUED,
                            reason=f"overflow from {chat.queue} to {target}",
                        )
                    )
        self.poke()

    async def _notify_waiting(self, rules, now: datetime) -> None:
        """Every `notice_minutes`, tell each waiting customer their place and an ETA from recent throughput."""
        async with self._sessions() as session:
            waiting = await _waiting(session)
            due = {
                c.id
                for c in await session.scalars(
                    select(Conversation).where(
                        Conversation.state == ConversationState.QUEUED,
                        (Conversation.notified_at.is_(None))
                        | (Conversation.notified_at < now - timedelta(minutes=rules.notice_minutes)),
                    )
                )
            }
            served = await _served_per_minute(session, now)
        places = positions(waiting, now=now, aging_per_minute=rules.service.aging_per_minute)
        for chat in waiting:
            if chat.conversation_id not in due or not is_open(rules.hours(_queue(rules, chat.queue).id), now):
                continue
            place = places[chat.conversation_id]
            eta = eta_minutes(
                place, served.get(chat.queue, 0.0), fallback_minutes_per_chat=rules.service.minutes_per_chat
            )
            text = rules.templates.position.format(position=place - 1, eta=eta)
            async with self._sessions.begin() as session:
                conversation = await session.get_one(Conversation, chat.conversation_id)
                if conversation.state != ConversationState.QUEUED:
                    continue
                conversation.notified_at = now
                notice = await add_reply(
                    session, conversation, sender="system", text=text, meta={"position": place, "eta": eta}
                )
            self._on_outbound(notice)

    async def _close_idle(self, rules, quiet_since: datetime) -> None:
        """A chat with a person where nobody wrote for `idle_close_minutes` closes with a rating question."""
        serving = select(Conversation.id).where(Conversation.state == ConversationState.WITH_AGENT)
        last_message = (
            select(Message.conversation_id, func.max(Message.created_at).label("at"))
            .where(Message.conversation_id.in_(serving))
            .group_by(Message.conversation_id)
            .subquery()
        )
        async with self._sessions.begin() as session:
            idle = (
                await session.scalars(
                    select(Conversation)
                    .join(last_message, last_message.c.conversation_id == Conversation.id)
                    .where(Conversation.state == ConversationState.WITH_AGENT, last_message.c.at < quiet_since)
                )
            ).all()
            goodbyes = [
                await close(session, c, disposition=IDLE_DISPOSITION, by="timer", templates=rules.templates)
                for c in idle
            ]
        for conversation, goodbye in zip(idle, goodbyes, strict=True):
            self._on_outbound(goodbye)
            self._events.publish(conversation.agent_id, {"type": "closed", "conversation_id": conversation.id})
        if idle:
            self.poke()

    def _selector(self, name: str) -> Selector:
        if name not in self._selectors:
            self._selectors[name] = SELECTORS[name]()
        return self._selectors[name]


def _queue(rules, queue_id: str | None):
    known = {q.id: q for q in rules.queues}
    return known.get(queue_id or "", known[rules.default_queue])


def _transition(conversation: Conversation, from_state: str, reason: str) -> StateTransition:
    return StateTransition(
        conversation_id=conversation.id, from_state=from_state, to_state=conversation.state, reason=reason
    )


async def _agent_loads(session) -> list[AgentLoad]:
    """Online agents with the number of chats each owns, in one query."""
    owned = (
        select(Conversation.agent_id, func.count().label("active"))
        .where(Conversation.state == ConversationState.WITH_AGENT)
        .group_by(Conversation.agent_id)
        .subquery()
    )
    rows = await session.execute(
        select(Agent.id, Agent.skills, Agent.capacity, Agent.status, func.coalesce(owned.c.active, 0), Agent.name)
        .outerjoin(owned, owned.c.agent_id == Agent.id)
        .where(Agent.status == "online", Agent.disabled.is_(False))
    )
    return [
        AgentLoad(i, frozenset(skills), capacity, active, status, name=name)
        for i, skills, capacity, status, active, name in rows
    ]


async def _waiting(session) -> list[Waiting]:
    rows = await session.scalars(select(Conversation).where(Conversation.state == ConversationState.QUEUED))
    return [Waiting(c.id, c.queue or "", c.level or "L1", c.priority or 0, c.queued_at or c.updated_at) for c in rows]


async def _last_agents(session, waiting: list[Waiting], since: datetime) -> dict[str, str]:
    """For each waiting chat, the agent who last served the same customer since `since`."""
    if not waiting:
        return {}
    current = aliased(Conversation)
    rows = await session.execute(
        select(current.id, Conversation.agent_id)
        .join(
            Conversation,
            (Conversation.channel == current.channel)
            & (Conversation.account == current.account)
            & (Conversation.customer_id == current.customer_id)
            & (Conversation.id != current.id),
        )
        .where(
            current.id.in_([w.conversation_id for w in waiting]),
            Conversation.agent_id.is_not(None),
            Conversation.closed_at >= since,
        )
        .order_by(Conversation.closed_at)
    )
    return {conversation_id: agent_id for conversation_id, agent_id in rows.all()}  # the latest wins


async def _served_per_minute(session, now: datetime) -> dict[str, float]:
    """Chats per minute each queue handed to agents over the last half hour."""
    rows = await session.execute(
        select(Conversation.queue, func.count())
        .where(Conversation.assigned_at >= now - THROUGHPUT_WINDOW)
        .group_by(Conversation.queue)
    )
    return {queue: count / (THROUGHPUT_WINDOW.total_seconds() / 60) for queue, count in rows.all()}
