"""The embedded server: one per state folder, shared by concurrent commands, stopped cleanly."""

import subprocess
import sys
from pathlib import Path

import psycopg

from bravo_pipeline.source.embedded_server import EmbeddedPostgres


def _cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bravo_pipeline.cli", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_two_commands_starting_at_once_share_one_server(
    tmp_path: Path, pipeline_env: dict[str, str]
) -> None:
    state = tmp_path / "state"
    env = {**pipeline_env, "BRAVO_STATE_DIR": str(state)}
    first, second = _cli(env, "server", "start"), _cli(env, "server", "start")
    outputs = [process.communicate(timeout=120)[0].strip() for process in (first, second)]
    assert first.returncode == second.returncode == 0
    assert outputs[0] == outputs[1] and outputs[0].startswith("embedded PostgreSQL running on 127.0.0.1:")

    server = EmbeddedPostgres(state / "postgres")
    status = server.status()
    assert status.running and f":{status.port}" in outputs[0]
    postmasters = subprocess.run(
        ["pgrep", "-f", f"postgres -D {state / 'postgres' / 'data'}"],
        capture_output=True, text=True, check=False,
    ).stdout.split()
    assert len(postmasters) == 1
    with psycopg.connect(server.uri(), autocommit=True) as conn:
        listen = conn.execute("SHOW listen_addresses").fetchone()[0]
        assert listen == "127.0.0.1"

    stop = _cli(env, "server", "stop")
    assert stop.communicate(timeout=120)[0].strip() == "embedded PostgreSQL stopped"
    assert not server.status().running
    assert not (state / "postgres" / "data" / "postmaster.pid").exists()
    # reused after a stop: same data folder, started again on demand
    assert server.ensure_running() > 0
    server.stop()
