"""The code location as Dagster loads it (the UI, the daemon, each run worker): quietly, every time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LOAD = """
import warnings
warnings.simplefilter("always")
import bravo_pipeline.definitions as definitions
loaded = definitions.defs()
for name in ("export_job", "transform_job", "promote_job", "cleanup_job"):
    loaded.resolve_job_def(name)
print(sorted(job.name for job in loaded.resolve_all_job_defs()))
"""


def test_loading_the_code_location_prints_no_warning(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path / "dagster_home"),
           "BRAVO_STATE_DIR": str(tmp_path / "state"), "BRAVO_EXPORTS_DIR": str(tmp_path / "exports")}
    (tmp_path / "dagster_home").mkdir()
    done = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "export_job" in done.stdout and "cleanup_job" in done.stdout
    assert done.stderr == ""
