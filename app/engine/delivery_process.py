"""Replies delivered from a process of their own, on the machine's second core.

kefu's event loop is one core's worth of work, and sending replies took about a third of what
each message cost it (benchmarks/results/cpu_budget.md). With `KEFU_OUTBOX__PROCESS=true` the
service starts this module as a child process (app/engine/child_process.py) that runs only the
outbox (app/engine/outbox.py) against the same store. The outbox table is the hand-over, as
between instances: a reply is committed before either process sees it, so nothing is lost when
either one dies.

Its lines: to the child, an empty line whenever a commit has left replies to send (at most one
per turn of the service's event loop); from the child, its delivery counters' increases as JSON,
about once a second, which the service adds to its own /metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import uvloop

from app import metrics
from app.collector import long_lived_process
from app.engine.child_process import REPORT_SECONDS, ChildProcess, CounterReport, add_counts, child_input
from app.engine.outbox import Outbox
from app.http_client import http_client
from app.platforms import configured_adapters
from app.settings import Settings
from app.store.database import create_engine

log = logging.getLogger(__name__)

MODULE = "app.engine.delivery_process"
COUNTERS = {"out": metrics.MESSAGES_OUT, "failed": metrics.DELIVERY_FAILURES}  # what the child reports


class DeliveryProcess:
    """The outbox in a child process; `start`, `wake` and `drain` as Outbox's own."""

    def __init__(self, settings: Settings) -> None:
        self._child = ChildProcess("delivery process", MODULE, settings, add_report, metrics.DELIVERY_PROCESS_EXITS)
        self._wake_due = False

    def start(self) -> None:
        self._child.start()

    def wake(self) -> None:
        """Tell the child to look for replies; many wakes in one turn of the loop make one line."""
        if not self._wake_due:
            self._wake_due = True
            asyncio.get_running_loop().call_soon(self._send_wake)

    def _send_wake(self) -> None:
        self._wake_due = False
        self._child.write(b"\n")

    async def drain(self, timeout: float) -> None:
        await self._child.drain(timeout)


def add_report(line: bytes) -> None:
    """Add a child's report to this process's counters; a line that is not one is logged, not fatal."""
    try:
        add_counts(COUNTERS, json.loads(line))
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("delivery process wrote a line that is not a counter report: %.200r", line)


async def _child() -> None:
    stdin, settings = await child_input("delivery process")
    db = create_engine(settings.database_url, checkpoint_on_commit=False)  # the service checkpoints
    http = http_client(settings.outbox.send_timeout_seconds)
    outbox = Outbox(db, configured_adapters(settings, http), settings.outbox)
    report = CounterReport(COUNTERS)
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
