"""Python's garbage collector set for a process that keeps most of what it makes for its whole life.

Seen with `gc.callbacks` under the open loop at 1,000 msg/s (one instance, delivery process on):
- A full collection walks every object the collector tracks. What start-up made (code, the FAQ
  index, the lexicons, SQLAlchemy's and pydantic's machinery) is most of them and lives as long as
  the process, yet each full pass walked it: 50-130 ms in which nothing else ran (the service,
  before it froze it), 46-75 ms every 2 s in the delivery process (until it froze it too). Frozen
  (`gc.freeze`) once start-up is done, it is left out: 1-2 ms.
- The young generation, collected every 700 new objects (Python's default), was collected while a
  batch's objects were still in use: they survived, aged and soon brought on the next full pass
  (5-17 ms in the service, every 2-3 s). Every 10,000, they are mostly gone by then: no full pass
  came during the measured phases, and the young collections' own time halved.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 10_000  # new objects (allocations less deallocations) between young collections


@contextmanager
def long_lived_process() -> Iterator[None]:
    """Freeze what exists now and collect the young generation less often, until the block ends
    (tests go on in the same process: what it frees is collected again)."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
