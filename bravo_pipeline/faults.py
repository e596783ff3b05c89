"""Named points where a test may kill or pause the process, to prove what a crash or a race there does.

- `BRAVO_TEST_KILL_AT=<point>`: the process kills itself (SIGKILL, as a power cut or
  the OOM killer would) when it reaches that point.
- `BRAVO_TEST_PAUSE_AT=<point>` with `BRAVO_TEST_PAUSE_FILE=<path>`: at that point the
  process creates `<path>.reached` and waits until `<path>` exists (at most
  PAUSE_SECONDS), so a test can start a second command at a chosen moment.

Unset, a checkpoint costs two dictionary lookups.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

KILL_AT_VARIABLE = "BRAVO_TEST_KILL_AT"
PAUSE_AT_VARIABLE = "BRAVO_TEST_PAUSE_AT"
PAUSE_FILE_VARIABLE = "BRAVO_TEST_PAUSE_FILE"
PAUSE_SECONDS = 120


def checkpoint(point: str) -> None:
    if os.environ.get(KILL_AT_VARIABLE) == point:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get(PAUSE_AT_VARIABLE) == point and os.environ.get(PAUSE_FILE_VARIABLE):
        release = Path(os.environ[PAUSE_FILE_VARIABLE])
        release.with_name(release.name + ".reached").touch()
        deadline = time.monotonic() + PAUSE_SECONDS
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
