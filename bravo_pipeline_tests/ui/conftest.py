"""One export and a real dagster-webserver on 127.0.0.1 over its instance, for the UI tests."""

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bravo_pipeline_tests.conftest import repo_root

TS = "20250622-072114"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(demo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    import os

    root = tmp_path_factory.mktemp("ui")
    env = {**os.environ, "DAGSTER_HOME": str(root / "dagster_home"), "BRAVO_EXPORTS_DIR": str(root / "exports"),
           "BRAVO_STATE_DIR": str(root / "state"), "BRAVO_SOURCE_URI": demo_uri}
    done = subprocess.run([sys.executable, "-m", "bravo_pipeline.cli", "export", "--timestamp", TS], env=env,
                          cwd=root, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port),
         "-w", str(repo_root() / "workspace.yaml")],
        env=env, cwd=repo_root(), stdout=subprocess.DEVNULL, stderr=(root / "webserver.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError((root / "webserver.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield {"url": url, "exports": Path(env["BRAVO_EXPORTS_DIR"]), "ts": TS}
    finally:
        server.terminate()
        server.wait(timeout=30)


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload["errors"]
    return payload["data"]
