"""CPU per outbound request: kefu's client (httpx over aiohttp) against httpx's own transport,
in benchmarks/results/http_client.md.

    python -m benchmarks.http_client [--requests 2000] [--rounds 5]

Both post a reply-sized signed JSON body to the trivial FastAPI app (a separate uvicorn process
on 127.0.0.1, as in benchmarks/load.py) with 1, 5 and 30 requests in flight, as the outbox does
under light and heavy load. Measured: this process's CPU time per request (the client's cost
alone; the server is another process). Rounds alternate between the two clients; the table
shows each one's median round and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvloop

from app.http_client import http_client
from benchmarks.load_servers import start_ceiling
from benchmarks.results_file import publish

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "http_client.md"
BODY = '{"message_id": "m-0123456789", "text": "亲，一般48小时内发货，请耐心等待哦"}'.encode()
IN_FLIGHT = (1, 5, 30)
CLIENTS: dict[str, Callable[[], httpx.AsyncClient]] = {
    "httpx's own transport (baseline)": lambda: httpx.AsyncClient(timeout=5),
    "kefu: httpx over aiohttp": lambda: http_client(5),
}


async def cpu_per_request(client: httpx.AsyncClient, url: str, in_flight: int, requests: int) -> float:
    """Microseconds of this process's CPU per request, `in_flight` at a time."""

    async def sender(count: int) -> None:
        for _ in range(count):
            response = await client.post(url, content=BODY, headers={"content-type": "application/json"})
            response.raise_for_status()

    each = requests // in_flight
    started = time.process_time()
    await asyncio.gather(*(sender(each) for _ in range(in_flight)))
    return (time.process_time() - started) / (each * in_flight) * 1e6


async def measure(url: str, requests: int, rounds: int) -> dict[tuple[str, int], float]:
    samples: dict[tuple[str, int], list[float]] = {}
    for _ in range(rounds):
        for name, make in CLIENTS.items():
            async with make() as client:
                await cpu_per_request(client, url, 5, 100)  # connections opened, code warm
                for in_flight in IN_FLIGHT:
                    samples.setdefault((name, in_flight), []).append(
                        await cpu_per_request(client, url, in_flight, requests)
                    )
    return {key: statistics.median(values) for key, values in samples.items()}


def report(medians: dict[tuple[str, int], float], args: argparse.Namespace) -> str:
    baseline, kefu = CLIENTS
    lines = [
        "# Outbound HTTP: CPU per request, kefu's client against httpx's own transport",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%dT%H:%M+00:00}",
        f"- machine: {platform.platform()}, {os.cpu_count()} cores, shared with other work;"
        f" Python {platform.python_version()}",
        f"- {args.requests} POSTs per measurement of a {len(BODY)}-byte JSON body to the trivial FastAPI app"
        " (another process, 127.0.0.1); this process's CPU only; median of "
        f"{args.rounds} alternating rounds",
        "",
        f"| requests in flight | {baseline} µs | {kefu} µs | ratio |",
        "|---|---|---|---|",
    ]
    for in_flight in IN_FLIGHT:
        old, new = medians[(baseline, in_flight)], medians[(kefu, in_flight)]
        lines.append(f"| {in_flight} | {old:,.0f} | {new:,.0f} | {new / old:.2f} |")
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory() as folder:
        server = await start_ceiling(Path(folder))
        try:
            medians = await measure(f"http://127.0.0.1:{server.port}/webhooks/web", args.requests, args.rounds)
        finally:
            server.stop()
    return report(medians, args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; the median is reported")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    text = uvloop.run(run(args))
    publish(text, args.out)


if __name__ == "__main__":
    main()
