"""The /chat widget's WebSocket against a real kefu process: same engine, replies to the page and callback."""

from __future__ import annotations

import asyncio
import json
import secrets

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus


def socket_url(base_url: str, customer_id: str) -> str:
    return base_url.replace("http://", "ws://") + f"/chat/ws?customer_id={customer_id}"


async def receive(websocket, kind: str) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(websocket.recv(), timeout=10))
        if frame["type"] == kind:
            return frame


def test_chat_page_is_served_in_chinese(kefu):
    page = httpx.get(f"{kefu.url}/chat")
    assert page.status_code == 200 and "在线客服" in page.text


async def test_widget_message_is_answered_on_the_socket_and_at_the_callback(kefu, callback):
    customer = secrets.token_hex(16)
    async with connect(socket_url(kefu.url, customer)) as websocket:
        assert (await receive(websocket, "history"))["messages"] == []
        await websocket.send(json.dumps({"type": "message", "message_id": "w-1", "text": "能开发票吗"}))

        ack = await receive(websocket, "ack")
        reply = await receive(websocket, "message")

    assert ack == {"type": "ack", "message_id": "w-1", "status": "accepted"}
    assert reply["sender"] == "bot" and "发票" in reply["text"]
    [delivered] = await asyncio.to_thread(callback.wait_for, lambda got: len(got) == 1)
    assert delivered["customer_id"] == customer and delivered["message_id"] == reply["message_id"]


async def test_reconnecting_shows_the_history_and_a_resent_message_is_a_duplicate(kefu):
    customer = secrets.token_hex(16)
    async with connect(socket_url(kefu.url, customer)) as websocket:
        await receive(websocket, "history")
        await websocket.send(json.dumps({"type": "message", "message_id": "w-2", "text": "什么时候发货"}))
        await receive(websocket, "message")

    async with connect(socket_url(kefu.url, customer)) as websocket:
        history = (await receive(websocket, "history"))["messages"]
        await websocket.send(json.dumps({"type": "message", "message_id": "w-2", "text": "什么时候发货"}))
        ack = await receive(websocket, "ack")

    assert [(m["sender"], m["message_id"]) for m in history][0] == ("customer", "w-2")
    assert [m["sender"] for m in history] == ["customer", "bot"]
    assert ack["status"] == "duplicate"


async def test_overlong_widget_message_is_refused_with_a_reason(kefu):
    async with connect(socket_url(kefu.url, secrets.token_hex(16))) as websocket:
        await receive(websocket, "history")
        await websocket.send(json.dumps({"type": "message", "message_id": "w-3", "text": "字" * 4001}))
        error = await receive(websocket, "error")
    assert error["message_id"] == "w-3" and "4001 characters" in error["detail"]


async def test_a_guessable_customer_id_is_refused(kefu):
    with pytest.raises(InvalidStatus):
        async with connect(socket_url(kefu.url, "bob")):
            pass
