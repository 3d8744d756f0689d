"""Log a background loop's failures once per outage, not once per pass.

While the database is down the outbox and the assigner fail every pass; one traceback when it
starts, a line when it ends, and quiet in between keep the log readable and the disk unfilled.
"""

from __future__ import annotations

import logging


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
