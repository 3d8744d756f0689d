"""The ops dashboard's data: figures, live queues and unanswered questions (JSON, CSV or Excel), ops token only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from app import gaps_export
from app.api.queues import queue_views
from app.deps import OpsAuth, ServicesDep
from app.gaps import Gap, find_gaps, parse_since, reader_for
from app.ops_stats import CHINA
from app.services import Services
from app.store.tables import utcnow

router = APIRouter(prefix="/api/ops", tags=["ops"], dependencies=[OpsAuth])

RangeQuery = Annotated[Literal["24h", "7d"], Query(alias="range", description="24h: per hour, 7d: per day")]
SinceQuery = Annotated[str, Query(description="How far back: 12h, 7d, 2w…")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/stats")
async def read_ops_stats(services: ServicesDep, range_: RangeQuery = "24h") -> dict:
    """Per hour (24h) or per day (7d), China time: volume, answer rate, handoffs, waits, first response,
    ratings; read at most every `ops.figures_seconds` (30 s), and shared by the pages that ask meanwhile."""
    return await services.ops_figures.read(range_)


@router.get("/queues")
async def read_ops_queues(services: ServicesDep) -> list[dict]:
    """The live queues, as supervisors see them in the console."""
    return await queue_views(services)


@router.get("/gaps")
async def read_gaps(services: ServicesDep, since: SinceQuery = "7d") -> dict:
    """Unanswered customer questions grouped by topic, the largest group first, examples masked."""
    start, end, found = await _gaps(services, since)
    return {
        "since": start.isoformat(),
        "until": end.isoformat(),
        "messages": sum(g.count for g in found),
        "clusters": [g.as_dict() for g in found],
    }


@router.get("/gaps.csv")
async def export_gaps_csv(services: ServicesDep, since: SinceQuery = "7d") -> Response:
    start, _, found = await _gaps(services, since)
    return _download(gaps_export.to_csv(found), "text/csv; charset=utf-8", start, "csv")


@router.get("/gaps.xlsx")
async def export_gaps_xlsx(services: ServicesDep, since: SinceQuery = "7d") -> Response:
    start, _, found = await _gaps(services, since)
    return _download(gaps_export.to_xlsx(found), XLSX, start, "xlsx")


async def _gaps(services: Services, since: str) -> tuple[datetime, datetime, list[Gap]]:
    try:
        period = parse_since(since)
    except ValueError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    end = utcnow()
    read = reader_for(services.faq.current)
    async with services.reports() as session:
        found = await find_gaps(session, end - period, end, read, secrets=services.settings.secrets())
    return end - period, end, found


def _download(body: bytes, media_type: str, start: datetime, suffix: str) -> Response:
    name = f"unanswered-since-{start.astimezone(CHINA):%Y%m%d-%H%M}.{suffix}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})
