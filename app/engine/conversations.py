"""Process a conversation's next pending message: find or open the conversation, decide, store the outcome.

Everything one message causes (replies, state change, the processed mark, outbox rows) commits
in one transaction, so a crash either redoes the message or finds it fully done. Under load that
transaction holds the next message of several conversations (ConversationEngine).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.base import Address, OutboundMessage
from app import metrics
from app.engine.batch_writes import CONVERSATION_COLUMNS, PENDING_COLUMNS, BatchWrites, OpenConversation, PendingMessage
from app.engine.bot import Decision, decide
from app.engine.closing import record_rating
from app.engine.context import PastMessage, recent_messages, turn_for
from app.engine.exclusive import ConversationBusy, hold_conversation
from app.engine.group_commit import GroupCommit
from app.engine.outage import is_outage
from app.engine.waiting import SUPERVISORS
from app.knowledge import Routing
from app.store.database import session_factory
from app.store.sqlite_statements import read_rows
from app.store.tables import Conversation, ConversationState, Message, new_id, utcnow
from faq.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)


@dataclass
class EngineHooks:
    """The live FAQ and rules, and what happens after a commit (wake the outbox, push to widgets)."""

    knowledge_base: Callable[[], KnowledgeBase | None]
    routing: Callable[[], Routing]
    on_outbound: Callable[[OutboundMessage], None]
    on_queued: Callable[[], None]  # a chat now waits for a person: try to assign it
    publish: Callable[[str, dict], None]  # (agent id or SUPERVISORS, event) to the agents' consoles
    on_handoff: Callable[[Address, str, str], None]  # (address, conversation id, queue): tell the platform
    decided: Callable[[float], None] = metrics.MATCH_SECONDS.observe  # seconds one decision took


@dataclass
class Handled:
    """What one message caused, acted on once its batch is committed."""

    message: PendingMessage
    decision: Decision | None  # None: the message was a rating, thanked without the bot
    conversation: OpenConversation | None
    outbound: list[OutboundMessage]
    more: bool  # another message of the address waits after this one


class ConversationEngine:
    """Conversations whose next messages are asked for together share one transaction (group commit).

    Under load a transaction per message becomes one per batch: one query reads the batch's
    pending messages (after the conversations' locks, on PostgreSQL), one their conversations'
    recent messages, and each table's rows for the whole batch go together (BatchWrites). If a
    message fails, the batch is rolled back and redone one conversation at a time, so the failure
    stays with its own message; a store outage fails them all.
    """

    def __init__(self, db: AsyncEngine, hooks: EngineHooks, *, batch_size: int = 16) -> None:
        self._db = db  # a batch reads and writes rows, no objects: a connection (a session's set-up cost more)
        self._sessions = session_factory(db)  # giving up on a message
        self._hooks = hooks
        self._batches: GroupCommit[Address, bool] = GroupCommit(
            self._process_together, fails_all=is_outage, batch_size=batch_size, name="conversation engine"
        )

    async def process_next(self, address: Address) -> bool:
        """Handle the oldest unprocessed message of `address`; True when another one waits after it.

        False when there was none, or this was the last. Raise ConversationBusy when another
        instance is handling this conversation right now.
        """
        return await self._batches.submit(address)

    async def _process_together(self, addresses: list[Address]) -> list[bool | Exception]:
        """One transaction for the next message of each address; then the after-commit work of each."""
        outcomes: list[Handled | bool | Exception] = []
        writes = BatchWrites()
        async with self._db.begin() as connection:
            held = [a for a in dict.fromkeys(addresses) if await hold_conversation(connection, a)]
            pending = await _next_pending_and_open(connection, held)  # after the locks: what is pending now
            recent = await recent_messages(connection, _history_ends(pending))
            holding, seen = set(held), set()
            for address in addresses:
                if address in seen:  # its staged message is unwritten: it would be handled twice
                    outcomes.append(True)  # so the caller comes back once this one is committed
                elif address not in holding:
                    outcomes.append(ConversationBusy(address))
                else:
                    found = pending.get(address, ())
                    outcomes.append(await self._handle_next(connection, address, found, recent, writes))
                seen.add(address)
            await writes.write_on(connection)
        for outcome in outcomes:
            if isinstance(outcome, Handled):
                try:
                    self._after_commit(outcome)
                except Exception:  # committed: redoing the batch would not redo this, so only say so
                    log.exception("after-commit work for message %s failed", outcome.message.public_id)
        return [outcome.more if isinstance(outcome, Handled) else outcome for outcome in outcomes]

    async def _handle_next(
        self,
        connection: AsyncConnection,
        address: Address,
        pending: Sequence[tuple[PendingMessage, OpenConversation | None]],
        recent: Mapping[str, Sequence[PastMessage]],
        writes: BatchWrites,
    ) -> Handled | bool:
        """Decide on the address's oldest pending message and stage every write (False: none pending).

        `pending`: its oldest two unprocessed messages, each with its open conversation (or None);
        the second only says whether to come back for more. `recent`: each open conversation's
        messages before its pending one."""
        if not pending:
            return False
        (message, current), routing = pending[0], self._hooks.routing()
        thanks = None
        if current is None:  # a bare 1-5 right after a close rates it
            thanks = await record_rating(connection, address, message, routing.rules.templates, writes)
        if thanks is not None:
            outbound, decision, conversation = [thanks], None, None
        else:
            conversation = current or _new_conversation(writes, address)
            if message.customer:
                writes.change(conversation, customer=message.customer)
            past = recent.get(conversation.id, ())
            decision, outbound = self._converse(conversation, message, routing, past, writes)
        message.processed_at = utcnow()
        writes.processed(message)
        return Handled(message, decision, conversation, outbound, more=len(pending) > 1)

    def _after_commit(self, handled: Handled) -> None:
        if handled.decision is not None:  # before the outbox, so a waiting chat is claimed first
            _count(handled.decision, handled.conversation)
            self._tell(handled.decision, handled.conversation, handled.message)
        for item in handled.outbound:
            self._hooks.on_outbound(item)

    def _converse(
        self,
        conversation: OpenConversation,
        message: PendingMessage,
        routing: Routing,
        recent: Sequence[PastMessage],
        writes: BatchWrites,
    ) -> tuple[Decision, list[OutboundMessage]]:
        """Decide and stage every write; `writes` writes the batch's together."""
        turn = turn_for(conversation, message.text, recent, routing.rules)
        message.conversation_id = conversation.id
        started = time.perf_counter()
        decision = decide(turn, self._hooks.knowledge_base(), routing)
        self._hooks.decided(time.perf_counter() - started)
        _record(message, conversation, decision, writes)
        if decision.new_state:
            writes.transition(conversation, decision.new_state, decision.reason or "")
        outbound = [
            writes.reply(
                conversation,
                sender=reply.sender,
                text=reply.text,
                in_reply_to=message.platform_message_id,
                faq_id=reply.faq_id,
                faq_score=reply.faq_score,
                meta=reply.meta,
            )
            for reply in decision.replies
        ]
        return decision, outbound

    def _tell(self, decision: Decision, conversation: OpenConversation, message: PendingMessage) -> None:
        """Once committed: wake the assigner and tell the platform of a handoff, tell the agent who owns the chat."""
        if decision.handoff:
            self._hooks.on_queued()
            address = Address(conversation.channel, conversation.account, conversation.customer_id)
            self._hooks.on_handoff(address, conversation.id, decision.handoff.queue)
            if decision.handoff.level == "L3":
                alert = {"type": "l3_alert", "conversation_id": conversation.id, "queue": decision.handoff.queue}
                self._hooks.publish(SUPERVISORS, {**alert, "reasons": list(conversation.handoff_reasons or ())})
        if conversation.state == ConversationState.WITH_AGENT and conversation.agent_id:
            event = {"conversation_id": conversation.id, "message_id": message.public_id, "text": message.text}
            self._hooks.publish(conversation.agent_id, {"type": "customer_message", **event})

    async def give_up(self, address: Address, error: str) -> None:
        """Mark the oldest pending message failed so the conversation's later messages can go on."""
        async with self._sessions.begin() as session:
            message = await session.scalar(_OLDEST_PENDING, _at(address))
            if message is not None:
                message.processed_at = utcnow()
                message.error = error[:2000]
                log.error("gave up on %s message %s: %s", address.channel, message.public_id, error)


def _count(decision: Decision, conversation: OpenConversation) -> None:
    """The FAQ's outcome, the entry answered and the handoff, for /metrics (only when the bot decided)."""
    evidence = next((r.meta["faq"] for r in decision.replies if r.meta.get("faq")), None)
    if evidence is not None:
        metrics.FAQ_OUTCOMES.labels(evidence["decision"]).inc()
    for reply in decision.replies:
        if reply.faq_id:
            metrics.FAQ_ANSWERS.labels(reply.faq_id).inc()
    if decision.handoff:
        metrics.handoff(conversation.handoff_reasons or (), decision.handoff.queue, decision.handoff.level)


def _record(message: PendingMessage, conversation: OpenConversation, decision: Decision, writes: BatchWrites) -> None:
    """Keep the reading and intent with the customer's message and the handoff on the conversation."""
    message.meta = {
        "reading": decision.reading.as_dict() if decision.reading else None,
        "intent": decision.intent.as_dict() if decision.intent else None,
    }
    if decision.ticket and not decision.handoff:  # took the 留言 offer while waiting: no more wait notices
        writes.change(conversation, ticket=True)
    if decision.handoff:
        writes.change(
            conversation,
            ticket=decision.ticket,
            queued_at=utcnow(),
            queue=decision.handoff.queue,
            level=decision.handoff.level,
            priority=decision.handoff.priority,
            handoff_reasons=[f"{r.rule}: {r.detail}" if r.detail else r.rule for r in decision.reasons],
        )


async def _next_pending_and_open(
    connection: AsyncConnection, addresses: list[Address]
) -> dict[Address, list[tuple[PendingMessage, OpenConversation | None]]]:
    """For each address, its oldest two unprocessed messages with its open conversation (or None).

    One query per channel and account among them (a batch usually has one): the customers are
    looked up in the address index together (customer_id IN …), each at the cost of one lookup."""
    customers: dict[tuple[str, str], list[str]] = {}
    for address in addresses:
        customers.setdefault((address.channel, address.account), []).append(address.customer_id)
    found: dict[Address, list[tuple[PendingMessage, OpenConversation | None]]] = {}
    for (channel, account), ids in customers.items():
        query = {"channel": channel, "account": account, **{f"customer_{n}": c for n, c in enumerate(ids)}}
        for row in await read_rows(connection, _pending_and_open(len(ids)), query):
            message = PendingMessage(*row[:_CONVERSATION_AT])
            conversation = OpenConversation(*row[_CONVERSATION_AT:]) if row[_CONVERSATION_AT] is not None else None
            found.setdefault(Address(channel, account, message.customer_id), []).append((message, conversation))
    return found


def _history_ends(
    pending: Mapping[Address, Sequence[tuple[PendingMessage, OpenConversation | None]]],
) -> dict[str, int]:
    """Each open conversation's id, with the id of its message about to be handled: its history ends there."""
    return {rows[0][1].id: rows[0][0].id for rows in pending.values() if rows and rows[0][1] is not None}


def _at(address: Address) -> dict[str, str]:
    return {"channel": address.channel, "account": address.account, "customer": address.customer_id}


# Built once, with placeholders, so SQLAlchemy reuses them as they are (building and keying a
# statement for its compiled-SQL cache cost about as much as running it).
_OLDEST_PENDING = (
    select(Message)
    .where(
        Message.channel == bindparam("channel"),
        Message.account == bindparam("account"),
        Message.customer_id == bindparam("customer"),
        Message.direction == "in",
        Message.processed_at.is_(None),
    )
    .order_by(Message.id)
    .limit(1)
)
_CONVERSATION_AT = len(PENDING_COLUMNS)  # a row's first column of its conversation


@cache
def _pending_and_open(count: int) -> Select:
    """The unprocessed messages of `customer_<n>`, n < count, at most two each, with each one's
    open conversation, as plain values (PendingMessage, OpenConversation). Built once per count:
    SQLAlchemy's expanding IN would be rendered again at every execution."""
    customers = [bindparam(f"customer_{n}") for n in range(count)]
    places = (  # the customers' unprocessed messages, numbered from each one's oldest; only what is read
        select(
            *(Message.__table__.c[name] for name in dict.fromkeys(("channel", "account", *PENDING_COLUMNS))),
            func.row_number().over(partition_by=Message.customer_id, order_by=Message.id).label("place"),
        )
        .where(
            Message.channel == bindparam("channel"),
            Message.account == bindparam("account"),
            Message.customer_id.in_(customers),
            Message.direction == "in",
            Message.processed_at.is_(None),
        )
        .subquery()
    )
    conversations = Conversation.__table__.c
    return (
        select(*(places.c[name] for name in PENDING_COLUMNS), *(conversations[c] for c in CONVERSATION_COLUMNS))
        .outerjoin(
            Conversation,
            and_(
                Conversation.channel == places.c.channel,
                Conversation.account == places.c.account,
                Conversation.customer_id == places.c.customer_id,
                Conversation.state != ConversationState.CLOSED,
            ),
        )
        .where(places.c.place <= 2)
        .order_by(places.c.id)
    )


def _new_conversation(writes: BatchWrites, address: Address) -> OpenConversation:
    """`writes` inserts it as it stands once the batch is decided."""
    conversation = OpenConversation(
        new_id(), address.channel, address.account, address.customer_id, ConversationState.BOT, customer={}
    )
    writes.open(conversation, "customer wrote first")
    return conversation
