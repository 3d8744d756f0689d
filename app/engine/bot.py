"""What the bot does with one customer message: read it, match the FAQ, apply the routing policy.

A pure function of the message, the conversation's recent past and the live FAQ and rules;
the engine stores what it returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from app.engine import texts
from app.knowledge import Routing
from app.store.tables import ConversationState, utcnow
from faq.knowledge_base import KnowledgeBase
from faq.matcher import MatchResult, Thresholds, match
from routing.emotion import Reading
from routing.hours import is_open
from routing.human_request import asks_for_human, checks_for_a_person
from routing.intent import Intent, classify
from routing.policy import Handoff, PolicyDecision, Reason, Situation
from routing.policy import decide as policy_decide

NOBODY_ONLINE = "nobody_online"  # meta key of the notice that nobody who could take the chat is online
_PICK = re.compile(r"^\s*([1-9])\s*[.。、)）]?\s*$")
_LEAVE_MESSAGE = re.compile(r"^\s*(我要|我想)?留(个)?言\s*[吧。!！~～]*\s*$")  # taking the 留言 offer while waiting


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
    handoff: Handoff | None = None
    ticket: bool = False  # the customer leaves a message (留言): out of hours, or rather than wait
    reasons: tuple[Reason, ...] = ()
    reading: Reading | None = None  # stored with the customer's message
    intent: Intent | None = None


@dataclass(frozen=True)
class Turn:
    """One customer message and what the bot needs to know about the conversation so far."""

    state: str
    text: str
    channel: str | None = None
    offered: tuple[str, ...] = ()  # entry ids the bot's last message offered as 1, 2, 3…
    history: tuple[Reading, ...] = ()  # readings of the customer's earlier messages, oldest first
    unresolved_before: int = 0
    vip: bool = False
    first: bool = False  # the conversation's first message
    topic: str | None = None  # the intent of the bot's answer just before, if its last reply answered
    unstaffed: bool = False  # waiting, and the latest notice said nobody who could take the chat is online
    now: datetime = field(default_factory=utcnow)


def decide(turn: Turn, kb: KnowledgeBase | None, routing: Routing) -> Decision:
    """Reply in state `bot`; once a person owns or is about to own the conversation, only read."""
    reading = routing.reader.read(turn.text, history=turn.history)
    templates = routing.rules.templates
    if turn.state != ConversationState.BOT:
        if turn.state == ConversationState.QUEUED and _LEAVE_MESSAGE.match(turn.text):
            return Decision([Reply("system", templates.callback_booked)], ticket=True, reading=reading)
        if turn.state == ConversationState.QUEUED and (asks_for_human(turn.text) or checks_for_a_person(turn.text)):
            if turn.unstaffed:  # the same meta as the timers' notice: it counts as said (app/engine/timers.py)
                notice = Reply("system", templates.nobody_online, meta={NOBODY_ONLINE: True})
                return Decision([notice], reading=reading)
            return Decision([Reply("system", templates.still_queued)], reading=reading)  # "在吗" while waiting too
        return Decision(reading=reading)
    decision = _decide_as_bot(turn, kb, routing, reading)
    promotion = routing.rules.promotion_mode
    if turn.first and promotion.enabled and promotion.banner:  # 大促 announcement, once per conversation
        banner = Reply("system", promotion.banner, meta={"action": "banner"})
        decision = replace(decision, replies=[banner, *decision.replies])
    return decision


def _decide_as_bot(turn: Turn, kb: KnowledgeBase | None, routing: Routing, reading: Reading) -> Decision:
    picked = _picked(turn, kb)
    if picked is not None and not reading.escalated:
        reply = Reply("bot", picked[1], faq_id=picked[0], meta={"action": "answer", "reasons": ["picked suggestion"]})
        return Decision([reply], reading=reading)
    faq = match(turn.text, kb, thresholds=_thresholds(routing), channel=turn.channel) if kb else None
    intent = classify(turn.text, faq, routing.rules)
    human = asks_for_human(turn.text) or (turn.unresolved_before > 0 and checks_for_a_person(turn.text))
    situation = Situation(reading, intent, faq, human, turn.unresolved_before, turn.vip, turn.topic)
    policy = _out_of_hours(policy_decide(situation, routing.rules), routing, turn.now)
    return _carry_out(policy, faq, kb, reading, intent)


def _out_of_hours(policy: PolicyDecision, routing: Routing, now: datetime) -> PolicyDecision:
    """Outside the queue's hours the handoff becomes a message left for the next shift (留言)."""
    if policy.handoff is None:
        return policy
    hours = routing.rules.hours(policy.handoff.queue)
    if is_open(hours, now):
        return policy
    notice = routing.rules.templates.out_of_hours.format(hours=hours)
    reasons = (*policy.reasons, Reason("out_of_hours", hours))
    return replace(policy, message=notice, reasons=reasons)


def _carry_out(
    policy: PolicyDecision, faq: MatchResult | None, kb: KnowledgeBase | None, reading: Reading, intent: Intent
) -> Decision:
    meta = _evidence(policy, faq, intent)
    replies: list[Reply] = []
    if policy.action == "answer":
        if policy.message and not policy.then_handoff:
            replies.append(Reply("bot", policy.message, meta=meta))
        entry = faq.best.entry
        replies.append(Reply("bot", entry.render(kb.variables), faq_id=entry.id, faq_score=faq.best.score, meta=meta))
    elif policy.action == "suggest":
        offered = [s.entry for s in faq.suggestions]
        meta["offered"] = [e.id for e in offered]
        replies.append(Reply("bot", texts.suggestions([e.questions[0] for e in offered]), meta=meta))
    elif policy.action == "clarify":
        replies.append(Reply("bot", policy.message, meta=meta))
    if policy.handoff is not None:
        replies.append(Reply("system", policy.message, meta=meta))
        summary = "; ".join(f"{r.rule}: {r.detail}" if r.detail else r.rule for r in policy.reasons)
        ticket = any(r.rule == "out_of_hours" for r in policy.reasons)
        return Decision(
            replies,
            ConversationState.QUEUED,
            summary,
            policy.handoff,
            ticket,
            policy.reasons,
            reading=reading,
            intent=intent,
        )
    return Decision(replies, reasons=policy.reasons, reading=reading, intent=intent)


def _thresholds(routing: Routing) -> Thresholds:
    t = routing.rules.active_thresholds
    return Thresholds(answer=t.answer, lead=t.lead, suggest=t.suggest)


def _picked(turn: Turn, kb: KnowledgeBase | None) -> tuple[str, str] | None:
    """ "1" after "您是想问：1… 2…" picks that entry: (id, rendered answer)."""
    found = _PICK.match(turn.text)
    if not found or not turn.offered or kb is None:
        return None
    number = int(found.group(1))
    entry = kb.entries.get(turn.offered[number - 1]) if number <= len(turn.offered) else None
    return (entry.id, entry.render(kb.variables)) if entry else None


def _evidence(policy: PolicyDecision, faq: MatchResult | None, intent: Intent) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "action": policy.action,
        "reasons": [f"{r.rule}: {r.detail}" if r.detail else r.rule for r in policy.reasons],
        "intent": intent.as_dict(),
    }
    if policy.handoff:
        meta["handoff"] = policy.handoff.as_dict()
    if faq is not None:
        meta["faq"] = {
            "decision": faq.decision,
            "reasons": faq.reasons,
            "candidates": [{"id": c.entry.id, "score": c.score, "question": c.question} for c in faq.candidates],
        }
        meta["order_numbers"] = list(faq.normalised.order_numbers)
    return meta
