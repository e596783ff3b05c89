"""The export and the CLI do not make CPython's cycle collector rescan every object over and over."""

import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bravo_pipeline.collector import YOUNG_THRESHOLD, cycles_collected_less_often

SMALL_ROWS = 300_000  # what drives the collector is the number of rows (one buffer each), not their bytes

# Counts the collections of each generation from here on; the process loads Dagster first, as a run's does.
COUNT_COLLECTIONS = """
import collections, gc, sys
import dagster
counted = collections.Counter()
gc.callbacks.append(lambda phase, info: phase == "stop" and counted.update([info["generation"]]))
"""

EXPORT = COUNT_COLLECTIONS + """
from pathlib import Path
from bravo_pipeline.source.raw_export import export_raw
result = export_raw(sys.argv[1], "media_tool", Path(sys.argv[2]), "20250622-072114",
                    source={"kind": "live", "dump": None}, workers=2)
print(counted[0], counted[2], result.summary["totalRecords"])
"""

CLI_EXPORT = COUNT_COLLECTIONS + """
from bravo_pipeline.cli import main
code = main(["export", "--no-mongo", "--timestamp", "20250622-072114"])
print(code, counted[0], counted[2], file=sys.stderr)
"""


@pytest.fixture
def default_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_the_raw_export_collects_cycles_in_batches(demo_copy: str, tmp_path: Path) -> None:
    """With CPython's default (every 700 new objects) this export ran 818 young and 7 full collections; now 75 and 1."""
    with psycopg.connect(demo_copy, autocommit=True) as conn:
        conn.execute("CREATE TABLE media_tool.many_small_rows (id int PRIMARY KEY, label text)")
        conn.execute("INSERT INTO media_tool.many_small_rows SELECT i, 'row ' || i FROM generate_series(1, %s) i",
                     [SMALL_ROWS])
    (tmp_path / "raw").mkdir()
    done = subprocess.run([sys.executable, "-c", EXPORT, demo_copy, str(tmp_path / "raw")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    young, full, rows = map(int, done.stdout.split())
    assert rows > SMALL_ROWS
    assert full <= 2, f"{full} full collections during the export"
    assert young < 300, f"{young} young collections during the export"


def test_a_cli_export_collects_cycles_in_batches(pipeline_env: dict[str, str], tmp_path: Path) -> None:
    """Loading the definitions, the instance and the run took 510 young and 4 full collections here; now 54 and 1."""
    done = subprocess.run([sys.executable, "-c", CLI_EXPORT], env=pipeline_env, cwd=tmp_path,
                          capture_output=True, text=True, check=False, timeout=300)
    code, young, full = map(int, done.stderr.strip().splitlines()[-1].split())
    assert code == 0, done.stdout[-2000:]
    assert (tmp_path / "exports" / "raw" / "20250622-072114" / "export-summary.json").exists()
    assert full <= 2, f"{full} full collections in one CLI export"
    assert young < 200, f"{young} young collections in one CLI export"


def test_the_threshold_is_only_ever_raised_and_comes_back(default_thresholds: None) -> None:
    with cycles_collected_less_often():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)
    gc.set_threshold(50_000, 20, 20)  # a process that chose a higher one keeps it
    with cycles_collected_less_often():
        assert gc.get_threshold() == (50_000, 20, 20)
    gc.set_threshold(0)  # a process that turned automatic collection off keeps it off
    with cycles_collected_less_often():
        assert gc.get_threshold()[0] == 0
    gc.set_threshold(700, 10, 10)
    with cycles_collected_less_often():
        gc.set_threshold(2_000, 10, 10)  # changed by someone else meanwhile: theirs stays
    assert gc.get_threshold() == (2_000, 10, 10)


FREEZE_ON_LOAD = """
import gc
from bravo_pipeline.definitions import defs
before = gc.get_freeze_count()
defs()
first = gc.get_freeze_count()
made_since = [[index] for index in range(50_000)]
defs()
print(before, first, gc.get_freeze_count())
"""


def test_what_the_code_location_loads_is_frozen_once_per_process(pipeline_env: dict[str, str]) -> None:
    """Dagster, polars and the definitions live as long as the process: left out of full collections;
    what the process makes after the first load is not."""
    done = subprocess.run([sys.executable, "-c", FREEZE_ON_LOAD], env=pipeline_env, capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    before, first, second = map(int, done.stdout.split())
    assert before == 0
    assert first > 100_000
    assert second - first < 1_000  # not the 50,000 lists made since
