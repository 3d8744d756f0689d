"""质检抽检: supervisors and ops draw the day's sample of closed chats, score them and list the scores."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import quality
from app.api.views import conversation_detail
from app.deps import AgentDep, ServicesDep
from app.gaps import parse_since
from app.store.tables import Agent, AgentRole, Conversation, ConversationState, QualityReview, utcnow

router = APIRouter(prefix="/api/quality", tags=["quality"])

Score = Annotated[int, Field(ge=1, le=5)]
Id = Annotated[str, Field(pattern=r"^[0-9A-Za-z_-]{1,32}$")]


class ReviewBody(BaseModel):
    conversation_id: Id
    agent_id: Id  # the agent reviewed, who handled the chat
    politeness: Score
    accuracy: Score
    resolution: Score
    comment: str = Field(default="", max_length=2000, pattern=r"^[^\x00]*$")


def chosen_day(
    day: Annotated[date | None, Query(alias="date", description="YYYY-MM-DD, China time; default yesterday")] = None,
) -> date:
    """The day asked for, or yesterday in China."""
    if day is None:
        return quality.yesterday()
    if not quality.FIRST_DAY <= day <= quality.LAST_DAY:
        raise HTTPException(422, detail=f"date must be between {quality.FIRST_DAY} and {quality.LAST_DAY}")
    return day


DayDep = Annotated[date, Depends(chosen_day)]


def _reviewer(agent: AgentDep) -> Agent:
    if agent.role not in (AgentRole.SUPERVISOR, AgentRole.OPS):
        raise HTTPException(403, detail="supervisors and ops only")
    return agent


ReviewerDep = Annotated[Agent, Depends(_reviewer)]


@router.get("/sample")
async def read_sample(
    reviewer: ReviewerDep, services: ServicesDep, day: DayDep, per_agent: Annotated[int, Query(ge=1, le=20)] = 3
) -> dict:
    """Up to `per_agent` chats per agent closed that day and not reviewed yet, each with its transcript."""
    async with services.sessions() as session:
        chosen = await quality.sample(session, day, per_agent)
        people = await quality.agents_by_id(session, {c.agent_id for c in chosen})
        conversations = [
            {
                **await conversation_detail(session, c, []),
                "agent": quality.agent_view(people.get(c.agent_id)),
                "closed_at": c.closed_at.isoformat(),
                "disposition": c.disposition,
                "satisfaction": c.satisfaction,
            }
            for c in chosen
        ]
    return {"date": day.isoformat(), "per_agent": per_agent, "conversations": conversations}


@router.post("/reviews", status_code=201)
async def create_review(body: ReviewBody, reviewer: ReviewerDep, services: ServicesDep) -> dict:
    """Score a closed chat of the agent who handled it; a reviewer scores a chat once (409 the second time)."""
    try:
        async with services.sessions.begin() as session:
            conversation = await session.get(Conversation, body.conversation_id)
            _check(conversation, body)
            if await session.scalar(
                select(QualityReview.id).where(
                    QualityReview.conversation_id == body.conversation_id, QualityReview.reviewer_id == reviewer.id
                )
            ):
                raise HTTPException(409, detail="you reviewed this conversation already")
            review = QualityReview(**body.model_dump(), reviewer_id=reviewer.id)
            session.add(review)
            await session.flush()
            agent = await session.get_one(Agent, body.agent_id)
            return quality.review_view(review, agent, reviewer)
    except IntegrityError:  # the same reviewer, twice at once
        raise HTTPException(409, detail="you reviewed this conversation already") from None


def _check(conversation: Conversation | None, body: ReviewBody) -> None:
    if conversation is None:
        raise HTTPException(404, detail="conversation not found")
    if conversation.state != ConversationState.CLOSED:
        raise HTTPException(422, detail="only closed conversations are reviewed")
    if conversation.agent_id != body.agent_id:
        raise HTTPException(422, detail="this agent did not handle the conversation")


@router.get("/reviews")
async def read_reviews(
    reviewer: ReviewerDep,
    services: ServicesDep,
    since: Annotated[str, Query(description="How far back: 12h, 7d, 2w…")] = "7d",
) -> dict:
    """Reviews made since then, newest first."""
    try:
        start = utcnow() - parse_since(since)
    except ValueError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    async with services.sessions() as session:
        return {"since": start.isoformat(), "reviews": await quality.reviews_since(session, start)}
