"""The daily quality report (日报) for ops: JSON at /api/ops/reports/daily, a printable page at /ops/reports/daily.

Both want the ops token in the Authorization header, the page too (it carries the figures in it).
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.api.quality import DayDep
from app.deps import OpsAuth, ServicesDep
from app.quality_report import daily_report
from app.quality_report_html import render_html
from app.services import Services

router = APIRouter(tags=["ops"], dependencies=[OpsAuth])


@router.get("/api/ops/reports/daily")
async def read_daily_report(services: ServicesDep, day: DayDep) -> dict:
    """First response, one-touch resolution, bot containment and re-contact, satisfaction, complaints, agents."""
    return await _report(services, day)


@router.get("/ops/reports/daily", response_class=HTMLResponse)
async def read_daily_report_page(services: ServicesDep, day: DayDep) -> HTMLResponse:
    return HTMLResponse(render_html(await _report(services, day)))


async def _report(services: Services, day: date) -> dict:
    async with services.reports() as session:
        return await daily_report(session, day)
