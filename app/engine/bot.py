"""What the bot does with one customer message, given the conversation's state: a pure decision."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.engine import texts
from app.store.tables import ConversationState
from faq.knowledge_base import KnowledgeBase
from faq.matcher import match
from routing.human_request import asks_for_human


@dataclass(frozen=True)
class Reply:
    sender: str
    text: str
    faq_id: str | None = None
    faq_score: float | None = None


@dataclass(frozen=True)
class Decision:
    replies: list[Reply] = field(default_factory=list)
    new_state: str | None = None
    reason: str | None = None


def decide(state: str, text: str, kb: KnowledgeBase | None, *, shop_name: str) -> Decision:
    """Reply in state `bot`; stay silent once a person owns or is about to own the conversation."""
    if state != ConversationState.BOT:
        return Decision()
    if asks_for_human(text):
        return Decision(
            [Reply("system", texts.HANDOFF_REQUESTED)],
            new_state=ConversationState.QUEUED,
            reason="customer asked for a person",
        )
    hit = match(text, kb) if kb else None
    if hit is None:
        return Decision([Reply("bot", texts.NO_ANSWER)])
    answer = hit.entry.answer.replace("{shop_name}", shop_name)
    return Decision([Reply("bot", answer, faq_id=hit.entry.id, faq_score=hit.score)])
