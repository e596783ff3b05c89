"""The code location as Dagster loads it (the UI, the daemon, each run worker): quietly, every time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LOAD = """
import sys, warnings
from pathlib import Path
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import bravo_pipeline.definitions as definitions
    loaded = definitions.defs()
    jobs = sorted(loaded.resolve_job_def(name).name
                  for name in ("export_job", "transform_job", "promote_job", "cleanup_job"))
package = Path(definitions.__file__).parent
for warning in caught:  # those our code causes (Dagster points them at the calling line)
    if Path(warning.filename).is_relative_to(package):
        print(f"{warning.filename}:{warning.lineno}: {warning.message}", file=sys.stderr)
print(jobs)
"""


def test_loading_the_code_location_prints_no_warning(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path / "dagster_home"),
           "BRAVO_STATE_DIR": str(tmp_path / "state"), "BRAVO_EXPORTS_DIR": str(tmp_path / "exports")}
    (tmp_path / "dagster_home").mkdir()
    done = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "export_job" in done.stdout and "cleanup_job" in done.stdout
    assert done.stderr == ""
