"""The scale-out phases of benchmarks/load.py: two kefu instances sharing one PostgreSQL and one Redis.

Issue 7 asks for the figures of several instances too. A throwaway PostgreSQL cluster and Redis server
(the classes `make test-pg` uses), one `kefu migrate`, then two `kefu serve` with the same secret and
callback receiver; the generator sends the messages to each in turn, like a round-robin load balancer.
Phases: closed loop with 1k customers, then the open-loop rates, as in embedded mode. Everything shares
this machine's cores, so the figures show that the shape holds under load (nothing lost or done twice;
how latency and CPU move), not what two machines would do. The store is read with asyncpg, kefu's driver.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import asyncpg

from benchmarks.load_phases import Audit, Phase, audit, drained_within, kefu_settings, log_errors, measure, outcomes
from benchmarks.load_servers import CallbackReceiver, Served, children, process_cpu, start_kefu
from benchmarks.load_traffic import Messages, closed_loop, open_loop
from tests.utils.postgres_server import PostgresServer
from tests.utils.redis_server import RedisServer

INSTANCES = 2


@dataclass
class ScaleOut:
    phases: list[Phase] = field(default_factory=list)
    receiver: CallbackReceiver | None = None  # its own, so its counts are the scale-out's alone
    counts: dict[str, Counter] = field(default_factory=dict)
    audit: Audit | None = None
    log_errors: list[str] = field(default_factory=list)  # of both instances
    postgres: str = ""  # the server's major version
    skipped: str | None = None  # why the phases did not run


@dataclass
class Instances:
    """The kefu processes behind the imagined load balancer; their CPU is counted together."""

    served: list[Served] = field(default_factory=list)

    @property
    def ports(self) -> list[int]:
        return [served.port for served in self.served]

    def cpu_seconds(self) -> float:
        return sum(served.cpu_seconds() for served in self.served)

    def stop(self) -> None:
        for served in self.served:
            served.stop()


def skipped(reason: str) -> ScaleOut:
    print(f"scale-out phases not run: {reason}", flush=True)
    return ScaleOut(skipped=reason)


def missing() -> str | None:
    """Why PostgreSQL and Redis cannot run here, if they cannot."""
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return "no PostgreSQL under /usr/lib/postgresql (Debian package `postgresql`)"
    if shutil.which("redis-server") is None:
        return "no redis-server on the PATH (Debian package `redis-server`)"
    return None


def postgres_cpu(server: PostgresServer) -> Callable[[], float]:
    """CPU seconds of the cluster so far: the postmaster and its sessions and writers, live or exited.

    Read from /proc, as for kefu; a session that exits between the two reads of one call is missed by
    that call (the next counts it), which pooled connections make rare."""
    postmaster = int((server.folder / "data" / "postmaster.pid").read_text().split()[0])

    def read() -> float:
        used = process_cpu(postmaster, reaped=True)
        for child in children(postmaster):
            try:
                used += process_cpu(child, reaped=True)
            except OSError:
                pass
        return used

    return read


async def start_instances(workdir: Path, settings: dict[str, str]) -> Instances:
    """`kefu migrate` once, then the instances, each in a folder of its own (its log)."""
    instances = Instances()
    try:
        for n in range(INSTANCES):
            folder = workdir / f"instance-{n + 1}"
            folder.mkdir(parents=True)
            instances.served.append(await start_kefu(folder, settings, migrate=n == 0))
    except BaseException:
        instances.stop()
        raise
    return instances


async def wait_drained(dsn: str, limit: float) -> tuple[float | None, int]:
    connection = await asyncpg.connect(dsn)
    try:
        return await drained_within(connection.fetch, limit)
    finally:
        await connection.close()


async def read_store(dsn: str, receiver: CallbackReceiver, phases: list[Phase]) -> tuple[dict[str, Counter], Audit]:
    """What became of the messages, and whether any was lost or handled twice; `meta` is a json column."""
    connection = await asyncpg.connect(dsn)
    try:
        counts = await outcomes(connection.fetch, "meta->>'action'", "meta->>'handoff'")
        return counts, await audit(connection.fetch, receiver, phases)
    finally:
        await connection.close()


async def run_phases(kefu: Instances, secret: str, drain, meters: dict, args) -> list[Phase]:
    """A warm-up, the closed loop with 1k customers, then each offered rate with new customers."""
    warm = open_loop(kefu.ports, Messages("pg-warm", 1000, secret), rate=50, seconds=2)
    await measure("pg-warm-up", kefu, warm, drain, meters)
    messages = Messages("pg-k1k", 1_000, secret, angry_leave=True)
    traffic = closed_loop(kefu.ports, messages, clients=args.clients, seconds=args.seconds)
    phases = [await measure(messages.prefix, kefu, traffic, drain, meters, customers=1_000)]
    for rate in args.rates:
        messages = Messages(f"pg-r{rate}", 100_000, secret)
        traffic = open_loop(kefu.ports, messages, rate=rate, seconds=args.rate_seconds)
        phases.append(await measure(messages.prefix, kefu, traffic, drain, meters, rate=rate))
    return phases


async def scaleout(workdir: Path, secret: str, args) -> ScaleOut:
    """Both instances under the embedded phases' traffic; skipped, with the reason, where the servers cannot run."""
    if reason := missing():
        return skipped(reason)
    postgres, redis, receiver = None, RedisServer(), CallbackReceiver(secret)
    try:
        try:
            postgres = PostgresServer()
            postgres.start()
            redis.start()
        except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
            return skipped(f"PostgreSQL or Redis did not start: {exc}")
        await receiver.start()
        database = postgres.url.replace("postgresql://", "postgresql+asyncpg://", 1)
        settings = kefu_settings(database, secret, receiver.url, KEFU_REDIS_URL=redis.url)
        kefu = await start_instances(workdir / "scaleout", settings)
        try:
            meters = {"PostgreSQL": postgres_cpu(postgres), "Redis": partial(process_cpu, redis.process.pid)}
            phases = await run_phases(kefu, secret, partial(wait_drained, postgres.url, args.drain_limit), meters, args)
        finally:
            kefu.stop()
        counts, checked = await read_store(postgres.url, receiver, phases)
        errors = [line for served in kefu.served for line in log_errors(served.log)]
        return ScaleOut(phases, receiver, counts, checked, errors, postgres.bin_dir.parent.name)
    finally:
        await receiver.stop()
        redis.close()
        if postgres is not None:
            postgres.close()
