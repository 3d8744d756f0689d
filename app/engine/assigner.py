"""Give waiting chats to agents, and run the timers (app/engine/timers.py) that keep them moving.

Woken on every handoff, agent status change, transfer and close, and every second for the
timers: re-queue an assigned chat nobody answered, move a chat that waited too long to its
queue's overflow, and tell waiting customers their place and ETA. Claims are conditional
updates (`… WHERE state = 'queued'`), so a chat is never given twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased

from adapters.base import OutboundMessage
from app import metrics
from app.engine.outage import OutageLog
from app.engine.replies import add_reply
from app.engine.timers import QueueTimers
from app.engine.waiting import SUPERVISORS, head_of_line, online_agents, queue_of, transition_row
from app.knowledge import Routing
from app.live import LiveHub
from app.store.tables import Agent, Conversation, ConversationState, UTCDateTime, utcnow
from routing.assignment import SELECTORS, Selector, choose_agent, skilled, with_capacity
from routing.queues import Waiting

log = logging.getLogger(__name__)

ASSIGN_PAGE = 100  # waiting chats read at a time: a pass usually has room for a few


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
        leads: Callable[[], Awaitable[bool]] | None = None,
        reads: async_sessionmaker | None = None,
    ) -> None:
        self._sessions = sessions
        self._routing = routing
        self._events = events
        self._on_outbound = on_outbound
        self._tick = tick_seconds
        self._clock = clock
        self._leads = leads  # several instances: only the leader runs the timers, so no notice goes twice
        self._outage = OutageLog(log, "assignment pass")
        self.timers = QueueTimers(sessions, routing, events, on_outbound, self.poke, clock, reads=reads)
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
                    if self._leads is None or await self._leads():
                        await self.timers.run()
                self._outage.worked()
            except Exception:  # one bad pass must not stop assignment; it runs again next tick
                self._outage.failed()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._tick)
            except TimeoutError:
                pass

    async def assign_waiting(self) -> int:
        """Offer waiting chats, in serving order, to the best free agent; return how many were given.

        In a promotion the line is thousands long, every agent is busy and a pass runs on every
        handoff: so only the queues someone with room can take are read, from the head, a page at
        a time, and the pass ends when the room is used (with no room, the line is not read).
        Room only shrinks during a pass, so every chat read of a queue that still has room was
        given: the next page is again the head of the queues left."""
        rules = self._routing().rules
        now = self._clock()
        selector = self._selector(rules.service.selector)
        async with self._sessions() as session:
            agents = await online_agents(session)
        given = 0
        while servable := {q.id for q in rules.queues if with_capacity(skilled(agents, q.skills))}:
            async with self._sessions() as session:
                page = await head_of_line(session, rules, servable, limit=ASSIGN_PAGE)
                last_agents = await _last_agents(session, page, now - timedelta(days=rules.service.sticky_days))
            claimed = 0
            for chat in page:
                queue = queue_of(rules, chat.queue)
                agent = choose_agent(agents, queue.skills, selector, prefer=last_agents.get(chat.conversation_id))
                by = rules.service.selector
                if agent is not None and await self.claim(
                    chat.conversation_id, agent.agent_id, by=by, agent_name=agent.name
                ):
                    agent.active += 1
                    agent.last_assigned_at = now
                    claimed += 1
                    if not with_capacity(agents):
                        break
            given += claimed
            if len(page) < ASSIGN_PAGE or not claimed:  # the line is used up, or others took this page
                break
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
            if conversation.queued_at is not None:
                metrics.QUEUE_WAIT.labels(conversation.queue or "none").observe(
                    (now - conversation.queued_at).total_seconds()
                )
            if agent_name is None:
                agent_name = (await session.get_one(Agent, agent_id)).name
            session.add(transition_row(conversation, ConversationState.QUEUED, f"assigned to {agent_name} ({by})"))
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

    def _selector(self, name: str) -> Selector:
        if name not in self._selectors:
            self._selectors[name] = SELECTORS[name]()
        return self._selectors[name]


async def _last_agents(session, waiting: list[Waiting], since: datetime) -> dict[str, str]:
    """For each waiting chat, the agent who last served the same customer since `since`."""
    if not waiting:
        return {}
    ids = [chat.conversation_id for chat in waiting]
    rows = await session.execute(_LAST_AGENTS, {"ids": ids, "since": since})
    return {conversation_id: agent_id for conversation_id, agent_id in rows.all()}  # the latest wins


_CURRENT = aliased(Conversation)
_LAST_AGENTS = (  # built once: a pass runs on every handoff
    select(_CURRENT.id, Conversation.agent_id)
    .join(
        Conversation,
        (Conversation.channel == _CURRENT.channel)
        & (Conversation.account == _CURRENT.account)
        & (Conversation.customer_id == _CURRENT.customer_id)
        & (Conversation.id != _CURRENT.id),
    )
    .where(
        _CURRENT.id.in_(bindparam("ids", expanding=True)),
        Conversation.agent_id.is_not(None),
        Conversation.closed_at >= bindparam("since", type_=UTCDateTime()),
    )
    .order_by(Conversation.closed_at)
)
