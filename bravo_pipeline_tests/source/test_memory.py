"""Exporting a table much larger than any buffer keeps the process small."""

import subprocess
import sys
from pathlib import Path

import psycopg

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


def test_memory_does_not_grow_with_table_size(fresh_database: str, tmp_path: Path) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA big")
        conn.execute("CREATE TABLE big.wide (id int PRIMARY KEY, payload text, doc jsonb)")
        conn.execute(
            "INSERT INTO big.wide SELECT i, repeat(md5(i::text), %s), "
            "jsonb_build_object('i', i, 'tags', jsonb_build_array('a', i)) "
            "FROM generate_series(1, %s) AS i",
            [ROW_TEXT_BYTES // 32, ROWS],
        )
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
