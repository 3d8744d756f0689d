"""Feishu events as the open platform sends them, each first accepted by the official SDK (lark-oapi)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time

import lark_oapi as lark
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from lark_oapi.core.model import RawRequest
from lark_oapi.core.utils import AESCipher

APP_ID = "cli_a1b2c3d4e5f60001"
CHAT_ID = "oc_5ad11d72b830411d72b836c20"
OPEN_ID = "ou_7d8a6e6df7621556ce0d21922b676706"
NOW_MS = 1_800_000_000_000


def message_event(
    event_id: str, text: str = "什么时候发货", *, token: str, message_type: str = "text", content: dict | None = None
) -> dict:
    """An `im.message.receive_v1` event (schema 2.0) from a customer in a p2p chat with the bot."""
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id,
            "event_type": "im.message.receive_v1",
            "create_time": str(NOW_MS),
            "token": token,
            "app_id": APP_ID,
            "tenant_key": "736588c9260f175d",
        },
        "event": {
            "sender": {
                "sender_id": {"open_id": OPEN_ID, "union_id": "on_8ed6aa67826108097d9ee143816345", "user_id": None},
                "sender_type": "user",
                "tenant_key": "736588c9260f175d",
            },
            "message": {
                "message_id": f"om_{event_id}",
                "create_time": str(NOW_MS),
                "chat_id": CHAT_ID,
                "chat_type": "p2p",
                "message_type": message_type,
                "content": json.dumps(content if content is not None else {"text": text}, ensure_ascii=False),
            },
        },
    }


def other_event(event_id: str, event_type: str, *, token: str) -> dict:
    header = {"event_id": event_id, "event_type": event_type, "create_time": str(NOW_MS), "token": token}
    return {"schema": "2.0", "header": {**header, "app_id": APP_ID, "tenant_key": "736588c9260f175d"}, "event": {}}


def challenge(token: str) -> dict:
    return {"challenge": "ajls384kdjx98XX", "token": token, "type": "url_verification"}


def encrypt(encrypt_key: str, plaintext: str) -> str:
    """What Feishu puts in {"encrypt": ...}; lark-oapi's AESCipher must read it back."""
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(hashlib.sha256(encrypt_key.encode()).digest()), modes.CBC(iv)).encryptor()
    encrypted = base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()
    assert AESCipher(encrypt_key).decrypt_str(encrypted) == plaintext
    return encrypted


def signed(
    payload: dict, *, encrypt_key: str | None, token: str, timestamp: int | None = None, nonce: str = "n0nce"
) -> tuple[dict[str, str], bytes]:
    """Headers and body as Feishu POSTs them: encrypted and signed when there is an Encrypt Key.

    The pair is first handed to lark-oapi's EventDispatcherHandler, which must verify and dispatch it."""
    plain = json.dumps(payload, ensure_ascii=False)
    body = json.dumps({"encrypt": encrypt(encrypt_key, plain)}).encode() if encrypt_key else plain.encode()
    headers = {"content-type": "application/json; charset=utf-8"}
    if encrypt_key:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        sign = hashlib.sha256((stamp + nonce + encrypt_key).encode() + body).hexdigest()
        headers |= {"x-lark-request-timestamp": stamp, "x-lark-request-nonce": nonce, "x-lark-signature": sign}
    _accepted_by_sdk(payload, headers, body, encrypt_key or "", token)
    return headers, body


def _accepted_by_sdk(payload: dict, headers: dict[str, str], body: bytes, encrypt_key: str, token: str) -> None:
    seen: list = []
    builder = lark.EventDispatcherHandler.builder(encrypt_key, token)
    event_type = payload.get("header", {}).get("event_type", "")
    if event_type == "im.message.receive_v1":
        builder.register_p2_im_message_receive_v1(seen.append)
    elif event_type:
        builder.register_p2_customized_event(event_type, seen.append)
    request = RawRequest()
    request.uri, request.body = "/webhook/event", body
    request.headers = {"X-Lark-" + k[len("x-lark-") :].title(): v for k, v in headers.items() if k.startswith("x-lark")}
    response = builder.build().do(request)
    assert response.status_code == 200, response.content
    if payload.get("type") == "url_verification":
        assert json.loads(response.content) == {"challenge": payload["challenge"]}
    elif event_type == "im.message.receive_v1":
        [event] = seen
        assert event.header.event_id == payload["header"]["event_id"]
        assert event.event.message.content == payload["event"]["message"]["content"]
    else:
        assert len(seen) == 1
