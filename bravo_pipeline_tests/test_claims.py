"""Claims between processes: exclusive, named holder, released when the holder dies; on files and on PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bravo_pipeline import claims

HOLD = """
import sys, time
from pathlib import Path
from bravo_pipeline import claims
claims.configure(Path(sys.argv[1]), sys.argv[2] or None)
with claims.claim("export 20250622-072114", "holder test"):
    Path(sys.argv[3]).touch()
    time.sleep(120)
"""


@pytest.fixture(params=["files", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, admin_uri: str) -> Iterator[str]:
    uri = admin_uri if request.param == "postgres" else ""
    claims.configure(tmp_path, uri or None)
    yield uri
    claims.configure(tmp_path, None)


def _holder(tmp_path: Path, uri: str) -> subprocess.Popen[bytes]:
    ready = tmp_path / "held"
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), uri, str(ready)])
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    return process


def test_a_claim_is_exclusive_names_its_holder_and_dies_with_it(tmp_path: Path, backend: str) -> None:
    name = "export 20250622-072114"
    holder = _holder(tmp_path, backend)
    try:
        with pytest.raises(claims.ClaimBusy) as busy, claims.claim(name, "second", wait=False):
            pass
        assert str(busy.value).startswith(f"{name} is in use by holder test (pid {holder.pid} on ")
        assert not claims.is_free(name)
        with claims.claim("export 20250623-072114", "other timestamp", wait=False):
            pass  # other names are free
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    said: list[str] = []
    with claims.claim(name, "after the holder died", say=said.append):
        assert not claims.is_free(name)
        with claims.claim(name, "re-entered by the same process", wait=False):
            pass
    assert said == [] and claims.is_free(name)


def test_a_waiting_claim_says_for_what_and_gets_it_when_released(tmp_path: Path, backend: str) -> None:
    holder = _holder(tmp_path, backend)
    said: list[str] = []
    started = time.monotonic()
    killer = subprocess.Popen([sys.executable, "-c", f"import os, signal, time; time.sleep(1.5); "
                               f"os.kill({holder.pid}, signal.SIGKILL)"])
    with claims.claim("export 20250622-072114", "waiter", say=said.append):
        waited = time.monotonic() - started
    killer.wait()
    holder.wait()
    assert waited >= 1.0
    assert said == [f"waiting for export 20250622-072114: in use by holder test (pid {holder.pid} on "
                    f"{__import__('socket').gethostname()})"]
