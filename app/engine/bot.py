"""What the bot does with one customer message, given the conversation's state: a pure decision."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from app.engine import texts
from app.store.tables import ConversationState
from faq.knowledge_base import Entry, KnowledgeBase
from faq.matcher import MatchResult, match
from routing.human_request import asks_for_human

_PICK = re.compile(r"^\s*([1-9])\s*[.。、)）]?\s*$")


@dataclass(frozen=True)
class Reply:
    sender: str
    text: str
    faq_id: str | None = None
    faq_score: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # the decision's evidence, stored with the reply


@dataclass(frozen=True)
class Decision:
    replies: list[Reply] = field(default_factory=list)
    new_state: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Turn:
    """One customer message and what the bot needs to know about the conversation so far."""

    state: str
    text: str
    channel: str | None = None
    offered: tuple[str, ...] = ()  # entry ids the bot's last message offered as 1, 2, 3…


def decide(turn: Turn, kb: KnowledgeBase | None) -> Decision:
    """Reply in state `bot`; stay silent once a person owns or is about to own the conversation."""
    if turn.state != ConversationState.BOT:
        return Decision()
    if asks_for_human(turn.text):
        return _handoff("customer asked for a person")
    if kb is None:
        return Decision([Reply("bot", texts.NO_ANSWER, meta={"decision": "none", "reasons": ["no FAQ loaded"]})])
    picked = _picked(turn, kb)
    if picked is not None:
        return _answer(picked, kb, score=None, meta={"decision": "answer", "reasons": ["picked suggestion"]})
    result = match(turn.text, kb, channel=turn.channel)
    meta = _evidence(result)
    if result.decision == "answer":
        return _answer(result.best.entry, kb, score=result.best.score, meta=meta)
    if result.decision == "suggest":
        offered = [s.entry for s in result.suggestions]
        meta["offered"] = [e.id for e in offered]
        return Decision([Reply("bot", texts.suggestions([e.questions[0] for e in offered]), meta=meta)])
    return Decision([Reply("bot", texts.NO_ANSWER, meta=meta)])


def _picked(turn: Turn, kb: KnowledgeBase) -> Entry | None:
    """ "1" after "您是想问：1… 2…" picks that entry."""
    found = _PICK.match(turn.text)
    if not found or not turn.offered:
        return None
    number = int(found.group(1))
    return kb.entries.get(turn.offered[number - 1]) if number <= len(turn.offered) else None


def _answer(entry: Entry, kb: KnowledgeBase, *, score: float | None, meta: dict) -> Decision:
    text = entry.render(kb.variables)
    reply = Reply("bot", text, faq_id=entry.id, faq_score=score, meta=meta)
    if entry.handoff:
        return Decision(
            [reply, Reply("system", texts.HANDOFF_AFTER_ANSWER)],
            new_state=ConversationState.QUEUED,
            reason=f"FAQ entry {entry.id} is marked handoff",
        )
    return Decision([reply])


def _handoff(reason: str) -> Decision:
    return Decision([Reply("system", texts.HANDOFF_REQUESTED)], new_state=ConversationState.QUEUED, reason=reason)


def _evidence(result: MatchResult) -> dict[str, Any]:
    return {
        "decision": result.decision,
        "reasons": result.reasons,
        "candidates": [{"id": c.entry.id, "score": c.score, "question": c.question} for c in result.candidates],
        "order_numbers": list(result.normalised.order_numbers),
    }
