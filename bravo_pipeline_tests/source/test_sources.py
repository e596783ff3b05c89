"""Real sources: a live server we do not own, and dumps restored into media_tool_<ts>."""

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from dagster import AssetKey, DagsterInstance

from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.source.dump_restore import (
    DumpError,
    restore_dump,
    restored_dump_label,
    run_pg_dump,
    stage_dump_file,
)
from bravo_pipeline.source.embedded_server import client_bin_dir
from bravo_pipeline.source.raw_export import export_raw
from bravo_pipeline.uris import with_database

TS = "20250622-072114"


def _export(uri: str, folder: Path, workers: int = 1) -> dict[str, bytes]:
    folder.mkdir(parents=True)
    export_raw(uri, "media_tool", folder, TS, source={"kind": "live", "dump": None}, workers=workers)
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name.endswith(".json")}


def _tables_only(files: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in files.items() if name not in ("export-summary.json", "schema.json")}


@pytest.fixture(scope="module")
def reference(demo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return _export(demo_uri, tmp_path_factory.mktemp("reference") / "raw")


def _pg_dump(demo_uri: str, out: Path, fmt: str) -> Path:
    subprocess.run(
        [str(client_bin_dir() / "pg_dump"), f"--format={fmt}", "--no-owner", "--no-privileges",
         f"--file={out}", f"--dbname={demo_uri}"],
        check=True, capture_output=True,
    )
    return out


@pytest.fixture
def cleanup_database(admin_uri: str):
    names: list[str] = []
    yield names.append
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("fmt", ["plain", "plain-gzip", "custom", "directory"])
def test_every_dump_format_restores_to_identical_exports(
    fmt: str, demo_uri: str, admin_uri: str, tmp_path: Path, reference, cleanup_database
) -> None:
    if fmt == "plain-gzip":
        plain = _pg_dump(demo_uri, tmp_path / "dump.sql", "plain")
        source = tmp_path / "dump.sql.gz"
        with plain.open("rb") as raw, gzip.open(source, "wb") as packed:
            shutil.copyfileobj(raw, packed)
    else:
        source = _pg_dump(demo_uri, tmp_path / f"dump.{fmt}", fmt)
    temp = tmp_path / "exports" / "temp"
    staged = stage_dump_file(source, temp, TS)
    expected_ext = {"plain": "sql", "plain-gzip": "sql", "custom": "dump", "directory": "dir"}[fmt]
    assert staged.path == temp / f"prod_dump_{TS}.{expected_ext}"

    database = f"media_tool_{TS}_{fmt.replace('-', '_')}"
    cleanup_database(database)
    restored = restore_dump(admin_uri, staged, database)
    assert restored.tables == 27
    assert not staged.path.exists()  # removed after a successful restore
    assert restored_dump_label(restored.uri) == f"temp/{staged.path.name}"
    assert _tables_only(_export(restored.uri, tmp_path / "raw")) == _tables_only(reference)


def test_pg_dump_of_the_source_then_restore_keeping_the_dump(
    demo_uri: str, admin_uri: str, tmp_path: Path, reference, cleanup_database
) -> None:
    staged = run_pg_dump(demo_uri, "media_tool", tmp_path / "temp", TS)
    assert staged.format == "custom" and staged.path.name == f"prod_dump_{TS}.dump"
    cleanup_database("media_tool_kept")
    restored = restore_dump(admin_uri, staged, "media_tool_kept", keep_dump=True)
    assert staged.path.exists()
    assert _tables_only(_export(restored.uri, tmp_path / "raw")) == _tables_only(reference)


NEEDS_OUTSIDE_THE_SCHEMA = [
    "CREATE EXTENSION vector SCHEMA media_tool",  # an extension inside the schema: --schema leaves it out
    "CREATE EXTENSION citext",
    "CREATE SCHEMA shared",
    "CREATE TYPE shared.tier AS ENUM ('gold', 'silver')",
    "CREATE FUNCTION shared.next_code() RETURNS text LANGUAGE sql AS $$ SELECT 'C-' || 1 $$",
    "CREATE TABLE shared.unrelated (id int PRIMARY KEY, secret text)",
    "INSERT INTO shared.unrelated VALUES (1, 'not part of the export')",
    "CREATE DOMAIN media_tool.label AS citext CHECK (VALUE <> '')",
    """CREATE TABLE media_tool.embedded_things (id int PRIMARY KEY, e media_tool.vector(2), t shared.tier,
       l media_tool.label, code text DEFAULT shared.next_code())""",
    "INSERT INTO media_tool.embedded_things VALUES (1, '[0.5,1]', 'gold', 'Ünïcode', DEFAULT), "
    "(2, NULL, NULL, NULL, NULL)",
]


def test_the_pipelines_own_dump_carries_what_the_tables_need(
    admin_uri: str, tmp_path: Path, cleanup_database
) -> None:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS needs_outside WITH (FORCE)")
        conn.execute("CREATE DATABASE needs_outside TEMPLATE media_tool_demo")
    cleanup_database("needs_outside")
    source_uri = with_database(admin_uri, "needs_outside")
    with psycopg.connect(source_uri, autocommit=True) as conn:
        for statement in NEEDS_OUTSIDE_THE_SCHEMA:
            conn.execute(statement)
    live = _export(source_uri, tmp_path / "live")
    staged = run_pg_dump(source_uri, "media_tool", tmp_path / "temp", TS)
    cleanup_database("needs_outside_restored")
    restored = restore_dump(admin_uri, staged, "needs_outside_restored")
    again = _export(restored.uri, tmp_path / "again")
    assert _tables_only(again) == _tables_only(live)
    assert json.loads(live["embedded_things.json"])[0]["code"] == "C-1"
    schema_live, schema_again = json.loads(live["schema.json"]), json.loads(again["schema.json"])
    assert schema_again["tables"] == schema_live["tables"] and schema_again["types"] == schema_live["types"]
    assert {entry["name"] for entry in schema_live["types"]} == {
        "citext", "media_tool.label", "media_tool.vector", "shared.tier"}
    with psycopg.connect(restored.uri, autocommit=True) as conn:  # the other schema's rows stay behind
        assert conn.execute("SELECT count(*) FROM shared.unrelated").fetchone()[0] == 0


@pytest.mark.parametrize("owners", [True, False], ids=["with-owners-and-grants", "no-owner-with-grants"])
def test_a_plain_dump_with_ownership_and_privileges_restores_without_those_roles(
    owners: bool, admin_uri: str, tmp_path: Path, reference, cleanup_database
) -> None:
    """A dump made the way servers usually are, by roles the target server does not have."""
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS owned_source WITH (FORCE)")
        conn.execute("CREATE DATABASE owned_source TEMPLATE media_tool_demo")
        for role in ("app_owner", "reporting_ro"):
            conn.execute(f"DROP ROLE IF EXISTS {role}")
            conn.execute(f"CREATE ROLE {role}")
    cleanup_database("owned_source")
    source_uri = with_database(admin_uri, "owned_source")
    with psycopg.connect(source_uri, autocommit=True) as conn:
        conn.execute("ALTER SCHEMA media_tool OWNER TO app_owner")
        for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'media_tool'").fetchall():
            conn.execute(f"ALTER TABLE media_tool.{table} OWNER TO app_owner")
        conn.execute("GRANT USAGE ON SCHEMA media_tool TO reporting_ro")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA media_tool TO reporting_ro")
        conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        conn.execute("ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA media_tool GRANT SELECT ON TABLES "
                     "TO reporting_ro")
    dump = tmp_path / "owned.sql"
    subprocess.run([str(client_bin_dir() / "pg_dump"), "--format=plain", *([] if owners else ["--no-owner"]),
                    f"--file={dump}", f"--dbname={source_uri}"], check=True, capture_output=True)
    text = dump.read_text()
    assert ("OWNER TO app_owner" in text) == owners and "GRANT SELECT ON TABLE media_tool.campaigns" in text
    with psycopg.connect(admin_uri, autocommit=True) as conn:  # the target server has neither role
        conn.execute("DROP DATABASE owned_source WITH (FORCE)")
        for role in ("app_owner", "reporting_ro"):
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
    database = f"media_tool_{TS}_owned"
    cleanup_database(database)
    restored = restore_dump(admin_uri, stage_dump_file(dump, tmp_path / "temp", TS), database)
    assert restored.tables == 27
    assert _tables_only(_export(restored.uri, tmp_path / "raw")) == _tables_only(reference)


def test_a_failed_restore_drops_the_database_and_the_temp_dump(
    demo_uri: str, admin_uri: str, tmp_path: Path
) -> None:
    dump = _pg_dump(demo_uri, tmp_path / "dump.sql", "plain")
    with dump.open("a") as handle:
        handle.write("\nSELEC broken statement;\n")
    staged = stage_dump_file(dump, tmp_path / "temp", TS)
    with pytest.raises(DumpError) as raised:
        restore_dump(admin_uri, staged, "media_tool_broken")
    message = str(raised.value)
    assert message.startswith("restore failed (psql):") and 'syntax error at or near "SELEC"' in message
    assert "\n" not in message
    assert not staged.path.exists()
    with psycopg.connect(admin_uri) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'media_tool_broken'").fetchone()
    assert found is None

    with pytest.raises(DumpError, match="is a folder but not a pg_dump directory dump"):
        stage_dump_file(tmp_path, tmp_path / "temp", TS)
    with pytest.raises(DumpError, match="does not exist"):
        stage_dump_file(tmp_path / "missing.sql", tmp_path / "temp", TS)


def test_live_export_as_a_read_only_role_with_parallel_workers(
    admin_uri: str, demo_uri: str, tmp_path: Path, reference
) -> None:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS reporting")
        conn.execute("CREATE ROLE reporting LOGIN PASSWORD 'r3ad-only' NOSUPERUSER")
    with psycopg.connect(demo_uri, autocommit=True) as conn:
        conn.execute("GRANT USAGE ON SCHEMA media_tool TO reporting")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA media_tool TO reporting")
    uri = demo_uri.replace("postgres@", "reporting:r3ad-only@")
    try:
        files = _export(uri, tmp_path / "raw", workers=3)
        assert _tables_only(files) == _tables_only(reference)
        summary = json.loads(files["export-summary.json"])
        assert "r3ad-only" not in files["export-summary.json"].decode()
        assert "reporting" not in summary["host"]
    finally:
        with psycopg.connect(demo_uri, autocommit=True) as conn:
            conn.execute("REVOKE ALL ON ALL TABLES IN SCHEMA media_tool FROM reporting")
            conn.execute("REVOKE USAGE ON SCHEMA media_tool FROM reporting")
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            conn.execute("DROP ROLE reporting")


def test_cli_dump_export_records_the_restored_database(
    pipeline_env: dict[str, str], demo_uri: str, tmp_path: Path, reference, cleanup_database
) -> None:
    dump = _pg_dump(demo_uri, tmp_path / "prod.dump", "custom")
    env = {k: v for k, v in pipeline_env.items() if k != "BRAVO_SOURCE_URI"}
    env["BRAVO_POSTGRES_URI"] = with_database(demo_uri, "postgres")
    cleanup_database(f"media_tool_{TS}")
    done = subprocess.run(
        [sys.executable, "-m", "bravo_pipeline.cli", "export", "--timestamp", TS, "--source", "dump",
         "--dump", str(dump), "--no-mongo"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    layout = ExportsLayout(Path(env["BRAVO_EXPORTS_DIR"]))
    summary = json.loads(layout.summary_path("raw", TS).read_text())
    assert summary["source"] == {"kind": "dump", "dump": f"temp/prod_dump_{TS}.dump"}
    assert summary["database"] == f"media_tool_{TS}"
    assert list((layout.root / "temp").iterdir()) == []
    raw = {p.name: p.read_bytes() for p in layout.stage_dir("raw", TS).iterdir()}
    assert _tables_only(raw) == _tables_only(reference)

    import os

    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    with DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(AssetKey(["source", "media_tool_db"]))
        metadata = event.asset_materialization.metadata
        assert event.asset_materialization.partition == TS
        assert metadata["database"].value == f"media_tool_{TS}"
        assert metadata["dump_format"].value == "custom" and metadata["tables"].value == 27
        assert metadata["dump_bytes"].value == dump.stat().st_size
