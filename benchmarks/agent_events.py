"""How fast a handed-off chat reaches the agent's console, in benchmarks/results/agent_events.md.

    python -m benchmarks.agent_events [--chats 200]

Starts kefu as a real process on 127.0.0.1 (SQLite, a temporary folder), creates an online agent
with the CLI and listens on its WebSocket; then customers ask for a person one after another
over the signed web channel. Measured per chat: from the webhook's 200 to the "assigned" event
on the agent's socket (the bot's decision, the queue, the claim and the push). Goal: p99 < 50 ms.
Baseline in the same run: the webhook round trip alone.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
SECRET = secrets.token_hex(16)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kefu(args: list[str], workdir: Path, env: dict[str, str], **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app", *args], cwd=workdir, env=env, **popen)


def signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "x-kefu-timestamp": ts, "x-kefu-signature": f"sha256={digest}"}


async def measure(base: str, token: str, chats: int) -> tuple[list[float], list[float]]:
    to_event, round_trip = [], []
    async with (
        httpx.AsyncClient() as client,
        connect(base.replace("http", "ws") + f"/api/agents/me/events?token={token}") as ws,
    ):
        await client.put(
            f"{base}/api/agents/me/status", json={"status": "online"}, headers={"authorization": f"Bearer {token}"}
        )
        for n in range(chats):
            body = json.dumps({"message_id": f"b-{n}", "customer_id": f"bench-{n}", "text": "转人工"}).encode()
            start = time.perf_counter()
            response = await client.post(f"{base}/webhooks/web", content=body, headers=signed(body))
            answered = time.perf_counter()
            assert response.status_code == 200, response.text
            while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "assigned":
                pass
            to_event.append((time.perf_counter() - answered) * 1000)
            round_trip.append((answered - start) * 1000)
    return to_event, round_trip


def stage_split(database: Path) -> dict[str, float]:
    """Medians, from the stored timestamps: message stored → queued (the bot's turn) → assigned."""
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT m.created_at, c.queued_at, c.assigned_at FROM conversations c "
            "JOIN messages m ON m.conversation_id = c.id AND m.direction = 'in'"
        ).fetchall()
    parse = datetime.fromisoformat
    decided = [(parse(q) - parse(m)).total_seconds() * 1000 for m, q, _ in rows]
    assigned = [(parse(a) - parse(q)).total_seconds() * 1000 for _, q, a in rows]
    return {"decided": statistics.median(decided), "assigned": statistics.median(assigned)}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "agent_events.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir, port = Path(folder), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
        env |= {
            "PYTHONPATH": str(ROOT),
            "KEFU_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'kefu.db'}",
            "KEFU_WEB__SECRET": SECRET,
            "KEFU_LOG_LEVEL": "WARNING",
        }
        subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=workdir, env=env, check=True, capture_output=True)
        added = subprocess.run(
            [sys.executable, "-m", "app", "agents", "add", "bench", "--name", "压测", "--capacity", "100000"],
            cwd=workdir,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        token = added.stdout.rsplit(": ", 1)[1].strip()
        server = kefu(
            ["serve", "--port", str(port)], workdir, env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    if httpx.get(f"{base}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            to_event, round_trip = asyncio.run(measure(base, token, args.chats))
        finally:
            server.terminate()
            server.wait(20)
        stages = stage_split(workdir / "kefu.db")
    p99 = percentile(to_event, 0.99)
    report = "\n".join(
        [
            "# Handoff to the agent's console",
            "",
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · one kefu process, SQLite, {args.chats} chats one after another",
            "",
            "| measure | p50 ms | p99 ms |",
            "|---|---|---|",
            f"| webhook 200 → assigned event on the agent's WebSocket | {statistics.median(to_event):.1f} "
            f"| {p99:.1f} |",
            f"| webhook round trip (baseline) | {statistics.median(round_trip):.1f} "
            f"| {percentile(round_trip, 0.99):.1f} |",
            f"| of which: message stored → handed off (the bot's turn), median | {stages['decided']:.1f} | |",
            f"| of which: handed off → claimed by the assigner, median | {stages['assigned']:.1f} | |",
            "",
            f"Goal p99 < 50 ms: {'met' if p99 < 50 else 'not met'}.",
            "",
        ]
    )
    args.out.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
