"""Exporting a table much larger than any buffer keeps the process small, and does not fault
in fresh pages for every block it writes."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROWS = 60_000
ROW_TEXT_BYTES = 2_500  # ~150 MB of JSON in all

EXPORT_ONE_TABLE = """
import resource, sys
from pathlib import Path
import psycopg
from bravo_pipeline.source.catalog import read_catalog
from bravo_pipeline.source.raw_export import stream_table
uri, out = sys.argv[1], Path(sys.argv[2])
with psycopg.connect(uri, autocommit=True) as conn:
    [table] = [t for t in read_catalog(conn, "big") if t.name == "wide"]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with conn.cursor() as cursor:
        result = stream_table(cursor, "big", table, out)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(result.count, result.size, before, after)
"""


EXPORT_COUNTING_FAULTS = """
import resource, sys
from pathlib import Path
from bravo_pipeline.source.raw_export import export_raw
uri, out = sys.argv[1], Path(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
result = export_raw(uri, "media_tool", out, "20250622-072114", source={"kind": "live", "dump": None}, workers=2)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, result.summary["totalBytes"])
"""


def _wide_table(uri: str, rows: int, schema: str = "big") -> None:
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(f"CREATE TABLE {schema}.wide (id int PRIMARY KEY, payload text, doc jsonb)")
        conn.execute(
            f"INSERT INTO {schema}.wide SELECT i, repeat(md5(i::text), %s), "
            "jsonb_build_object('i', i, 'tags', jsonb_build_array('a', i)) "
            "FROM generate_series(1, %s) AS i",
            [ROW_TEXT_BYTES // 32, rows],
        )


def test_memory_does_not_grow_with_table_size(fresh_database: str, tmp_path: Path) -> None:
    _wide_table(fresh_database, ROWS)
    out = tmp_path / "wide.json"
    completed = subprocess.run(
        [sys.executable, "-c", EXPORT_ONE_TABLE, fresh_database, str(out)],
        capture_output=True, text=True, check=True,
    )
    count, size, rss_before_kb, rss_after_kb = map(int, completed.stdout.split())
    assert count == ROWS
    assert size == out.stat().st_size > 140_000_000
    growth_mb = (rss_after_kb - rss_before_kb) / 1024
    assert growth_mb < 40, f"exporting {size / 1e6:.0f} MB grew the process by {growth_mb:.0f} MB"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator settings are glibc's")
def test_blocks_reuse_freed_memory_unless_the_user_set_malloc_themselves(demo_copy: str, tmp_path: Path) -> None:
    """Each ~1 MB block used to get fresh pages: two page faults per 4 KiB exported."""
    _wide_table(demo_copy, ROWS // 2, schema="media_tool")

    def faults_per_page(name: str, **env: str) -> float:
        out = tmp_path / name
        out.mkdir()
        completed = subprocess.run(
            [sys.executable, "-c", EXPORT_COUNTING_FAULTS, demo_copy, str(out)],
            capture_output=True, text=True, check=False, env={**os.environ, **env},
        )
        assert completed.returncode == 0, completed.stderr[-2000:]
        faults, size = map(int, completed.stdout.split())
        return faults / (size / 4096)

    assert faults_per_page("tuned") < 0.2
    assert faults_per_page("users_variable", MALLOC_MMAP_THRESHOLD_=str(128 << 10)) > 0.5
    assert faults_per_page("users_tunable", GLIBC_TUNABLES=f"glibc.malloc.mmap_threshold={128 << 10}") > 0.5
