"""The ops dashboard: one static page at /ops that asks for the ops token and reads /api/ops."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["ops"])


@router.get("/ops", response_class=HTMLResponse)
async def read_ops_page() -> HTMLResponse:
    return HTMLResponse(files("app").joinpath("static/ops.html").read_text(encoding="utf-8"))
