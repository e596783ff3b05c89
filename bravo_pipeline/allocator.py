"""glibc malloc settings for a process that streams data in blocks of about a megabyte.

Left to itself, glibc mmaps every block at least as big as the biggest it has freed so
far (its threshold follows the sizes it sees, and a request equal to it is mmapped too),
so block after block gets fresh pages, a page fault per 4 KiB: in the raw export that was
a third of the exporter's CPU. Fixing the thresholds at the highest values glibc itself would reach
(mmap above 32 MB, trim above 64 MB) lets freed blocks be reused as they are.
"""

from __future__ import annotations

import ctypes
import os
import platform

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # what glibc sets with it
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

_applied = False


def _user_chose() -> bool:
    return (any(name in os.environ for name in _USER_SETTINGS)
            or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""))


def reuse_freed_blocks() -> bool:
    """Apply the settings once per process; False where they do not apply (not glibc) or where
    the user set glibc's own malloc variables, which win."""
    global _applied
    if _applied:
        return True
    if platform.libc_ver()[0] != "glibc" or _user_chose():
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    _applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied
