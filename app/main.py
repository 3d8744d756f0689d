"""The FastAPI application: routers, and a lifespan that starts and drains kefu's services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api import agents, chat, console, conversations, health, ops, queues, self_service, webhooks
from app.privacy import configure_logging
from app.services import Services
from app.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.secrets())
        services = Services.build(settings)
        app.state.services = services
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(title="kefu", version="0.1.0", lifespan=lifespan)
    for module in (webhooks, health, chat, console, self_service, ops, agents, conversations, queues):
        app.include_router(module.router)
    return app
