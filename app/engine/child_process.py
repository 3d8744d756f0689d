"""A part of kefu run in a child process of the service, on the machine's other core.

kefu's event loop is one core's worth of work. On a machine with a second core, a part whose
only hand-over with the rest is the store can run beside it: the delivery process (the outbox,
app/engine/delivery_process.py) and the engine process (the conversation engine,
app/engine/engine_process.py). Both talk to the service the same way, a pipe each way:
- to the child's stdin: the settings as one JSON line, then the child's own lines; end of input
  (the service stopped or died) makes the child finish the work under way and exit;
- from the child's stdout: JSON lines the service acts on (counter increases, events). The child
  logs to stderr, as the service does.
The service starts another child when one exits, after a delay that grows while they keep dying.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import Counter
from pydantic import SecretBytes, SecretStr, ValidationError

from app.privacy import configure_logging
from app.settings import Settings

log = logging.getLogger(__name__)

RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)  # seconds before starting another child, after each exit in a row
STEADY_SECONDS = 60.0  # a child that ran this long was fine: the next exit starts the delays over
REPORT_SECONDS = 1.0  # how often a child sends its counters' increases


class ChildProcess:
    """Runs `python -m module` as the service's child, again after it exits, until `drain`."""

    def __init__(
        self, name: str, module: str, settings: Settings, on_line: Callable[[bytes], None], exits: Counter
    ) -> None:
        self.name = name
        self._module = module
        self._settings_line = settings_line(settings)
        self._on_line = on_line
        self._exits = exits
        self._process: asyncio.subprocess.Process | None = None
        self._closing = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=self.name)

    def write(self, data: bytes) -> None:
        """To the running child's stdin; between children nothing is written: the next one's start-up
        looks in the store for what is due."""
        stdin = self._process.stdin if self._process is not None else None
        if stdin is not None and not stdin.is_closing():
            stdin.write(data)

    async def drain(self, timeout: float) -> None:
        """End the child's input: it finishes the work under way, stores it and exits."""
        self._closing = True
        process = self._process
        if process is not None and process.returncode is None:
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), timeout + 5)  # its own drain, then its exit
            except TimeoutError:
                log.error("%s did not finish within %.0f s: killed", self.name, timeout + 5)
                process.kill()
                await process.wait()
        if self._task is not None:  # it reads the child's last lines; between children, it only waits
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
            self._exits.inc()
            ran = asyncio.get_running_loop().time() - started
            exits = 1 if ran > STEADY_SECONDS else exits + 1
            delay = RESTART_DELAYS[min(exits, len(RESTART_DELAYS)) - 1]
            log.error("%s %s; starting another in %.0f s", self.name, ended, delay)
            await asyncio.sleep(delay)

    async def _run_child(self) -> int:
        self._process = process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self._module,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 22,  # one line may carry many events
            start_new_session=True,  # a Ctrl-C at the terminal reaches the service, which drains the child
        )
        process.stdin.write(self._settings_line)
        log.info("%s %d started", self.name, process.pid)
        async for line in process.stdout:
            self._on_line(line)
        return await process.wait()


def settings_line(settings: Settings) -> bytes:
    """The settings as the child rebuilds them: one JSON line, secrets included (a pipe, not a log)."""
    return json.dumps(settings.model_dump(), default=_plain, ensure_ascii=False).encode() + b"\n"


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} in the settings cannot go to a child process")


async def child_input(name: str) -> tuple[asyncio.StreamReader, Settings]:
    """In the child: its stdin, and the settings read from its first line, logging configured by them.
    SIGTERM ends the input, as when the service stops."""
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=1 << 22)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin.buffer)
    loop.add_signal_handler(signal.SIGTERM, stdin.feed_eof)
    try:
        settings = Settings(**json.loads(await stdin.readline()))
    except ValidationError as exc:  # its message quotes the values given, secrets among them
        sys.exit(f"{name}: settings refused: {exc.errors(include_input=False, include_url=False)}")
    configure_logging(settings.log_level, settings.secrets())
    return stdin, settings


class CounterReport:
    """The increases of the child's counters since the last report, by the names both sides use."""

    def __init__(self, counters: dict[str, Counter]) -> None:
        self._counters = counters
        self._seen: dict[tuple, float] = {}

    def take(self) -> dict[str, list]:
        report: dict[str, list] = {}
        for name, counter in self._counters.items():
            for sample in counter.collect()[0].samples:
                if not sample.name.endswith("_total"):
                    continue
                key = (name, *sample.labels.items())
                increase = sample.value - self._seen.get(key, 0.0)
                if increase:
                    self._seen[key] = sample.value
                    report.setdefault(name, []).append([sample.labels, increase])
        return report


def add_counts(counters: dict[str, Counter], report: dict[str, list]) -> None:
    """Add a child's report to this process's counters (KeyError, TypeError… if it is not one)."""
    for name, rows in report.items():
        counter = counters[name]
        for labels, increase in rows:
            counter.labels(**labels).inc(increase)
