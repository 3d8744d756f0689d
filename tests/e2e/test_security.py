"""Security end to end: CORS stays closed, every /api route asks for the right token, the log keeps no secret.

The routes are read from the running kefu's OpenAPI schema, so a new route is checked the day it is added.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.conftest import SECRET, post_signed
from tests.utils.callback_server import CallbackServer
from tests.utils.fake_platform import Call, FakePlatform
from tests.utils.kefu_process import KefuProcess
from tests.utils.signing import web_message

EVIL = "https://evil.example"
OPS_TOKEN = "ops-token-LEAKCHECK-6d1f0a9e"
WRONG = "kfa_thisIsNotAnyAgentsToken0000"
# The only /api routes a customer may call without a token, and why.
PUBLIC = {
    ("GET", "/api/faq/entries"): "the self-service FAQ page (/faq) lists the FAQ for anonymous customers",
    ("GET", "/api/faq/search"): "the same page searches it; the chat widget itself talks over /chat/ws only",
}
SUPERVISOR_ONLY = {  # every queue's load, 质检抽检: supervisors (and ops-role agents) only
    ("GET", "/api/queues"),
    ("GET", "/api/quality/sample"),
    ("GET", "/api/quality/reviews"),
}


def routes(kefu: KefuProcess) -> list[tuple[str, str]]:
    """(method, path) of every /api operation in the running app's schema."""
    schema = httpx.get(f"{kefu.url}/openapi.json").json()
    return [
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        if path.startswith("/api/")
        for method in operations
    ]


def call(
    kefu: KefuProcess, method: str, path: str, token: str | None = None, *, scheme: str = "Bearer"
) -> httpx.Response:
    headers = {"authorization": f"{scheme} {token}"} if token is not None else {}
    url = kefu.url + path.replace("{conversation_id}", "c0nversation")
    return httpx.request(method, url, headers=headers, json={} if method in ("POST", "PUT") else None, timeout=10)


@pytest.fixture
def guarded_kefu(kefu_factory) -> KefuProcess:
    process = kefu_factory(KEFU_OPS__TOKEN=OPS_TOKEN)
    process.migrate()
    return process.start()


# CORS


