"""Platform callbacks: size check, verify, parse, store once (or start a pull), answer at once; processing after.

The route below serves GET handshakes and documents both methods in the OpenAPI schema; POSTs,
a promotion peak's traffic, are answered by `answer` before FastAPI's machinery (app/main.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable

from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy.exc import SQLAlchemyError

from adapters.base import Adapter, WebhookRequest
from adapters.errors import PayloadTooLarge, RequestRejected
from app.deps import ServicesDep
from app.engine.outage import describe_storage_error
from app.rate_limits import Refusal
from app.services import Services

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])
_URL = re.compile(r"/webhooks/(?P<channel>[^/]+)(?:/(?P<account>[^/]+))?")  # as the routes below match


@router.api_route("/{channel}", methods=["GET", "POST"])
@router.api_route("/{channel}/{account}", methods=["GET", "POST"])
async def receive_webhook(channel: str, request: Request, services: ServicesDep, account: str = "default") -> Response:
    """One URL per account: /webhooks/<channel>/<account>; /webhooks/<channel> is the account "default"."""
    return await answer(services, channel, account, request)


def target(path: str) -> tuple[str, str, str] | None:
    """(route template, channel, account) when `path` is a webhook URL."""
    if (match := _URL.fullmatch(path)) is None:
        return None
    if match["account"] is None:
        return "/webhooks/{channel}", match["channel"], "default"
    return "/webhooks/{channel}/{account}", match["channel"], match["account"]


async def answer(services: Services, channel: str, account: str, request: Request) -> Response:
    adapter = services.adapters.get((channel, account))
    if adapter is None:
        raise HTTPException(
            404, detail=f"unknown channel '{channel}'" + (f" account '{account}'" if account != "default" else "")
        )
    await _within_limit(services.limits.check_ip(request.client.host if request.client else None))
    try:
        webhook = WebhookRequest(
            method=request.method,
            # ASGI servers give header names in lower case; decoded here as Starlette's Headers would, at a
            # third of its cost.
            headers={name.decode("latin-1"): value.decode("latin-1") for name, value in request.scope["headers"]},
            query=dict(request.query_params) if request.scope["query_string"] else {},  # parsing "" costs µs
            body=await _read_body(request, adapter),
        )
        if (reply := adapter.handshake(webhook)) is not None:
            return _response(reply)
        adapter.verify(webhook)
        messages = adapter.parse(webhook)
        hints = adapter.sync_hints(webhook)  # callbacks that only say "pull" (WeCom KF)
    except RequestRejected as exc:
        raise HTTPException(exc.status_code, detail=exc.reason) from None
    for message in messages:
        await _within_limit(services.limits.check_customer(message.address))
    accepted = 0
    try:
        for message in messages:
            accepted += await services.intake.accept(message)
    except (SQLAlchemyError, OSError) as exc:  # OSError: the database refuses connections (down, restarting)
        # Not stored means not accepted: 503 makes the platform retry instead of losing the message.
        log.error("storage unavailable for %s webhook: %s", channel, describe_storage_error(exc))
        raise HTTPException(503, detail="storage unavailable, retry later") from None
    for hint in hints:
        services.puller.request(channel, account, hint)  # in the background: the platform gets its answer now
    return _response(adapter.acknowledge(accepted=accepted, duplicates=len(messages) - accepted))


async def _within_limit(check: Awaitable[Refusal | None]) -> None:
    """429 with Retry-After before anything is stored: the sender retries, nothing is lost."""
    if (refusal := await check) is not None:
        detail = f"too many requests from this {refusal.scope} (limit {refusal.limit}), retry later"
        raise HTTPException(429, detail=detail, headers={"Retry-After": str(refusal.retry_after)})


async def _read_body(request: Request, adapter: Adapter) -> bytes:
    """Read at most the adapter's limit, so an oversized body is refused without being buffered."""
    limit = adapter.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(adapter.name, f"body is {declared} bytes (limit {limit})")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(adapter.name, f"body is over {limit} bytes")
    return bytes(body)


def _response(reply) -> Response:
    return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type, headers=dict(reply.headers))
