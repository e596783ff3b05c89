"""`make export` with nothing configured: embedded server, demo database, export; reused next time."""

import json
import subprocess
import sys
from pathlib import Path

from bravo_pipeline.source.embedded_server import EmbeddedPostgres


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bravo_pipeline.cli", *args],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def test_export_with_nothing_configured_builds_the_demo_once(
    tmp_path: Path, pipeline_env: dict[str, str]
) -> None:
    env = {k: v for k, v in pipeline_env.items() if k != "BRAVO_SOURCE_URI"}
    try:
        first = _cli(env, "export", "--timestamp", "20250101-000000")
        assert first.returncode == 0, first.stderr
        assert "building the demo database media_tool at scale 0.1" in first.stdout
        assert "export 20250101-000000 from embedded demo server" in first.stdout

        second = _cli(env, "export", "--timestamp", "20250101-000001")
        assert second.returncode == 0, second.stderr
        assert "building the demo database" not in second.stdout

        summary = json.loads(
            (tmp_path / "exports" / "raw" / "20250101-000001" / "export-summary.json").read_text()
        )
        assert summary["source"]["kind"] == "demo"
        assert summary["tables"]["campaigns"]["count"] == 1342  # 13,417 × 0.1
        assert summary["tables"]["channels"]["count"] == 7  # lookup tables keep their size
    finally:
        EmbeddedPostgres(tmp_path / "state" / "postgres").stop()