def test_cors_is_closed_to_other_origins(guarded_kefu):
    preflight = httpx.options(
        f"{guarded_kefu.url}/api/agents/me",
        headers={
            "origin": EVIL,
            "access-control-request-method": "GET",
            "access-control-request-headers": "authorization",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    for path in ("/api/faq/entries", "/api/agents/me", "/healthz"):
        response = httpx.get(f"{guarded_kefu.url}{path}", headers={"origin": EVIL})
        assert "access-control-allow-origin" not in response.headers, path
        assert "access-control-allow-credentials" not in response.headers, path


# Authentication and roles


def test_every_api_route_but_the_public_ones_refuses_a_missing_or_wrong_token(guarded_kefu):
    found = routes(guarded_kefu)
    assert len(found) >= 20 and set(PUBLIC) <= set(found), "the schema lost routes, or PUBLIC names a gone one"
    for method, path in found:
        if (method, path) in PUBLIC:
            assert call(guarded_kefu, method, path.replace("/search", "/search?q=发货")).status_code == 200
            continue
        for token, scheme in ((None, ""), (WRONG, "Bearer"), (OPS_TOKEN, "Basic")):
            status = call(guarded_kefu, method, path, token, scheme=scheme).status_code
            assert status in (401, 403), f"{method} {path} with {scheme} {token!r} answered {status}"


def test_ops_api_and_metrics_take_only_the_ops_token(guarded_kefu):
    supervisor = guarded_kefu.add_agent("boss", skills="supervisor", role="supervisor")
    ops_agent = guarded_kefu.add_agent("opsagent", role="ops")
    ops_routes = [(m, p) for m, p in routes(guarded_kefu) if p.startswith("/api/ops/")] + [("GET", "/metrics")]
    assert len(ops_routes) >= 5
    for method, path in ops_routes:
        for token in (supervisor, ops_agent, OPS_TOKEN.upper()):
            assert call(guarded_kefu, method, path, token).status_code == 401, f"{method} {path}"
    assert call(guarded_kefu, "GET", "/api/ops/promotion", OPS_TOKEN).status_code == 200
    assert call(guarded_kefu, "GET", "/api/agents/me", OPS_TOKEN).status_code == 401, "the ops token is no agent"


def test_an_agent_is_refused_on_supervisor_routes(guarded_kefu):
    agent = guarded_kefu.add_agent("xiaowang")
    supervisor = guarded_kefu.add_agent("boss", skills="supervisor", role="supervisor")
    ops_agent = guarded_kefu.add_agent("opsagent", role="ops")
    for method, path in SUPERVISOR_ONLY:
        assert call(guarded_kefu, method, path, agent).status_code == 403
        assert call(guarded_kefu, method, path, supervisor).status_code == 200
        assert call(guarded_kefu, method, path, ops_agent).status_code == 200
    assert call(guarded_kefu, "GET", "/api/agents/me", agent).json()["role"] == "agent"


def test_the_agents_event_socket_opens_only_with_a_valid_enabled_agents_token(guarded_kefu):
    events = guarded_kefu.url.replace("http://", "ws://") + "/api/agents/me/events"
    token, gone = guarded_kefu.add_agent("xiaoli"), guarded_kefu.add_agent("left")
    guarded_kefu.cli("agents", "disable", "left")
    for query in ("", f"?token={WRONG}", "?token=", f"?token={OPS_TOKEN}", f"?token={gone}"):
        asyncio.run(_refused(events + query))
    assert call(guarded_kefu, "GET", "/api/agents/me", gone).status_code == 401

    async def accepted() -> None:
        async with connect(f"{events}?token={token}", open_timeout=5) as websocket:
            await websocket.send("ping")

    asyncio.run(accepted())


async def _refused(url: str) -> None:
    try:
        async with connect(url, open_timeout=5) as websocket:
            await asyncio.wait_for(websocket.recv(), timeout=5)
    except InvalidStatus as refused:  # closed before the handshake completed: HTTP 403
        assert refused.response.status_code == 403, url
        return
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 1008, url
        return
    raise AssertionError(f"{url} stayed open and sent events")


# Nothing secret or personal in the log

MP_APP_SECRET = "mp-app-secret-LEAKCHECK-91c3"
MP_TOKEN = "mp-url-token-LEAKCHECK-5e27"
BOT_TOKEN = "424242:LEAKCHECK-bot-token-AAEhx"
TELEGRAM_SECRET = "telegram-secret-LEAKCHECK-0b8d"
ACCESS_TOKEN = "ACCESS-TOKEN-LEAKCHECK-7731"  # what the fake Tencent issues: a credential too
PHONE, ID_NUMBER, STREET = "13812345678", "110101199003071234", "漕溪北路88号"
PERSONAL = f"我的手机{PHONE}，地址上海市徐汇区{STREET}，身份证{ID_NUMBER}"


class FakePlatforms(FakePlatform):
    """Tencent's token and send endpoints and Telegram's sendMessage, on one port."""

    def answer(self, call: Call) -> tuple[int, dict]:
        if call.path == "/cgi-bin/token":
            return 200, {"access_token": ACCESS_TOKEN, "expires_in": 7200}
        self.sends.append(call.body)
        if call.path.endswith("/sendMessage"):
            return 200, {"ok": True, "result": {"message_id": len(self.sends)}}
        return 200, {"errcode": 0, "errmsg": "ok"}


@pytest.fixture
def platforms() -> Iterator[FakePlatforms]:
    server = FakePlatforms().start()
    yield server
    server.stop()


@pytest.fixture
def chatty_kefu(kefu_factory, platforms) -> KefuProcess:
    """kefu at DEBUG, with an Official Account and a Telegram bot whose replies go through `platforms`."""
    mp = {"app_id": "wxleakcheck", "app_secret": MP_APP_SECRET, "token": MP_TOKEN, "api_base": platforms.url}
    bot = {"bot_token": BOT_TOKEN, "secret_token": TELEGRAM_SECRET, "api_base": platforms.url}
    process = kefu_factory(
        KEFU_LOG_LEVEL="DEBUG",
        KEFU_OPS__TOKEN=OPS_TOKEN,
        KEFU_WECHAT_MP=json.dumps({"default": mp}),
        KEFU_TELEGRAM=json.dumps({"default": bot}),
    )
    process.migrate()
    return process.start()


def mp_query(nonce: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = hashlib.sha1("".join(sorted([MP_TOKEN, timestamp, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce}


def mp_text(content: str, msg_id: str) -> bytes:
    return (
        f"<xml><ToUserName>gh_leak</ToUserName><FromUserName>oLeakCheck</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType>text</MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    ).encode()


def test_no_secret_or_personal_data_reaches_the_log(chatty_kefu, callback: CallbackServer, platforms):
    kefu = chatty_kefu
    agent = kefu.add_agent("leakcheck")
    # refused requests: a bad web signature, a bad WeChat signature, wrong tokens
    bad = {
        "content-type": "application/json",
        "x-kefu-timestamp": str(int(time.time())),
        "x-kefu-signature": "sha256=0",
    }
    assert httpx.post(f"{kefu.url}/webhooks/web", content=web_message(PERSONAL), headers=bad).status_code == 401
    forged = {**mp_query("n1"), "signature": "0" * 40}
    assert (
        httpx.post(f"{kefu.url}/webhooks/wechat_mp", params=forged, content=mp_text(PERSONAL, "1")).status_code == 401
    )
    assert call(kefu, "GET", "/api/ops/promotion", WRONG).status_code == 401
    # accepted ones: URL verification, an agent logging in (header and socket), ops
    echo = httpx.get(f"{kefu.url}/webhooks/wechat_mp", params={**mp_query("n2"), "echostr": "e2e-echo"})
    assert echo.text == "e2e-echo"
    assert call(kefu, "GET", "/api/agents/me", agent).status_code == 200
    assert call(kefu, "GET", "/api/ops/promotion", OPS_TOKEN).status_code == 200
    asyncio.run(_open_events(kefu, agent))
    # customers write personal data on three channels; the bot answers each (token fetch, send URLs logged)
    assert post_signed(kefu.url, web_message(PERSONAL, customer_id="leak", message_id="w1")).status_code == 200
    assert (
        httpx.post(f"{kefu.url}/webhooks/wechat_mp", params=mp_query("n3"), content=mp_text(PERSONAL, "2")).text
        == "success"
    )
    update = {
        "update_id": 9,
        "message": {"message_id": 1, "chat": {"id": 42, "type": "private"}, "date": int(time.time()), "text": PERSONAL},
    }
    telegram = httpx.post(
        f"{kefu.url}/webhooks/telegram", json=update, headers={"x-telegram-bot-api-secret-token": TELEGRAM_SECRET}
    )
    assert telegram.status_code == 200
    callback.wait_for(lambda got: any(b.get("in_reply_to") == "w1" for b in got))
    platforms.wait_for_sends(2)
    kefu.stop()

    log = kefu.log_path.read_text(encoding="utf-8")
    assert "/cgi-bin/token" in log and "sendMessage" in log, "the log shows the outbound calls (else: nothing checked)"
    secrets = [SECRET, OPS_TOKEN, MP_APP_SECRET, MP_TOKEN, BOT_TOKEN, TELEGRAM_SECRET, ACCESS_TOKEN, agent]
    leaked = [s for s in [*secrets, PHONE, ID_NUMBER, STREET] if s in log]
    assert not leaked, f"in clear in {kefu.log_path}: {leaked}"


async def _open_events(kefu: KefuProcess, token: str) -> None:
    async with connect(kefu.url.replace("http://", "ws://") + f"/api/agents/me/events?token={token}") as websocket:
        await websocket.send("ping")
