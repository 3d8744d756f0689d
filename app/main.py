"""The FastAPI application: routers, and a lifespan that starts and drains kefu's services."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import Receive, Scope, Send

from app.api import (
    agents,
    chat,
    console,
    conversations,
    health,
    metrics,
    ops,
    ops_dashboard,
    ops_page,
    ops_reports,
    promotion,
    quality,
    queues,
    self_service,
    webhooks,
)
from app.collector import long_lived_process
from app.engine.outage import describe_storage_error
from app.metrics import REQUEST_SECONDS, child
from app.privacy import configure_logging
from app.services import Services
from app.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.secrets())
        services = Services.build(settings)
        app.state.services = services
        await services.start()
        try:
            with long_lived_process():  # what start-up made lives as long as the process
                yield
        finally:
            await services.stop()

    app = KefuApp(title="kefu", version="0.1.0", lifespan=lifespan)
    for storage_error in (SQLAlchemyError, ConnectionError):
        app.add_exception_handler(storage_error, _storage_unavailable)
    app.add_middleware(metrics.RequestTimer)
    modules = (webhooks, health, metrics, chat, console, self_service, ops, promotion, agents, conversations, queues)
    modules += (ops_dashboard, ops_page, ops_reports, quality)
    for module in modules:
        app.include_router(module.router)
    return app


class KefuApp(FastAPI):
    """FastAPI, except that platform webhooks' POSTs skip its middleware, routing and dependency
    injection, which (sampled with py-spy under store-only load) cost more than verifying and
    storing the message. Errors get the app's answers all the same.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = webhooks.target(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if found is None:
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        route, channel, account = found
        response = await _answer_webhook(self.state.services, channel, account, Request(scope, receive))
        await response(scope, receive, send)
        child(REQUEST_SECONDS, route, "POST", str(response.status_code)).observe(time.perf_counter() - started)


async def _answer_webhook(services: Services, channel: str, account: str, request: Request) -> Response:
    try:
        return await webhooks.answer(services, channel, account, request)
    except HTTPException as exc:
        return await http_exception_handler(request, exc)
    except (SQLAlchemyError, ConnectionError) as exc:
        return await _storage_unavailable(request, exc)


async def _storage_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is down or refusing: 503 and Retry-After, so callers retry rather than see a crash."""
    log.error("%s %s: storage unavailable (%s)", request.method, request.url.path, describe_storage_error(exc))
    return JSONResponse({"detail": "storage unavailable, retry later"}, status_code=503, headers={"Retry-After": "5"})
