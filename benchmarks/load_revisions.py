"""Two revisions of kefu under the same open-loop load, in alternating rounds: what a change did.

    python -m benchmarks.load_revisions --base REV [--rates 500,700] [--seconds 5] [--rounds 3] [--waiting 0]

The full load run (benchmarks/load.py) compares kefu with a ceiling measured in the same run, but
this machine's speed drifts by a fifth between runs, so two runs of it cannot tell what a change
did. Here the base revision (a `git worktree` in a temporary folder) and the working tree take
turns, phase by phase, each a fresh `kefu serve` on a fresh SQLite file with the same settings
and traffic as the load run's open loop; the report gives each rate's medians over the rounds.

With `--waiting N`, N customers first send one angry message each and wait for a person (nobody is
online), as in a promotion's backlog, before the measured phase starts; it starts once their first
wait notices are all out, so it measures the line's steady cost, not the tail of its arrival. With
`--agents M` as well, M agents are online (5 chats each, every skill, never replying): the first of
the backlog fill their places, the rest wait, and every handoff of the measured phase finds them
all busy.

replied/s = messages of the phase whose reply reached the callback before the phase ended, per
second of the phase: what customers saw while the load lasted (no draining afterwards). CPU per
message is all of kefu's processes over the phase, per message accepted: less noisy than latency.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import uvloop

from benchmarks.load_phases import Phase, kefu_settings, measure
from benchmarks.load_seed import seed_agents
from benchmarks.load_servers import CallbackReceiver, start_kefu
from benchmarks.load_traffic import ANGRY, Messages, open_loop
from benchmarks.results_file import publish, revision

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "load_revisions.md"
WAITING_RATE = 300  # msg/s of the backlog's angry messages
NOTICES_QUIET_SECONDS = 2.5  # the timers tick once a second


@dataclass
class Round:
    replied_per_second: float
    e2e_p50: float
    e2e_p99: float
    cpu_ms: float  # kefu's CPU (all its processes) during the phase, per message accepted: less noisy than latency


def _percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(len(values) * share))] if values else float("nan")


async def loaded_phase(tree: Path, folder: Path, receiver: CallbackReceiver, secret: str, rate: int, args) -> Phase:
    """A fresh `kefu serve` of `tree` on a fresh store in `folder`: warm-up, the backlog (`args.waiting`,
    `args.agents`), then `rate` msg/s for `args.seconds`; kefu stopped, its store left in `folder`."""
    folder.mkdir()
    url = f"sqlite+aiosqlite:///{folder / 'kefu.db'}"
    settings = {**kefu_settings(url, secret, receiver.url, **args.settings), "PYTHONPATH": str(tree)}
    kefu = await start_kefu(folder, settings)
    try:
        warm = open_loop(kefu.port, Messages(f"w{folder.name}", 1000, secret), rate=50, seconds=2)
        await measure("warm-up", kefu, warm)
        if args.agents:
            seed_agents(folder / "kefu.db", args.agents)
        if args.waiting:  # each from a new customer, handed off and left waiting (once the agents are full)
            backlog = Messages(f"q{folder.name}", 10**9, secret, mix=((ANGRY, 1.0),))
            await measure(
                "waiting", kefu, open_loop(kefu.port, backlog, rate=WAITING_RATE, seconds=args.waiting / WAITING_RATE)
            )
            await _notices_sent(receiver)
        await asyncio.sleep(1)
        messages = Messages(f"r{folder.name}", 100_000, secret)
        return await measure(folder.name, kefu, open_loop(kefu.port, messages, rate=rate, seconds=args.seconds))
    finally:
        kefu.stop()


async def _notices_sent(receiver: CallbackReceiver) -> None:
    """Until the backlog's first wait notices are all out: none arrived for NOTICES_QUIET_SECONDS.

    Each customer handed off hears their place (or that nobody is online) at the timers' next
    tick, at most NOTICES_PER_TICK (app/engine/timers.py) a second: the first notices of thousands
    handed off in a few seconds take many seconds more, and a phase that began meanwhile measured
    those too (200 a second beside the phase's own)."""
    loop = asyncio.get_running_loop()
    count, quiet_since = len(receiver.unprompted), loop.time()
    while loop.time() - quiet_since < NOTICES_QUIET_SECONDS:
        await asyncio.sleep(0.25)
        if (arrived := len(receiver.unprompted)) != count:
            count, quiet_since = arrived, loop.time()


async def one_round(tree: Path, folder: Path, receiver: CallbackReceiver, secret: str, rate: int, args) -> Round:
    seconds = args.seconds
    phase = await loaded_phase(tree, folder, receiver, secret, rate, args)
    arrived = {key: receiver.first[key] for key in phase.sent.at if key in receiver.first}
    within = sum(1 for at in arrived.values() if at - phase.started <= seconds)
    e2e = sorted((at - phase.sent.at[key]) * 1000 for key, at in arrived.items())
    cpu_ms = phase.cpu / max(phase.sent.accepted, 1) * 1000
    return Round(within / seconds, _percentile(e2e, 0.5), _percentile(e2e, 0.99), cpu_ms)


async def run(args) -> str:
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="kefu-revisions-") as temp:
        workdir, base_tree = Path(temp), Path(temp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base_tree), args.base], cwd=ROOT, check=True)
        trees = {f"base {args.base}": base_tree, f"this tree ({revision()})": ROOT}
        receiver = CallbackReceiver(secret)
        await receiver.start()
        results: dict[tuple[int, str], list[Round]] = {}
        try:
            for rate in args.rates:
                for number in range(args.rounds):
                    for n, (name, tree) in enumerate(trees.items()):
                        folder = workdir / f"{rate}-{number}-{n}"
                        result = await one_round(tree, folder, receiver, secret, rate, args)
                        results.setdefault((rate, name), []).append(result)
                        print(f"  {name}: {result}", flush=True)
        finally:
            await receiver.stop()
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    return report(results, list(trees), args)


