"""The timers that keep waiting and served chats moving, run by the assigner once a second.

Re-queue an assigned chat nobody answered (and alert supervisors), move a chat that waited too
long to its queue's overflow, tell waiting customers their place and an ETA from the queue's
recent throughput (or, with nobody online for the queue, that they may leave a message), and
close chats that went quiet (asking for a rating).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from adapters.base import OutboundMessage
from app import metrics
from app.engine.batch_writes import BatchWrites
from app.engine.bot import NOBODY_ONLINE
from app.engine.closing import close
from app.engine.replies import add_reply
from app.engine.waiting import (
    SUPERVISORS,
    WAITING_SINCE,
    online_agents,
    places_in_line,
    queue_of,
    transition_row,
    waiting_chats,
)
from app.knowledge import Routing
from app.live import LiveHub
from app.store.tables import Conversation, ConversationState, Message, StateTransition, UTCDateTime, utcnow
from routing.assignment import skilled
from routing.hours import is_open
from routing.queues import eta_minutes
from routing.rules import IDLE_DISPOSITION, Templates

THROUGHPUT_WINDOW = timedelta(minutes=30)
HEAD_OF_QUEUE_BOOST = 1000  # a re-queued chat goes first in its level
# A tick's notices hold the event loop about 0.1 ms each; when thousands of chats were handed off
# in the same minute, they all come due in the same tick (2,000 at once held it about 190 ms).
NOTICES_PER_TICK = 200
# Written in shares with a pause between them: the writes run on the event loop's thread, and 200
# at once held it and SQLite's write lock for about 25 ms (ad hoc, a slow day), which every webhook
# and decision of that moment waited for; the delivery process then had all 200 to send at once.
# The pauses hold the assigner's next pass (the timers run in its task) by up to 0.15 s a tick, only
# while a line that long waits, which is when every agent is busy.
NOTICES_PER_SHARE = 50
SHARE_PAUSE_SECONDS = 0.05


class QueueTimers:
    def __init__(
        self,
        sessions: async_sessionmaker,
        routing: Callable[[], Routing],
        events: LiveHub[str],
        on_outbound: Callable[[OutboundMessage], None],
        poke: Callable[[], None],
        clock: Callable[[], datetime] = utcnow,
        notices_per_tick: int = NOTICES_PER_TICK,
        notices_per_share: int = NOTICES_PER_SHARE,
        # Where the line is read for the notices: the service gives its report sessions, whose SQLite
        # connection runs on a thread of its own, so ranking a long line (about half of a tick's
        # time with 10,000 waiting, waiting_line.md) runs beside the event loop, not on it.
        reads: async_sessionmaker | None = None,
    ) -> None:
        self._sessions = sessions
        self._reads = reads or sessions
        self._notices_per_tick = notices_per_tick
        self._notices_per_share = notices_per_share
        self._routing = routing
        self._events = events
        self._on_outbound = on_outbound
        self._poke = poke
        self._clock = clock

    async def run(self) -> None:
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
            session.add(transition_row(conversation, ConversationState.WITH_AGENT, "no agent reply in time: re-queued"))
            notice = await add_reply(
                session, conversation, sender="system", text=self._routing().rules.templates.requeued
            )
        self._on_outbound(notice)
        metrics.SLA_BREACHES.labels("no_reply").inc()
        alert = {"type": "requeued", "conversation_id": stale.id, "agent_id": stale.agent_id, "queue": stale.queue}
        self._events.publish(stale.agent_id, alert)
        self._events.publish(SUPERVISORS, alert)
        self._poke()

    async def _overflow(self, rules, now: datetime) -> None:
        """A chat that waited past its queue's limit moves to the fallback queue, keeping its wait.

        Looked for with a read first, so the usual tick with nothing to move writes nothing; the read
        asks only for the overdue chats, not the whole line (thousands in a promotion, every second).
        """
        limits = {q.id: q for q in rules.queues if q.overflow_to}
        if not limits:
            return
        past_limit = or_(
            *(
                and_(
                    Conversation.queue == queue.id,
                    WAITING_SINCE < now - timedelta(minutes=queue.overflow_after_minutes),
                )
                for queue in limits.values()
            )
        )
        async with self._sessions() as session:
            overdue = await waiting_chats(session, where=past_limit)
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
        self._poke()

    async def _notify_waiting(self, rules, now: datetime) -> None:
        """Every `notice_minutes`, tell each waiting customer their place and an ETA from recent throughput,
        or, when nobody who could take their queue is online, that they may leave a message (留言): once,
        not every interval, until someone comes online.

        A share of a tick's notices goes in one transaction: in a promotion hundreds of chats wait,
        and each statement costs more than the row it writes. At most `notices_per_tick` of them,
        those never told or told longest ago first; the rest are told in the next ticks, a second apart.
        """
        async with self._reads() as session:
            rows = await session.execute(
                select(Conversation.id, Conversation.queue)
                .where(
                    Conversation.state == ConversationState.QUEUED,
                    Conversation.ticket.is_(False),  # a 留言 is answered in turn, nobody is waiting online
                    (Conversation.notified_at.is_(None))
                    | (Conversation.notified_at < now - timedelta(minutes=rules.notice_minutes)),
                )
                .order_by(Conversation.notified_at.asc().nulls_first(), Conversation.id)
                .limit(self._notices_per_tick)
            )
            due = dict(rows.all())  # conversation id -> its queue
            if not due:  # the usual tick: nobody to tell, so the line and its pace need not be read
                return
            places = await places_in_line(session, rules, set(due))  # of those still waiting
            served = await _served_per_minute(session, now)
            agents = await online_agents(session)
            staffed = {queue.id for queue in rules.queues if skilled(agents, queue.skills)}
            unstaffed = {i for i, queue in due.items() if queue_of(rules, queue).id not in staffed}
            told = await _told_nobody_online(session, unstaffed)
        notices: dict[str, tuple[str, dict] | None] = {}  # None: nothing new to say, only the time is noted
        for conversation_id, place in sorted(places.items(), key=lambda item: (item[1], item[0])):
            queue = due[conversation_id]
            if not is_open(rules.hours(queue_of(rules, queue).id), now):
                continue
            if conversation_id in unstaffed:  # an ETA would be a guess: offer 留言 instead
                said = conversation_id in told  # the meta below is how a later tick knows
                notice = (rules.templates.nobody_online, {"position": place, NOBODY_ONLINE: True})
                notices[conversation_id] = None if said else notice
                continue
            eta = eta_minutes(place, served.get(queue, 0.0), fallback_minutes_per_chat=rules.service.minutes_per_chat)
            text = _place_notice(rules.templates, place, eta)
            offer = rules.promotion_mode.callback_offer_minutes
            if rules.promotion_mode.enabled and offer is not None and eta >= offer:
                text += rules.templates.callback_offer
            notices[conversation_id] = (text, {"position": place, "eta": eta})
        if notices:
            await self._send_notices(notices, now)

    async def _send_notices(self, notices: dict[str, tuple[str, dict] | None], now: datetime) -> None:
        """Store the notices in shares, in the line's order, a pause between them (see NOTICES_PER_SHARE)."""
        items, size = list(notices.items()), self._notices_per_share
        for start in range(0, len(items), size):
            if start:
                await asyncio.sleep(SHARE_PAUSE_SECONDS)
            await self._send_share(dict(items[start : start + size]), now)

    async def _send_share(self, notices: dict[str, tuple[str, dict] | None], now: datetime) -> None:
        """Store the notices of chats still waiting and note when each was told, in one transaction."""
        writes = BatchWrites()  # hundreds of notices in a promotion: their rows go in one statement each
        async with self._sessions.begin() as session:
            still_waiting = await session.scalars(
                select(Conversation).where(
                    Conversation.id.in_(list(notices)), Conversation.state == ConversationState.QUEUED
                )
            )
            queued = {conversation.id: conversation for conversation in still_waiting.all()}
            replies = []
            for conversation_id, notice in notices.items():
                conversation = queued.get(conversation_id)
                if conversation is None:  # taken or closed since the line was read
                    continue
                conversation.notified_at = now
                if notice is not None:
                    text, meta = notice
                    replies.append(writes.reply(conversation, sender="system", text=text, meta=meta))
            await writes.write(session)
        for reply in replies:
            self._on_outbound(reply)

    async def _close_idle(self, rules, quiet_since: datetime) -> None:
        """A chat with a person where nobody wrote for `idle_close_minutes` closes with a rating question."""
        async with self._sessions.begin() as session:
            idle = (await session.scalars(_IDLE, {"quiet_since": quiet_since})).all()
            goodbyes = [
                await close(session, c, disposition=IDLE_DISPOSITION, by="timer", templates=rules.templates)
                for c in idle
            ]
        for conversation, goodbye in zip(idle, goodbyes, strict=True):
            self._on_outbound(goodbye)
            self._events.publish(conversation.agent_id, {"type": "closed", "conversation_id": conversation.id})
        if idle:
            self._poke()


