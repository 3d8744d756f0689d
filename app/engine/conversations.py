"""Process a conversation's next pending message: find or open the conversation, decide, store the outcome.

Everything one message causes (replies, state change, the processed mark, outbox rows) commits
in one transaction, so a crash either redoes the message or finds it fully done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.base import Address, OutboundMessage
from app.engine.bot import Decision, decide
from app.engine.closing import record_rating
from app.engine.context import reading_to_dict, turn_for
from app.engine.replies import add_reply
from app.engine.waiting import SUPERVISORS
from app.knowledge import Routing
from app.store.tables import Conversation, ConversationState, Message, StateTransition, utcnow
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


class ConversationEngine:
    def __init__(self, sessions: async_sessionmaker, hooks: EngineHooks) -> None:
        self._sessions = sessions
        self._hooks = hooks

    async def process_next(self, address: Address) -> bool:
        """Handle the oldest unprocessed message of `address`; False when there is none."""
        async with self._sessions.begin() as session:
            message = await _next_pending(session, address)
            if message is None:
                return False
            routing = self._hooks.routing()
            current = await _open(session, address)
            thanks = None
            if current is None:  # a bare 1-5 right after a close rates it
                thanks = await record_rating(session, address, message, routing.rules.templates)
            if thanks is not None:
                outbound, decision, conversation = [thanks], None, None
            else:
                conversation = current or await _new_conversation(session, address)
                if message.customer:
                    conversation.customer = message.customer
                decision, outbound = await self._converse(session, conversation, message, routing)
            message.processed_at = utcnow()
        if decision is not None:  # before the outbox, so a waiting chat is claimed first
            self._after(decision, conversation, message)
        for item in outbound:
            self._hooks.on_outbound(item)
        return True

    async def _converse(
        self, session: AsyncSession, conversation: Conversation, message: Message, routing: Routing
    ) -> tuple[Decision, list[OutboundMessage]]:
        message.conversation_id = conversation.id
        turn = await turn_for(session, conversation, message, routing.rules)
        decision = decide(turn, self._hooks.knowledge_base(), routing)
        _record(message, conversation, decision)
        if decision.new_state:
            transition(session, conversation, decision.new_state, decision.reason or "")
        outbound = [
            await add_reply(
                session,
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

    def _after(self, decision: Decision, conversation: Conversation, message: Message) -> None:
        """Once committed: wake the assigner for a handoff, tell the agent who owns the chat."""
        if decision.handoff:
            self._hooks.on_queued()
            if decision.handoff.level == "L3":
                alert = {"type": "l3_alert", "conversation_id": conversation.id, "queue": decision.handoff.queue}
                self._hooks.publish(SUPERVISORS, {**alert, "reasons": list(conversation.handoff_reasons or ())})
        if conversation.state == ConversationState.WITH_AGENT and conversation.agent_id:
            event = {"conversation_id": conversation.id, "message_id": message.public_id, "text": message.text}
            self._hooks.publish(conversation.agent_id, {"type": "customer_message", **event})

    async def give_up(self, address: Address, error: str) -> None:
        """Mark the oldest pending message failed so the conversation's later messages can go on."""
        async with self._sessions.begin() as session:
            message = await _next_pending(session, address)
            if message is not None:
                message.processed_at = utcnow()
                message.error = error[:2000]
                log.error("gave up on %s message %s: %s", address.channel, message.public_id, error)


def transition(session: AsyncSession, conversation: Conversation, to_state: str, reason: str) -> None:
    session.add(
        StateTransition(
            conversation_id=conversation.id, from_state=conversation.state, to_state=to_state, reason=reason
        )
    )
    conversation.state = to_state


async def _next_pending(session: AsyncSession, address: Address) -> Message | None:
    return await session.scalar(
        select(Message)
        .where(
            Message.channel == address.channel,
            Message.account == address.account,
            Message.customer_id == address.customer_id,
            Message.direction == "in",
            Message.processed_at.is_(None),
        )
        .order_by(Message.id)
        .limit(1)
    )


def _record(message: Message, conversation: Conversation, decision: Decision) -> None:
    """Keep the reading and intent with the customer's message and the handoff on the conversation."""
    message.meta = {
        "reading": reading_to_dict(decision.reading) if decision.reading else None,
        "intent": asdict(decision.intent) if decision.intent else None,
    }
    if decision.handoff:
        conversation.ticket = decision.ticket
        conversation.queued_at = utcnow()
        conversation.queue = decision.handoff.queue
        conversation.level = decision.handoff.level
        conversation.priority = decision.handoff.priority
        conversation.handoff_reasons = [f"{r.rule}: {r.detail}" if r.detail else r.rule for r in decision.reasons]


async def _open(session: AsyncSession, address: Address) -> Conversation | None:
    return await session.scalar(
        select(Conversation).where(
            Conversation.channel == address.channel,
            Conversation.account == address.account,
            Conversation.customer_id == address.customer_id,
            Conversation.state != ConversationState.CLOSED,
        )
    )


async def _new_conversation(session: AsyncSession, address: Address) -> Conversation:
    conversation = Conversation(
        channel=address.channel,
        account=address.account,
        customer_id=address.customer_id,
        state=ConversationState.BOT,
    )
    session.add(conversation)
    await session.flush()
    session.add(
        StateTransition(conversation_id=conversation.id, to_state=ConversationState.BOT, reason="customer wrote first")
    )
    return conversation
