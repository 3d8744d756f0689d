"""SQLite's write-ahead log copied back into the database file by a thread of its own.

By default SQLite checkpoints inside whichever COMMIT takes the log past 1,000 pages: that COMMIT
copies about 4 MB back into the database file. kefu calls its writing connections on the event
loop's thread (app/store/sqlite_loop.py), so every webhook or decision of that moment waited for
it, in whichever of kefu serve's processes it fell. kefu serve's connections therefore leave
checkpoints to this thread (`checkpoint_on_commit=False` in app/store/database.py). It runs
PASSIVE checkpoints, which never wait for a reader or a writer, every `CHECKPOINT_SECONDS`; the
sqlite3 module lets go of the GIL while SQLite copies, so the copy runs beside the event loop.
An intake write's p99 on the loop went from 7.6 to 1.8 ms and its slowest from 11.3 to 3.4 ms,
for 9% more CPU per commit over all threads (benchmarks/results/wal_checkpoints.md).

When the last connection closes, SQLite checkpoints and removes the log itself, as before.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from functools import partial

from sqlalchemy import make_url

from app import metrics
from app.engine.outage import OutageLog
from app.store.database import sqlite_connect_args

log = logging.getLogger(__name__)

# Often, so that each checkpoint has little to copy and holds the file only briefly (the slowest
# write beside it 3.4 ms in wal_checkpoints.md, 6.9 ms with a checkpoint a second, ad hoc); one
# with nothing to copy costs about 6 µs.
CHECKPOINT_SECONDS = 0.1


class WalCheckpoints:
    """`start` a daemon thread that checkpoints every `every` seconds until `stop`."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], every: float = CHECKPOINT_SECONDS) -> None:
        self._connect = connect
        self._every = every
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: sqlite3.Connection | None = None  # the thread's, while it runs
        self._outage = OutageLog(log, "SQLite checkpoint")

    @classmethod
    def for_url(cls, url: str, every: float = CHECKPOINT_SECONDS) -> WalCheckpoints | None:
        """The checkpoints of a SQLite file; None where there is no log to look after (PostgreSQL,
        an in-memory SQLite)."""
        address = make_url(url)
        if address.get_backend_name() != "sqlite" or address.database in (None, "", ":memory:"):
            return None
        args, kwargs = sqlite_connect_args(url)  # as kefu's own connections
        return cls(partial(sqlite3.connect, *args, **{**kwargs, "isolation_level": None}), every)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def checkpoint(self) -> int:
        """One PASSIVE checkpoint; the pages it left in the log (those a reader still needed)."""
        if self._connection is None:
            self._connection = self._connect()
        _, logged, copied = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        left = max(logged - copied, 0)  # both -1 when the file is not in WAL mode (yet)
        metrics.SQLITE_WAL_PAGES.set(left)
        return left

    def _run(self) -> None:
        try:
            while not self._stopping.wait(self._every):
                try:
                    self.checkpoint()
                    self._outage.worked()
                except sqlite3.Error:
                    self._outage.failed()
                    self._close()  # a new connection next time: the file may have been replaced
        finally:
            self._close()

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
