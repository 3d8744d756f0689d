"""Liveness (the process answers) and readiness (database reachable, FAQ loaded)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def read_liveness() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def read_readiness(services: ServicesDep) -> JSONResponse:
    checks: dict[str, dict] = {}
    try:
        async with services.db.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:  # any failure means not ready; the reason is reported, not raised
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    faq = services.faq
    checks["faq"] = {  # a broken edit keeps the last good version serving: still ready, error shown
        "ok": faq.current is not None,
        "entries": len(faq.current) if faq.current else 0,
        "error": faq.error,
    }
    routing = services.routing
    checks["routing"] = {"ok": routing.current is not None, "file": str(routing.path), "error": routing.error}
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )
