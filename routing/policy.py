"""The handoff policy: answer, suggest, clarify or hand off (queue, level, priority), always with reasons.

Rules, first match wins:
  1. a threat or a safety risk        → L3 to the threat/safety queue, top priority
  2. the customer asks for a person    → the intent's queue (L2 when angry), at once
  3. angry or aggrieved                → L2 to the complaints queue, empathy first
  4. an intent only a person can do    → that intent's queue
  5. a confident FAQ answer            → answer (reassurance first when anxious; then hand off
                                         when the entry is marked `handoff`); but when the answer
                                         asks for the order number and the message carries one,
                                         the intent's queue instead: asking again would be absurd
  6. an order number the FAQ cannot    → the queue of that answer's intent: the bot cannot look
     place, right after an answer        orders up (answers often ask for one: 把订单号发给我们)
  7. suggestions / nothing found       → suggest / clarify, until `unresolved_turns` in a row,
                                         then hand off
VIP customers get a priority boost and, for ordinary handoffs, the VIP queue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from faq.matcher import MatchResult
from routing.emotion import RISK_EVIDENCE, Reading
from routing.intent import Intent
from routing.rules import Level, Rules

Action = Literal["answer", "suggest", "clarify", "handoff"]


@dataclass(frozen=True, slots=True)
class Reason:
    rule: str
    detail: str


@dataclass(frozen=True, slots=True)
class Handoff:
    queue: str
    queue_name: str
    level: Level
    priority: int

    def as_dict(self) -> dict:
        """dataclasses.asdict's result without its deep copy (kept with every handoff)."""
        return {"queue": self.queue, "queue_name": self.queue_name, "level": self.level, "priority": self.priority}


@dataclass(frozen=True)
class Situation:
    """Everything the policy looks at for one customer message."""

    reading: Reading
    intent: Intent
    faq: MatchResult | None
    asked_for_human: bool = False
    unresolved_before: int = 0  # bot turns in a row, just before this one, that did not help
    vip: bool = False
    topic: str | None = None  # the intent of the bot's answer just before this message, if any


@dataclass(frozen=True)
class PolicyDecision:
    action: Action
    reasons: tuple[Reason, ...]
    handoff: Handoff | None = None
    message: str | None = None  # the handoff notice, the clarifying question, or reassurance before an answer
    then_handoff: bool = False  # answer first, then hand off


def decide(s: Situation, rules: Rules) -> PolicyDecision:
    t = rules.templates
    if s.reading.risk in ("threat", "safety"):
        queue = rules.escalation.threat_queue if s.reading.risk == "threat" else rules.escalation.safety_queue
        words = "、".join(e.text for e in s.reading.evidence if e.kind in RISK_EVIDENCE)
        template = t.senior if s.reading.risk == "threat" else t.safety
        return _handoff(s, rules, queue, "L3", template, Reason(f"risk:{s.reading.risk}", words))
    if s.asked_for_human:
        level: Level | None = "L2" if s.reading.escalated else None
        queue = rules.escalation.angry_queue if level else _intent_queue(s, rules)
        return _handoff(s, rules, queue, level, t.empathy if level else t.handoff, Reason("human_request", "转人工"))
    if s.reading.label in ("angry", "aggrieved"):
        words = "、".join(e.text for e in s.reading.evidence)[:200]
        reason = Reason(f"emotion:{s.reading.label}", words)
        return _handoff(s, rules, rules.escalation.angry_queue, "L2", t.empathy, reason)
    if s.intent.name in rules.handoff_intents:
        reason = Reason(f"intent:{s.intent.name}", s.intent.detail)
        return _handoff(s, rules, _intent_queue(s, rules), None, t.handoff, reason)
    return _bot_turn(s, rules)


def _bot_turn(s: Situation, rules: Rules) -> PolicyDecision:
    faq, t = s.faq, rules.templates
    if faq is not None and faq.decision == "answer":
        entry = faq.best.entry
        if faq.normalised.order_numbers and asks_for_the_order_number(entry.answer):
            reason = Reason("order_number", f"sent with a question about {entry.id}, whose answer asks for one")
            return _handoff(s, rules, _intent_queue(s, rules), None, t.handoff, reason)
        reason = Reason("faq:answer", f"{entry.id} {faq.best.score:.2f}")
        before = t.reassurance if s.reading.label == "anxious" else None
        if entry.handoff:
            handed = _handoff(s, rules, _intent_queue(s, rules), None, t.after_answer, reason)
            return PolicyDecision("answer", handed.reasons, handed.handoff, handed.message, then_handoff=True)
        return PolicyDecision("answer", (reason,), message=before)
    if s.topic is not None and faq is not None and faq.decision == "none" and faq.normalised.order_numbers:
        reason = Reason("order_number", f"sent after an answer about {s.topic}")
        return _handoff(s, rules, rules.intent_queues.get(s.topic, rules.default_queue), None, t.handoff, reason)
    if s.unresolved_before + 1 >= rules.escalation.unresolved_turns:
        reason = Reason("unresolved_turns", f"{s.unresolved_before + 1} bot turns in a row did not help")
        return _handoff(s, rules, _intent_queue(s, rules), None, t.unresolved, reason)
    if faq is not None and faq.decision == "suggest":
        return PolicyDecision("suggest", (Reason("faq:suggest", "、".join(c.entry.id for c in faq.suggestions)),))
    reason = Reason("faq:none", "; ".join(faq.reasons) if faq else "no FAQ")
    return PolicyDecision("clarify", (reason,), message=t.clarify)


def asks_for_the_order_number(answer: str) -> bool:
    """麻烦您提供一下订单号, 请把订单号发给我们: the bot cannot look orders up, so such answers ask."""
    return _ASKS_FOR_ORDER.search(answer) is not None


_ASKS_FOR_ORDER = re.compile(
    r"(提供|告诉|发|留|报)[^，。！？,.!?]{0,4}订单(号|编号)"  # 提供一下订单号
    r"|订单(号|编号)[^，。！？,.!?]{0,4}(发|告诉|给)我"  # 把订单号发给我们
)


def _intent_queue(s: Situation, rules: Rules) -> str:
    return rules.intent_queues.get(s.intent.name or "", rules.default_queue)


def _handoff(s: Situation, rules: Rules, queue_id: str, level: Level | None, template: str, reason: Reason):
    reasons = [reason]
    if s.vip and level in (None, "L1") and rules.vip.queue:
        queue_id = rules.vip.queue
        reasons.append(Reason("vip", "VIP queue"))
    queue = rules.queue(queue_id)
    level = level or queue.level
    priority = rules.priorities.get(level, 0) + (rules.vip.priority_boost if s.vip else 0)
    if s.reading.trend > 0 and s.reading.escalated:
        priority += 5
        reasons.append(Reason("trend", f"more upset than before (+{s.reading.trend})"))
    handoff = Handoff(queue.id, queue.name, level, priority)
    return PolicyDecision("handoff", tuple(reasons), handoff, template.format(queue_name=queue.name))
