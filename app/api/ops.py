"""The ops API: the same FAQ checks as `kefu faq ask`, for tools and pages."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from app.deps import OpsAuth, ServicesDep
from faq.matcher import match

router = APIRouter(prefix="/api/ops", tags=["ops"], dependencies=[OpsAuth])


class AskRequest(BaseModel):
    text: str = Field(min_length=1, max_length=4000)
    channel: str | None = None


@router.post("/faq/ask")
async def ask_faq(body: AskRequest, services: ServicesDep) -> dict:
    """What the bot would do with `text` now: decision, candidates, scores, reasons and the answer."""
    kb = services.faq.current
    if kb is None:
        raise HTTPException(503, detail=f"no FAQ loaded: {services.faq.error}")
    result = match(body.text, kb, channel=body.channel)
    view = result.as_dict()
    view["answer"] = result.best.entry.render(kb.variables) if result.decision == "answer" else None
    view["faq_error"] = services.faq.error
    return view