def report(results: dict[tuple[int, str], list[Round]], names: list[str], args) -> str:
    lines = [
        "# Load: two revisions of kefu, alternating rounds",
        "",
        f"- parameters: `--base {args.base} --rates {','.join(map(str, args.rates))} --seconds {args.seconds} "
        f"--rounds {args.rounds} --waiting {args.waiting} --agents {args.agents}"
        f"{''.join(f' --setting {s}' for s in args.setting)}`; open loop, new customers,"
        " one instance on SQLite, settings as in load.md",
        "- each cell: the median over the rounds; replied/s counts replies that reached the callback within the phase;"
        " kefu CPU: all its processes' CPU during the phase over the messages accepted",
        "",
        "| offered msg/s | revision | replied/s | e2e p50 / p99 ms | each round's p99 ms | kefu CPU per message |",
        "|---|---|---|---|---|---|",
    ]
    for rate in args.rates:
        for name in names:
            rounds = results[(rate, name)]
            replied = statistics.median(r.replied_per_second for r in rounds)
            p50 = statistics.median(r.e2e_p50 for r in rounds)
            p99 = statistics.median(r.e2e_p99 for r in rounds)
            each = ", ".join(f"{r.e2e_p99:,.0f}" for r in rounds)
            cpu = statistics.median(r.cpu_ms for r in rounds)
            lines.append(f"| {rate} | {name} | {replied:,.0f} | {p50:,.0f} / {p99:,.0f} | {each} | {cpu:.2f} ms |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the revision to compare the working tree with")
    parser.add_argument("--rates", default="500,700", help="offered msg/s")
    parser.add_argument("--seconds", type=float, default=5, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per rate")
    parser.add_argument("--waiting", type=int, default=0, help="customers waiting for a person before each phase")
    parser.add_argument("--agents", type=int, default=0, help="agents online (5 chats each), busy once the line forms")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="KEFU_NAME=VALUE",
        help="a setting for both revisions (one that the base does not know, it ignores); repeatable",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    args.settings = dict(setting.split("=", 1) for setting in args.setting)
    args.rates = [int(r) for r in args.rates.split(",")]
    publish(uvloop.run(run(args)), args.out)


if __name__ == "__main__":
    main()
