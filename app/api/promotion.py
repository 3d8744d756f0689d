"""Promotion mode (大促模式) for ops: switch it in the rules file, and broadcast to everyone waiting."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select

from app.deps import OpsAuth, ServicesDep
from app.engine.batch_writes import BatchWrites
from app.store.tables import Conversation, ConversationState
from routing.promotion import switch_promotion
from routing.rules import RulesError

router = APIRouter(prefix="/api/ops", tags=["ops"], dependencies=[OpsAuth])

BROADCAST_PAGE = 200  # waiting customers written per transaction: about 10 ms of the event loop


class PromotionSwitch(BaseModel):
    enabled: bool
    banner: str | None = Field(default=None, max_length=500)


class Broadcast(BaseModel):
    text: str = Field(min_length=1, max_length=1000)
    queue: str | None = None  # only this queue's waiting customers; all queues when unset


@router.get("/promotion")
async def read_promotion(services: ServicesDep) -> dict:
    return services.routing_now().rules.promotion_mode.model_dump()


@router.put("/promotion")
async def set_promotion(body: PromotionSwitch, services: ServicesDep) -> dict:
    """Edit the rules file (the source of truth) and take the new version live at once."""
    try:
        rules = switch_promotion(services.settings.rules_file, enabled=body.enabled, banner=body.banner)
    except RulesError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    await services.routing.load()  # the watcher would catch it too, a moment later
    return rules.promotion_mode.model_dump()


@router.post("/broadcast")
async def broadcast(body: Broadcast, services: ServicesDep) -> dict:
    """Tell every customer waiting for a person (e.g. "系统正在紧急修复，预计30分钟内恢复").

    In an incident thousands wait: the line is written a page at a time, each page's messages in
    one statement per table (a message and an outbox row each through the ORM held the event loop
    about 2 s for 10,000), so webhooks are answered between pages."""
    rules = services.routing_now().rules
    if body.queue is not None and body.queue not in {q.id for q in rules.queues}:
        raise HTTPException(422, detail=f"unknown queue '{body.queue}'")
    waiting = select(Conversation).where(Conversation.state == ConversationState.QUEUED)
    if body.queue is not None:
        waiting = waiting.where(Conversation.queue == body.queue)
    sent, after = 0, ""
    while True:
        writes = BatchWrites()
        async with services.sessions.begin() as session:
            page = (
                await session.scalars(
                    waiting.where(Conversation.id > after).order_by(Conversation.id).limit(BROADCAST_PAGE)
                )
            ).all()
            if not page:
                break
            messages = [
                writes.reply(conversation, sender="system", text=body.text, meta={"action": "broadcast"})
                for conversation in page
            ]
            await writes.write(session)
        for message in messages:
            services.deliver(message)
        sent, after = sent + len(messages), page[-1].id
    return {"sent": sent}
