"""Replies delivered from a process of their own, on the machine's second core.

kefu's event loop is one core's worth of work, and sending replies took about a third of what
each message cost it (benchmarks/results/cpu_budget.md). With `KEFU_OUTBOX__PROCESS=true` the
service starts this module as a child process that runs only the outbox (app/engine/outbox.py)
against the same store. The outbox table is the hand-over, as between instances: a reply is
committed before either process sees it, so nothing is lost when either one dies, and the
service starts another child when its child exits.

Between the two, a pipe each way:
- to the child's stdin: the settings as one JSON line, then an empty line whenever a commit has
  left replies to send (at most one per turn of the service's event loop); end of input (the
  service stopped or died) makes the child finish its deliveries and exit;
- from the child's stdout: its delivery counters' increases as JSON lines, about once a second,
  which the service adds to its own /metrics. The child logs to stderr, as the service does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import uvloop
from prometheus_client import Counter
from pydantic import SecretBytes, SecretStr, ValidationError

from app import metrics
from app.collector import long_lived_process
from app.engine.outbox import Outbox
from app.http_client import http_client
from app.platforms import configured_adapters
from app.privacy import configure_logging
from app.settings import Settings
from app.store.database import create_engine, session_factory

log = logging.getLogger(__name__)

MODULE = "app.engine.delivery_process"
REPORT_SECONDS = 1.0  # how often the child sends its counters' increases
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)  # seconds before starting another child, after each exit in a row
STEADY_SECONDS = 60.0  # a child that ran this long was fine: the next exit starts the delays over
COUNTERS = {"out": metrics.MESSAGES_OUT, "failed": metrics.DELIVERY_FAILURES}  # what the child reports


class DeliveryProcess:
    """The outbox in a child process; `start`, `wake` and `drain` as Outbox's own."""

    def __init__(self, settings: Settings) -> None:
        self._settings_line = settings_line(settings)
        self._drain_seconds = settings.engine.drain_seconds
        self._process: asyncio.subprocess.Process | None = None
        self._wake_due = False
        self._closing = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="delivery process")

    def wake(self) -> None:
        """Tell the child to look for replies; many wakes in one turn of the loop make one line."""
        if not self._wake_due:
            self._wake_due = True
            asyncio.get_running_loop().call_soon(self._send_wake)

    def _send_wake(self) -> None:
        self._wake_due = False
        stdin = self._process.stdin if self._process is not None else None
        if stdin is not None and not stdin.is_closing():  # between children, the next one's first scan finds them
            stdin.write(b"\n")

    async def drain(self, timeout: float) -> None:
        """End the child's input: it finishes the deliveries under way, stores them and exits."""
        self._closing = True
        process = self._process
        if process is not None and process.returncode is None:
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), timeout + 5)  # its own drain, then its exit
            except TimeoutError:
                log.error("delivery process did not finish within %.0f s: killed", timeout + 5)
                process.kill()
                await process.wait()
        if self._task is not None:  # it reads the child's last counts; between children, it only waits
            await asyncio.wait({self._task}, timeout=1)
            self._task.cancel()

    async def _supervise(self) -> None:
        exits = 0
        while not self._closing:
            started = asyncio.get_running_loop().time()
            try:
                ended = f"exited with code {await self._run_child()}"
            except OSError as exc:  # could not start one: try again, as after an exit
                ended = f"could not start ({exc})"
            if self._closing:
                return
            metrics.DELIVERY_PROCESS_EXITS.inc()
            ran = asyncio.get_running_loop().time() - started
            exits = 1 if ran > STEADY_SECONDS else exits + 1
            delay = RESTART_DELAYS[min(exits, len(RESTART_DELAYS)) - 1]
            log.error("delivery process %s; starting another in %.0f s", ended, delay)
            await asyncio.sleep(delay)

    async def _run_child(self) -> int:
        self._process = process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            MODULE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C at the terminal reaches the service, which drains the child
        )
        process.stdin.write(self._settings_line)
        log.info("delivery process %d started", process.pid)
        async for line in process.stdout:
            add_counts(line)
        return await process.wait()


def settings_line(settings: Settings) -> bytes:
    """The settings as the child rebuilds them: one JSON line, secrets included (a pipe, not a log)."""
    return json.dumps(settings.model_dump(), default=_plain, ensure_ascii=False).encode() + b"\n"


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} in the settings cannot go to the delivery process")


class CounterReport:
    """The increases of the child's delivery counters since the last report."""

    def __init__(self) -> None:
        self._seen: dict[tuple, float] = {}

    def take(self) -> dict[str, list]:
        report: dict[str, list] = {}
        for name, counter in COUNTERS.items():
            for sample in counter.collect()[0].samples:
                if not sample.name.endswith("_total"):
                    continue
                key = (name, *sample.labels.items())
                increase = sample.value - self._seen.get(key, 0.0)
                if increase:
                    self._seen[key] = sample.value
                    report.setdefault(name, []).append([sample.labels, increase])
        return report


def add_counts(line: bytes) -> None:
    """Add a child's report to this process's counters; a line that is not one is logged, not fatal."""
    try:
        for name, rows in json.loads(line).items():
            counter: Counter = COUNTERS[name]
            for labels, increase in rows:
                counter.labels(**labels).inc(increase)
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("delivery process wrote a line that is not a counter report: %.200r", line)


async def _child() -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin.buffer)
    loop.add_signal_handler(signal.SIGTERM, stdin.feed_eof)  # stopped directly: as when the service stops
    try:
        settings = Settings(**json.loads(await stdin.readline()))
    except ValidationError as exc:  # its message quotes the values given, secrets among them
        sys.exit(f"delivery process: settings refused: {exc.errors(include_input=False, include_url=False)}")
    configure_logging(settings.log_level, settings.secrets())
    db = create_engine(settings.database_url)
    http = http_client(settings.outbox.send_timeout_seconds)
    outbox = Outbox(session_factory(db), configured_adapters(settings, http), settings.outbox)
    report = CounterReport()
    reporting = asyncio.create_task(_report_every(report))
    outbox.start()
    try:
        with long_lived_process():  # as the service's (app/main.py)
            while await stdin.readline():  # b"" at the end of input
                outbox.wake()
    finally:
        await outbox.drain(settings.engine.drain_seconds)
        reporting.cancel()
        _write(report)
        await http.aclose()
        await db.dispose()


async def _report_every(report: CounterReport) -> None:
    while True:
        await asyncio.sleep(REPORT_SECONDS)
        _write(report)


def _write(report: CounterReport) -> None:
    if counts := report.take():
        sys.stdout.buffer.write(json.dumps(counts).encode() + b"\n")
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    uvloop.run(_child())
