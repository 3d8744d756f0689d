"""Replay past customer messages through two FAQ + rules versions (live, candidate) and compare the outcomes.

Offline: nothing is stored or sent. Each conversation is simulated only as far as `decide` needs it:
the recent messages `turn_from` reads (the customer's readings, the bot's replies and offers) and the
state; once a version hands the conversation off, its later messages are "with a person", not decided.

    >>> replayed = replay(read_transcripts(path), live, candidate)
    >>> summarise(replayed, examples=3)["changes"]
    {'clarify → answer': 2, 'answer(a) → answer(b)': 1}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from app.engine.bot import Decision, decide
from app.engine.context import RECENT, turn_from
from app.knowledge import Routing
from app.privacy import mask
from app.store.tables import ConversationState, utcnow
from app.transcripts import Transcript
from faq.knowledge_base import KnowledgeBase

WITH_PERSON = "with_person"
KINDS = ("answer", "suggest", "clarify", "handoff", WITH_PERSON)


@dataclass(frozen=True)
class Version:
    """One FAQ + rules pair to replay through."""

    kb: KnowledgeBase | None
    routing: Routing


@dataclass(frozen=True)
class Outcome:
    """What one version did with a message: the action, the entry answered, the queue of a handoff."""

    kind: str  # answer | suggest | clarify | handoff | with_person
    faq_id: str | None = None
    queue: str | None = None
    reason: str | None = None  # the handoff's first reason (a rule such as human_request)

    @property
    def label(self) -> str:
        return f"{self.kind}+handoff" if self.queue and self.kind != "handoff" else self.kind

    def describe(self) -> str:
        text = f"{self.kind} {self.faq_id}" if self.faq_id else self.kind
        if self.queue:
            text += f" → {self.queue} ({self.reason})" if self.kind == "handoff" else f", then {self.queue}"
        return text

    def key(self) -> tuple[str, str | None, str | None]:
        return (self.kind, self.faq_id, self.queue)


@dataclass(frozen=True)
class Replayed:
    conversation_id: str
    text: str
    live: Outcome
    candidate: Outcome

    @property
    def change(self) -> str | None:
        """The kind of change, e.g. 'clarify → answer' or 'answer(a) → answer(b)'; None when the same."""
        live, candidate = self.live, self.candidate
        if live.key() == candidate.key():
            return None
        if live.label != candidate.label:
            return f"{live.label} → {candidate.label}"
        if live.faq_id != candidate.faq_id:
            return f"{live.label}(a) → {candidate.label}(b)"
        return f"{live.label}(queue a) → {candidate.label}(queue b)"


@dataclass(frozen=True)
class _Past:
    """A simulated stored message, as `turn_from` reads it."""

    direction: str
    sender: str
    meta: dict[str, Any] | None


@dataclass
class _Conversation:
    state: str = ConversationState.BOT
    recent: list[_Past] = field(default_factory=list)  # newest first, at most RECENT

    def record(self, decision: Decision) -> None:
        reading = {"reading": decision.reading.as_dict() if decision.reading else None}
        replies = [_Past("out", r.sender, r.meta or None) for r in reversed(decision.replies)]
        self.recent = [*replies, _Past("in", "customer", reading), *self.recent][:RECENT]
        self.state = decision.new_state or self.state


def replay(
    transcripts: Iterable[Transcript], live: Version, candidate: Version, *, now: datetime | None = None
) -> Iterator[Replayed]:
    """Every customer message of every transcript with both versions' outcomes, in order.

    A message without a time is decided as at `now` (default: the start of the replay), for service hours.
    """
    now = now or utcnow()
    for transcript in transcripts:
        pairs = zip(_outcomes(transcript, live, now), _outcomes(transcript, candidate, now), strict=True)
        for turn, (before, after) in zip(transcript.turns, pairs, strict=True):
            yield Replayed(transcript.conversation_id, turn.text, before, after)


def _outcomes(transcript: Transcript, version: Version, now: datetime) -> Iterator[Outcome]:
    conversation = _Conversation()
    for message in transcript.turns:
        if conversation.state != ConversationState.BOT:
            yield Outcome(WITH_PERSON)
            continue
        turn = turn_from(conversation.recent, conversation.state, message.text, transcript.channel)
        decision = decide(replace(turn, now=message.at or now), version.kb, version.routing)
        conversation.record(decision)
        yield outcome_of(decision)


def outcome_of(decision: Decision) -> Outcome:
    actions = [r.meta.get("action") for r in decision.replies if r.meta.get("action") not in (None, "banner")]
    faq_id = next((r.faq_id for r in decision.replies if r.faq_id), None)
    queue = decision.handoff.queue if decision.handoff else None
    reason = decision.reasons[0].rule if decision.handoff and decision.reasons else None
    return Outcome(actions[0] if actions else "none", faq_id, queue, reason)


# ---------------------------------------------------------------- the comparison


def summarise(replayed: Iterable[Replayed], *, examples: int = 3) -> dict[str, Any]:
    """Counts and rates per version, the changes by kind and up to `examples` masked examples of each."""
    rows = list(replayed)
    changes: Counter[str] = Counter()
    shown: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        change = row.change
        if change is None:
            continue
        changes[change] += 1
        if len(shown.setdefault(change, [])) < examples:
            example = {"conversation_id": row.conversation_id, "text": mask(row.text)}
            shown[change].append({**example, "live": row.live.describe(), "candidate": row.candidate.describe()})
    return {
        "messages": len(rows),
        "conversations": len({r.conversation_id for r in rows}),
        "live": _figures([r.live for r in rows]),
        "candidate": _figures([r.candidate for r in rows]),
        "changed": changes.total(),
        "changes": dict(changes.most_common()),
        "examples": {change: shown[change] for change, _ in changes.most_common() if shown.get(change)},
    }


def _figures(outcomes: list[Outcome]) -> dict[str, Any]:
    kinds = Counter(o.kind for o in outcomes)
    handoffs = [o for o in outcomes if o.queue]
    total = len(outcomes) or 1
    return {
        "counts": {kind: kinds[kind] for kind in (*KINDS, *sorted(set(kinds) - set(KINDS)))},
        "handoffs": len(handoffs),
        "answer_rate": round(kinds["answer"] / total, 4),
        "suggest_rate": round(kinds["suggest"] / total, 4),
        "handoff_rate": round(len(handoffs) / total, 4),
        "handoffs_by_reason": dict(Counter(o.reason for o in handoffs).most_common()),
        "handoffs_by_queue": dict(Counter(o.queue for o in handoffs).most_common()),
    }
