"""CPython's cycle collector in a process that creates objects by the million: how often it runs,
and what it leaves out.

CPython collects its youngest generation each time 700 more container objects exist than at
the last collection, and every object each time the older ones have grown by a quarter. Loading
Dagster, polars and the definitions creates some 170,000 tracked objects that live as long as the
process, and the raw export holds thousands of row buffers at a time. So with the default, one
`bravo-pipeline export` at scale 1 ran 3,000 young and 23 full collections, 1.1 s in all (510 and 4
at the tests' scale 0.01); with the youngest generation collected every 10,000 objects, 0.4 s (54
and 1). Cycles are still collected, only in bigger batches: the peak RSS stays within a few MB
of what it was.

What is loaded with the code location lives as long as the process, so it is also frozen out of
the full collections once the definitions are built (the raw step ran about 2 s slower at scale 1
inside a process holding the definitions than alone before that).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 10_000

_frozen = False


@contextmanager
def cycles_collected_less_often() -> Iterator[None]:
    """The youngest generation's threshold at least YOUNG_THRESHOLD while the block runs (also as a
    decorator): never lowered, and left at 0 where that turned automatic collection off. On exit the
    threshold found on entry comes back, unless something else changed it in between."""
    young, middle, old = gc.get_threshold()
    raised = 0 < young < YOUNG_THRESHOLD
    if raised:
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    try:
        yield
    finally:
        if raised and gc.get_threshold() == (YOUNG_THRESHOLD, middle, old):
            gc.set_threshold(young, middle, old)


def freeze_what_is_loaded() -> None:
    """Leave every object that exists now out of later collections (gc.freeze), once per process:
    a process that loads the code location again (a test session, a reloading server) keeps the
    collector's full use for what it made since."""
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True
