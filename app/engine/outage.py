"""Store outages: telling them from a message's own failure, and logging them once, not once per pass.

While the database is down the outbox and the assigner fail every pass; one traceback when it
starts, a line when it ends, and quiet in between keep the log readable and the disk unfilled.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout


def is_outage(exc: BaseException) -> bool:
    """The store cannot be reached or written, as opposed to something one message causes."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | OSError):
        return True
    return bool(getattr(exc, "connection_invalidated", False))


class OutageLog:
    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self._what = what
        self._failures = 0

    def failed(self) -> None:
        """Call from an `except` block."""
        if not self._failures:
            self._log.exception("%s failed; retrying quietly until it works again", self._what)
        self._failures += 1

    def worked(self) -> None:
        if self._failures:
            self._log.warning("%s works again after %d failed passes", self._what, self._failures)
            self._failures = 0


def describe_storage_error(exc: BaseException) -> str:
    """What the database said, for the log: "OperationalError: database or disk is full", not just a type.

    The driver's own message, first line only (no SQL, no parameters); the log filter masks the rest.
    """
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    said = (str(cause).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {said}" if said else type(exc).__name__
