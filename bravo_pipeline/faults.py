"""Named points where a test may kill the process, to prove that a crash there leaves the stores consistent.

`BRAVO_TEST_KILL_AT=<point>` makes the process kill itself (SIGKILL, as a power
cut or the OOM killer would) when it reaches that point. Unset, a checkpoint
costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

KILL_AT_VARIABLE = "BRAVO_TEST_KILL_AT"


def checkpoint(point: str) -> None:
    if os.environ.get(KILL_AT_VARIABLE) == point:
        os.kill(os.getpid(), signal.SIGKILL)
