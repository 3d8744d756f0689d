"""Self-service FAQ (自助服务): a page at /faq where customers browse and search the live FAQ.

  GET /api/faq/entries → {"shop_name", "categories": [{"category", "title", "entries": [{"id", "question", "answer"}]}]}
  GET /api/faq/search?q=… → {"decision", "results": [{"id", "question", "answer", "score"}]}
Only entries live now on the web channel are shown; answers have their `{shop_name}` variables filled in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse

from app.deps import ServicesDep
from faq.index import Scored
from faq.knowledge_base import Entry, KnowledgeBase
from faq.matcher import MatchResult, Thresholds, match

router = APIRouter(tags=["self-service"])
CHANNEL = "web"
OTHERS = "others"
CATEGORY_TITLES = {  # the order customers see
    "presale": "售前咨询",
    "promotion": "优惠活动",
    "payment": "支付",
    "order": "订单",
    "logistics": "物流配送",
    "aftersale": "售后服务",
    "invoice": "发票",
    "account": "账户会员",
    "product": "商品信息",
    OTHERS: "其他",
}


@router.get("/faq", response_class=HTMLResponse)
async def read_faq_page() -> HTMLResponse:
    return HTMLResponse(files("app").joinpath("static/faq.html").read_text(encoding="utf-8"))


@router.get("/api/faq/entries")
async def list_faq_entries(services: ServicesDep) -> dict:
    """Every live entry, grouped by category in a fixed order; empty categories are left out."""
    kb = _live_kb(services)
    variables = _variables(services, kb)
    now = datetime.now(UTC)
    grouped: dict[str, list[dict]] = {category: [] for category in CATEGORY_TITLES}
    for entry in kb.entries.values():
        if entry.live(now, CHANNEL):
            category = entry.category if entry.category in CATEGORY_TITLES else OTHERS
            grouped[category].append(_entry_view(entry, variables))
    categories = [
        {"category": category, "title": CATEGORY_TITLES[category], "entries": entries}
        for category, entries in grouped.items()
        if entries
    ]
    return {"shop_name": services.settings.shop_name, "categories": categories}


@router.get("/api/faq/search")
async def search_faq(services: ServicesDep, q: Annotated[str, Query(min_length=1, max_length=200)]) -> dict:
    """The matcher's decision for `q` and the entries worth showing for it, best first."""
    kb = _live_kb(services)
    variables = _variables(services, kb)
    result = match(q, kb, channel=CHANNEL)
    results = [{**_entry_view(s.entry, variables), "score": round(s.score, 3)} for s in _shown(result)]
    return {"decision": result.decision, "results": results}


def _shown(result: MatchResult) -> list[Scored]:
    if result.decision == "answer":
        floor = Thresholds().suggest
        return [result.candidates[0], *(c for c in result.candidates[1:] if c.score >= floor)]
    if result.decision == "suggest":
        return list(result.suggestions)
    return []


def _live_kb(services: ServicesDep) -> KnowledgeBase:
    kb = services.faq.current
    if kb is None:
        raise HTTPException(503, detail="常见问题暂不可用，请稍后再试 (no FAQ is loaded)")
    return kb


def _variables(services: ServicesDep, kb: KnowledgeBase) -> dict[str, str]:
    return {"shop_name": services.settings.shop_name, **kb.variables}


def _entry_view(entry: Entry, variables: dict[str, str]) -> dict:
    return {"id": entry.id, "question": entry.questions[0], "answer": entry.render(variables)}
