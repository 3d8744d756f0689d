"""The web channel's signature, written from the protocol text rather than imported from kefu."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid


def signed_headers(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "x-kefu-timestamp": ts, "x-kefu-signature": f"sha256={digest}"}


def web_message(text: str, *, customer_id: str = "c-1", message_id: str | None = None, **extra) -> bytes:
    payload = {"message_id": message_id or uuid.uuid4().hex, "customer_id": customer_id, "text": text, **extra}
    return json.dumps(payload, ensure_ascii=False).encode()


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    ts = headers.get("x-kefu-timestamp", "")
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("x-kefu-signature", ""), f"sha256={digest}")
