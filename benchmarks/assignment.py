"""How long one assignment decision takes with many agents and a long queue, in benchmarks/results/assignment.md.

    python -m benchmarks.assignment

The decision is: order 10,000 waiting chats (level, aged priority, wait) and pick an agent for
the head chat from 500 (online → skills → capacity → least busy). Medians and p99 of repeated
runs, beside a baseline in the same run: the same pick by one linear scan without the pipeline.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from routing.assignment import AgentLoad, choose_agent, least_busy
from routing.queues import Waiting, ordered

ROOT = Path(__file__).resolve().parent.parent
SKILLS = ["presale", "order", "logistics", "aftersale", "complaints", "supervisor", "vip"]


def agents(count: int, rng: random.Random) -> list[AgentLoad]:
    return [
        AgentLoad(
            f"a{n:04d}",
            frozenset(rng.sample(SKILLS, 2)),
            capacity=5,
            active=rng.randint(0, 5),
            status=rng.choice(["online", "online", "online", "away", "offline"]),
        )
        for n in range(count)
    ]


def chats(count: int, now: datetime, rng: random.Random) -> list[Waiting]:
    return [
        Waiting(
            f"c{n}",
            rng.choice(SKILLS),
            rng.choice(["L1", "L1", "L1", "L2", "L3"]),
            rng.choice([10, 30, 50, 100]),
            now - timedelta(seconds=rng.randint(0, 3600)),
        )
        for n in range(count)
    ]


def timed(work, repeat: int) -> tuple[float, float]:
    micros = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        work()
        micros.append((time.perf_counter_ns() - start) / 1000)
    micros.sort()
    return statistics.median(micros), micros[int(len(micros) * 0.99)]


def main() -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    pool, waiting = agents(500, rng), chats(10_000, now, rng)

    def pipeline_pick():
        return choose_agent(pool, ["complaints"], least_busy)

    def scan_pick():
        best = None
        for a in pool:
            if a.status == "online" and "complaints" in a.skills and a.active < a.capacity:
                if best is None or a.active / a.capacity < best.active / best.capacity:
                    best = a
        return best

    pick = timed(pipeline_pick, 2000)
    scan = timed(scan_pick, 2000)
    order = timed(lambda: ordered(waiting, now=now), 50)
    lines = [
        "# Assignment decision",
        "",
        f"{now:%Y-%m-%d %H:%M} UTC · 500 agents (about 60% online, random skills and load), 10,000 waiting chats",
        "",
        "| step | p50 µs | p99 µs |",
        "|---|---|---|",
        f"| pick an agent (pipeline: online → skills → capacity → least busy) | {pick[0]:.1f} | {pick[1]:.1f} |",
        f"| same pick, one hand-written scan (baseline) | {scan[0]:.1f} | {scan[1]:.1f} |",
        f"| order 10,000 waiting chats (level, aged priority, wait) | {order[0]:.0f} | {order[1]:.0f} |",
        "",
        f"One decision (pick) p99 {pick[1]:.0f} µs against the 1 ms goal; ordering the whole queue is done once per",
        "assignment pass, not per decision.",
        "",
    ]
    report = "\n".join(lines)
    (ROOT / "benchmarks" / "results" / "assignment.md").write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
