"""/metrics for Prometheus (behind the ops token when one is set), and the request timer feeding it."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.deps import OpsAuth, ServicesDep
from app.metrics import REQUEST_SECONDS

router = APIRouter(tags=["ops"])


@router.get("/metrics", dependencies=[OpsAuth])
async def read_metrics(services: ServicesDep) -> Response:
    await services.gauges.refresh()  # the store's figures as of this scrape
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class RequestTimer:
    """Latency per route template (/webhooks/{channel}), never per raw path, so labels stay few.

    Plain ASGI rather than BaseHTTPMiddleware: no extra task per request. Webhook POSTs, which
    bypass FastAPI (app/main.py KefuApp), are timed there under the same labels.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = "500"

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            REQUEST_SECONDS.labels(path, scope["method"], status).observe(time.perf_counter() - started)