# A chat's last message is its highest id (ids follow arrival): one seek in the index on
# (conversation_id, id) per chat being served, where the latest created_at meant reading every
# message of every such chat, each second (17 ms of SQLite's one connection with 2,500 served).
_LAST_MESSAGE_ID = (
    select(func.max(Message.id)).where(Message.conversation_id == Conversation.id).correlate(Conversation)
).scalar_subquery()
_IDLE = (
    select(Conversation)
    .join(Message, Message.id == _LAST_MESSAGE_ID)
    .where(
        Conversation.state == ConversationState.WITH_AGENT,
        Message.created_at < bindparam("quiet_since", type_=UTCDateTime()),
    )
)


async def _served_per_minute(session, now: datetime) -> dict[str, float]:
    """Chats per minute each queue handed to agents over the last half hour."""
    rows = await session.execute(
        select(Conversation.queue, func.count())
        .where(Conversation.assigned_at >= now - THROUGHPUT_WINDOW)
        .group_by(Conversation.queue)
    )
    return {queue: count / (THROUGHPUT_WINDOW.total_seconds() / 60) for queue, count in rows.all()}


async def _told_nobody_online(session, conversation_ids: set[str]) -> set[str]:
    """The chats whose latest system message already said nobody is online: every interval would nag."""
    if not conversation_ids:
        return set()
    latest = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(conversation_ids), Message.sender == "system")
        .group_by(Message.conversation_id)
    )
    rows = await session.execute(select(Message.conversation_id, Message.meta).where(Message.id.in_(latest)))
    return {conversation_id for conversation_id, meta in rows if (meta or {}).get(NOBODY_ONLINE)}


def _place_notice(templates: Templates, place: int, eta: int) -> str:
    """The first in line hears "您是下一位" rather than that nobody is ahead of them."""
    if place == 1:
        return templates.next_in_line.format(eta=eta)
    return templates.position.format(position=place - 1, eta=eta)
