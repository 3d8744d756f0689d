"""Unanswered questions: what customers asked that the FAQ could not answer, grouped for ops to fill in.

A customer message is unanswered when the bot
  - found nothing in the FAQ and asked again (clarify, `faq:none`),
  - offered suggestions and the customer's next message picked none of them, or
  - handed off because too many turns in a row did not help (`unresolved_turns`).
Handoffs for risk, emotion, a request for a person or an intent only people handle are not gaps.

Messages are grouped greedily ("leader" clustering) over their distinct texts, most frequent
first: a text joins the first group whose leading text shares enough topic terms with it (Dice
coefficient >= 0.5 over the FAQ tokeniser's terms, question words left out) or reads almost the
same (rapidfuzz ratio >= 90, for typos and texts without terms); otherwise it leads a new group.
Leaders sharing a term are found through an index of their terms and the spelling check runs in
rapidfuzz's C loop: 15,000 messages (300 groups) take under a second.

    >>> gaps = cluster([("实体店在哪里", t), ("有实体店吗", t), ("能开发票吗", t)], reader_for(kb))
    >>> [(g.count, g.examples) for g in gaps]
    [(2, ('实体店在哪里', '有实体店吗')), (1, ('能开发票吗',))]
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz, process
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.decisions import PICKED, of_decision, per_customer_message
from app.privacy import mask
from app.store.sql_functions import rule_of
from app.store.tables import Message
from faq.index import QUESTION_WORDS
from faq.knowledge_base import KnowledgeBase
from faq.normalise import normalise

Reader = Callable[[str], tuple[str, frozenset[str]]]  # a message -> (normalised text, topic terms)
EXAMPLES = 3
SAME_TOPIC = 0.5  # Dice coefficient of the topic terms
SAME_TEXT = 90  # rapidfuzz ratio of the normalised texts
_SINCE = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MAX_SINCE = timedelta(days=366)


@dataclass(frozen=True)
class Gap:
    count: int
    examples: tuple[str, ...]  # masked, the most frequent first
    terms: tuple[str, ...]  # the leading text's topic terms
    first_seen: datetime
    last_seen: datetime

    def as_dict(self) -> dict:
        return {
            "count": self.count,
            "examples": list(self.examples),
            "terms": list(self.terms),
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
        }


def parse_since(text: str) -> timedelta:
    """'30m', '24h', '7d', '2w' -> that long; ValueError for anything else, for zero or for more than a year."""
    found = _SINCE.match(text)
    if not found or int(found.group(1)) == 0:
        raise ValueError(f"since must look like 24h or 7d, not {text!r}")
    period = int(found.group(1)) * _UNITS[found.group(2)]
    if period > MAX_SINCE:
        raise ValueError("since can go back at most 366 days")
    return period


def reader_for(kb: KnowledgeBase | None) -> Reader:
    """The live FAQ's tokeniser (`kb.index.parse`); without an FAQ only near-identical texts group."""
    if kb is None or kb.index is None:
        return lambda text: (normalise(text).text, frozenset())
    index = kb.index

    def read(text: str) -> tuple[str, frozenset[str]]:
        query = index.parse(text)
        return query.text, query.terms - QUESTION_WORDS

    return read


async def find_gaps(
    session: AsyncSession, start: datetime, end: datetime, read: Reader, *, secrets: Iterable[str] = ()
) -> list[Gap]:
    """The period's unanswered messages in groups, the largest first; examples masked (phones, addresses…)."""
    rows = await session.execute(_GAPS, {"start": start, "end": end})
    return cluster([(text, at) for text, at in rows], read, secrets=tuple(secrets))


def _gaps_query() -> Select:
    """The text and time of the period's unanswered messages, told apart in SQL.

    A week of a promotion is millions of customer messages; read one by one, they held the event
    loop for seconds on every load of the ops page. Each message is reduced to its decision's
    action and rule (as app/decisions.py reads them), and LEAD gives the rule of the conversation's
    next message: "picked suggestion" there means the suggestions helped."""
    reply = aliased(Message)
    decision = of_decision(reply)
    turns = per_customer_message(
        reply,
        Message.id,
        Message.conversation_id,
        Message.created_at,
        Message.text,
        decision(reply.meta["action"].as_string()).label("action"),
        decision(rule_of(reply.meta[("reasons", 0)].as_string())).label("reason"),
    ).subquery()
    following = func.lead(turns.c.reason).over(partition_by=turns.c.conversation_id, order_by=turns.c.id)
    marked = select(turns, following.label("next_reason")).subquery()
    unpicked = func.coalesce(marked.c.next_reason, "") != PICKED  # NULL: no next message, or one not decided
    return (
        select(marked.c.text, marked.c.created_at)
        .where(
            or_(
                marked.c.action == "clarify",
                and_(marked.c.action == "suggest", unpicked),
                and_(marked.c.action == "handoff", marked.c.reason == "unresolved_turns"),
            )
        )
        .order_by(marked.c.id)
    )


_GAPS = _gaps_query()


def cluster(messages: list[tuple[str, datetime]], read: Reader, *, secrets: tuple[str, ...] = ()) -> list[Gap]:
    """Group (text, time) pairs by topic; groups sorted by size, then by the latest message."""
    seen: dict[str, list[datetime]] = defaultdict(list)
    for text, at in messages:
        seen[text.strip()].append(at)
    texts = sorted(seen, key=lambda t: (-len(seen[t]), min(seen[t])))
    leaders = _Leaders()
    groups: list[list[str]] = []
    for text in texts:
        normalised, terms = read(text)
        number = leaders.closest(normalised, terms)
        if number is None:
            number = leaders.add(normalised, terms)
            groups.append([])
        groups[number].append(text)
    gaps = [_gap(members, seen, leaders.terms[n], secrets) for n, members in enumerate(groups)]
    return sorted(gaps, key=lambda g: (-g.count, -g.last_seen.timestamp()))


class _Leaders:
    """The text that opened each group, its terms, and which groups' leaders use each term."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.terms: list[frozenset[str]] = []
        self._by_term: dict[str, list[int]] = defaultdict(list)

    def add(self, normalised: str, terms: frozenset[str]) -> int:
        number = len(self.texts)
        self.texts.append(normalised)
        self.terms.append(terms)
        for term in terms:
            self._by_term[term].append(number)
        return number

    def closest(self, normalised: str, terms: frozenset[str]) -> int | None:
        """The first group whose leader shares the topic, else one whose leader reads almost the same."""
        for number in sorted({n for term in terms for n in self._by_term.get(term, ())}):
            other = self.terms[number]
            if 2 * len(terms & other) / (len(terms) + len(other)) >= SAME_TOPIC:
                return number
        if not normalised:
            return None
        found = process.extractOne(normalised, self.texts, scorer=fuzz.ratio, score_cutoff=SAME_TEXT)
        return found[2] if found else None


def _gap(members: list[str], seen: dict[str, list[datetime]], terms: frozenset[str], secrets) -> Gap:
    times = [at for text in members for at in seen[text]]
    ranked = Counter({text: len(seen[text]) for text in members}).most_common()
    examples = tuple(dict.fromkeys(mask(text, secrets) for text, _ in ranked))[:EXAMPLES]
    return Gap(len(times), examples, tuple(sorted(terms)), min(times), max(times))
