"""The benchmark runs end to end at a tiny scale, so the script cannot rot (no time is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

from .conftest import repo_root

STAGES = {"limit", "export", "export_1_worker", "transform", "load", "archive", "archive_zlib9", "checks", "compare",
          "cli_export", "ui_export", "naive", "limit_one_table", "export_one_table", "cli_export_upload"}


def test_bench_at_a_tiny_scale(admin_uri: str, tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(repo_root() / "bench" / "run.py"), "--scale", "0.01", "--admin-uri", admin_uri,
         "--output", str(output)],
        capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "raw export <= 1.3 x limit" in done.stdout and "naive / ours" in done.stdout
    assert "UI-launched export <= 1.5 x bravo-pipeline export" in done.stdout
    assert "archive >= 5 x faster than zlib level 9" in done.stdout
    assert "bravo-pipeline export <= 2 x limit" in done.stdout and "compare of two exports <= 1 x limit" in done.stdout
    assert "MongoDB load (embedded) <= 3 x BSON-encoding its documents" in done.stdout
    assert "raw export of one table holding every byte, two workers, <= 0.75 x its limit" in done.stdout
    results = json.loads(output.read_text())
    [result] = results["results"]
    assert set(result["stages"]) == STAGES
    rows = result["rows"]
    assert "bravo-pipeline export --upload (moto S3 server) <= 3 x limit" in done.stdout
    for name in ("limit", "export", "naive", "cli_export", "ui_export", "cli_export_upload"):
        assert result["stages"][name]["rows"] == rows, name
    assert len(result["stages"]["cli_export_upload"]["archives"]) == 2  # raw and transformed tarballs
    assert len(result["stages"]["limit"]["rounds"]) == 3  # the fastest of three rounds counts
    one_table = result["stages"]["export_one_table"]["rows"]
    assert 0 < one_table < rows and result["stages"]["limit_one_table"]["rows"] == one_table
    assert result["stages"]["checks"]["failed"] == []
    assert result["stages"]["compare"]["changed"] == 1  # one row of the biggest table changed
