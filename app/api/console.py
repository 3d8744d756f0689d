"""The agent web console: one static page at /console that talks to the agent API and events socket."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["console"])


@router.get("/console", response_class=HTMLResponse)
async def read_console_page() -> HTMLResponse:
    return HTMLResponse(files("app").joinpath("static/console.html").read_text(encoding="utf-8"))
