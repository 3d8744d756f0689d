"""质检抽检: a reproducible sample of each agent's closed chats of a day, and the supervisors' scores of them.

The sample of a day (China time) is drawn from the conversations closed that day with an agent. Each
agent's chats are ranked by the SHA-256 of the date and the conversation id: random to the eye, the same
on every call and for every supervisor, and a chat closed later in the day slots in without reshuffling
the others. The first `per_agent` of each ranking are the day's sample; those reviewed already (by anyone)
are left out, so the sample shrinks as supervisors score it instead of refilling.

A review scores politeness, accuracy and resolution 1-5 and may carry a comment; a reviewer reviews a
conversation once (the table's unique constraint), a second reviewer may score it too.
"""

from __future__ import annotations

import hashlib
import statistics
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.ops_stats import CHINA
from app.store.tables import Agent, Conversation, QualityReview, utcnow

SCORES = ("politeness", "accuracy", "resolution")
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)  # the days a report or sample may be asked for


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Midnight to midnight of `day`, China time (no summer time there: always 24 hours)."""
    start = datetime.combine(day, time(), CHINA)
    return start, start + timedelta(days=1)


def yesterday(now: datetime | None = None) -> date:
    """The last whole day in China: what a daily report or a 质检 round is about by default."""
    return (now or utcnow()).astimezone(CHINA).date() - timedelta(days=1)


def sample_rank(day: date, conversation_id: str) -> str:
    return hashlib.sha256(f"{day.isoformat()}:{conversation_id}".encode()).hexdigest()


async def sample(session: AsyncSession, day: date, per_agent: int) -> list[Conversation]:
    """Up to `per_agent` conversations per agent closed on `day`, not reviewed yet, by agent then rank."""
    start, end = day_bounds(day)
    that_day = (Conversation.closed_at >= start) & (Conversation.closed_at < end)
    closed = (await session.scalars(select(Conversation).where(that_day, Conversation.agent_id.is_not(None)))).all()
    reviewed = set(
        await session.scalars(
            select(QualityReview.conversation_id)
            .join(Conversation, Conversation.id == QualityReview.conversation_id)
            .where(that_day)
        )
    )
    by_agent: dict[str, list[Conversation]] = defaultdict(list)
    for conversation in sorted(closed, key=lambda c: sample_rank(day, c.id)):
        by_agent[conversation.agent_id].append(conversation)
    return [c for agent_id in sorted(by_agent) for c in by_agent[agent_id][:per_agent] if c.id not in reviewed]


async def agents_by_id(session: AsyncSession, ids: set[str]) -> dict[str, Agent]:
    rows = await session.scalars(select(Agent).where(Agent.id.in_(ids))) if ids else []
    return {agent.id: agent for agent in rows}


def agent_view(agent: Agent | None) -> dict | None:
    return {"id": agent.id, "username": agent.username, "name": agent.name} if agent else None


async def reviews_since(session: AsyncSession, since: datetime) -> list[dict]:
    """Reviews made since `since`, newest first, with the agent reviewed and the reviewer."""
    reviewed, reviewer = aliased(Agent), aliased(Agent)
    rows = await session.execute(
        select(QualityReview, reviewed, reviewer)
        .join(reviewed, reviewed.id == QualityReview.agent_id)
        .join(reviewer, reviewer.id == QualityReview.reviewer_id)
        .where(QualityReview.created_at >= since)
        .order_by(QualityReview.created_at.desc(), QualityReview.id.desc())
    )
    return [review_view(review, agent, by) for review, agent, by in rows.all()]


def review_view(review: QualityReview, agent: Agent, reviewer: Agent) -> dict:
    return {
        "id": review.id,
        "conversation_id": review.conversation_id,
        "agent": agent_view(agent),
        "reviewer": agent_view(reviewer),
        **{score: getattr(review, score) for score in SCORES},
        "comment": review.comment,
        "created_at": review.created_at.isoformat(),
    }


async def review_averages(session: AsyncSession, start: datetime, end: datetime) -> dict[str, dict]:
    """Per agent, the reviews of their conversations closed in [start, end): count and average of each score."""
    rows = await session.scalars(
        select(QualityReview)
        .join(Conversation, Conversation.id == QualityReview.conversation_id)
        .where(Conversation.closed_at >= start, Conversation.closed_at < end)
    )
    by_agent: dict[str, list[QualityReview]] = defaultdict(list)
    for review in rows:
        by_agent[review.agent_id].append(review)
    return {agent_id: _averages(reviews) for agent_id, reviews in by_agent.items()}


def _averages(reviews: list[QualityReview]) -> dict:
    means = {score: statistics.fmean(getattr(r, score) for r in reviews) for score in SCORES}
    return {
        "count": len(reviews),
        **{score: round(mean, 2) for score, mean in means.items()},
        "overall": round(statistics.fmean(means.values()), 2),
    }
