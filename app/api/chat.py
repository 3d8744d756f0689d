"""The web channel's own chat widget: a page at /chat and its WebSocket.

Protocol (JSON frames):
  server → {"type": "history", "messages": [{"message_id", "sender", "text"}]} once on connect
           (a customer message carries the id the page sent)
  client → {"type": "message", "message_id": "<uuid>", "text": "..."}
  server → {"type": "ack", "message_id", "status": "accepted" | "duplicate"} or
           {"type": "error", "message_id", "detail"}
  server → {"type": "message", "message_id", "sender": "bot" | "agent" | "system", "text"}
The customer id is a random token the page keeps in localStorage.
"""

from __future__ import annotations

import asyncio
from importlib.resources import files

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from adapters.base import Address, OutboundMessage
from adapters.errors import RequestRejected
from app.deps import ServicesDep
from app.store.tables import Message

router = APIRouter(tags=["chat"])
HISTORY_LIMIT = 50
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"


@router.get("/chat", response_class=HTMLResponse)
async def read_chat_page() -> HTMLResponse:
    return HTMLResponse(files("app").joinpath("static/chat.html").read_text(encoding="utf-8"))


@router.websocket("/chat/ws")
async def chat_socket(
    websocket: WebSocket, services: ServicesDep, customer_id: str = Query(pattern=CUSTOMER_ID_PATTERN)
) -> None:
    web = services.web
    address = Address(web.name, services.settings.web.account, customer_id)
    await websocket.accept()
    with services.live.subscribe(address) as replies:
        await websocket.send_json({"type": "history", "messages": await _history(services, address)})
        forwarder = asyncio.create_task(_forward(replies, websocket))
        try:
            while True:
                await _receive_one(websocket, services, customer_id)
        except WebSocketDisconnect:
            pass
        finally:
            forwarder.cancel()


async def _receive_one(websocket: WebSocket, services: ServicesDep, customer_id: str) -> None:
    frame = await websocket.receive_json()
    message_id = str(frame.get("message_id", "")) if isinstance(frame, dict) else ""
    try:
        message = services.web.parse_payload(
            {"message_id": message_id, "customer_id": customer_id, "text": frame.get("text", "")}
        )
    except RequestRejected as exc:
        await websocket.send_json({"type": "error", "message_id": message_id, "detail": exc.reason})
        return
    accepted = await services.intake.accept(message)
    await websocket.send_json(
        {"type": "ack", "message_id": message_id, "status": "accepted" if accepted else "duplicate"}
    )


async def _forward(replies: asyncio.Queue, websocket: WebSocket) -> None:
    while True:
        message: OutboundMessage = await replies.get()
        await websocket.send_json(
            {"type": "message", "message_id": message.message_id, "sender": message.sender, "text": message.text}
        )


async def _history(services: ServicesDep, address: Address) -> list[dict]:
    query = (
        select(func.coalesce(Message.platform_message_id, Message.public_id).label("id"), Message.sender, Message.text)
        .where(
            Message.channel == address.channel,
            Message.account == address.account,
            Message.customer_id == address.customer_id,
        )
        .order_by(Message.id.desc())
        .limit(HISTORY_LIMIT)
    )
    async with services.sessions() as session:
        rows = (await session.execute(query)).all()
    return [{"message_id": r.id, "sender": r.sender, "text": r.text} for r in reversed(rows)]
