"""Retention: durations, the cleanup plan, and crash-safe deletion of one export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.retention.plan import (
    Artifact,
    delete_local,
    local_artifacts,
    parse_duration,
    plan_cleanup,
)

NOW = datetime(2025, 6, 30, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("2w", timedelta(weeks=2)),
        (" 1d ", timedelta(days=1)),
        ("0d", timedelta(0)),
    ],
)
def test_parse_duration_accepts_number_and_unit(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "7 d", "7days", "1.5d", "-1d", "7D", "7s", "7d12h"])
def test_parse_duration_rejects_anything_else(text: str) -> None:
    message = f"invalid duration {text!r}: use a number followed by d, h, m or w, e.g. 7d or 12h"
    with pytest.raises(ValueError) as error:
        parse_duration(text)
    assert str(error.value) == message


# ---------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------

TIMESTAMPS = [
    "20250601-000000",  # 29 days old
    "20250610-000000",  # promoted
    "20250615-000000",
    "20250620-000000",
    "20250625-000000",  # within 7d
    "20250629-000000",  # newest
]


def test_plan_keeps_newest_promoted_keep_n_and_young() -> None:
    plan = plan_cleanup(
        TIMESTAMPS, now=NOW, older_than=timedelta(days=7), keep=3, protected={"20250610-000000"}
    )
    assert plan.delete == ["20250601-000000", "20250615-000000"]
    assert plan.kept == {
        "20250629-000000": "newest",
        "20250625-000000": "within --keep 3",
        "20250620-000000": "within --keep 3",
        "20250610-000000": "promoted",
    }


def test_plan_age_reason_and_keep_zero() -> None:
    plan = plan_cleanup(TIMESTAMPS, now=NOW, older_than=timedelta(days=7), keep=0, protected=set())
    assert plan.kept == {"20250629-000000": "newest", "20250625-000000": "younger than 7d"}
    assert plan.delete == TIMESTAMPS[:4]


def test_plan_never_deletes_the_only_or_newest_export() -> None:
    only = plan_cleanup(["20200101-000000"], now=NOW, older_than=timedelta(0), keep=0, protected=set())
    assert only.delete == [] and only.kept == {"20200101-000000": "newest"}
    empty = plan_cleanup([], now=NOW, older_than=timedelta(days=1), keep=0, protected=set())
    assert empty.delete == [] and empty.kept == {}


def test_plan_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="--keep"):
        plan_cleanup(TIMESTAMPS, now=NOW, older_than=timedelta(days=1), keep=-1, protected=set())
    with pytest.raises(ValueError, match="invalid export timestamp"):
        plan_cleanup(["../x"], now=NOW, older_than=timedelta(days=1), keep=0, protected=set())


# ---------------------------------------------------------------------------
# Local artifacts and deletion
# ---------------------------------------------------------------------------

TS1, TS2 = "20250601-000000", "20250602-000000"


def _make_export(root: Path, ts: str) -> None:
    raw = root / "raw" / ts
    raw.mkdir(parents=True)
    for table in ("accounts", "campaigns", "users"):
        (raw / f"{table}.json").write_text("[]\n")
    (raw / "schema.json").write_text("{}")
    (raw / "export-summary.json").write_text("{}")
    transformed = root / "transformed" / ts
    transformed.mkdir(parents=True)
    (transformed / "campaigns.json").write_text("[]\n")
    (transformed / "transformation-summary.json").write_text("{}")
    (root / "logs").mkdir(exist_ok=True)
    (root / "logs" / f"pipeline_{ts}.log").write_text("a log line\n")
    (root / "temp").mkdir(exist_ok=True)
    (root / "temp" / f"prod_dump_{ts}.sql").write_text("-- dump\n")


@pytest.fixture
def layout(tmp_path: Path) -> ExportsLayout:
    _make_export(tmp_path, TS1)
    _make_export(tmp_path, TS2)
    reports = tmp_path / "comparison-reports"
    reports.mkdir()
    (reports / f"compare-{TS1}-vs-{TS2}.html").write_text("<html></html>")
    (reports / f"compare-{TS2}-vs-20250603-000000.json").write_text("{}")
    return ExportsLayout(tmp_path)


def _all_files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def test_local_artifacts_lists_everything_of_one_export(layout: ExportsLayout) -> None:
    root = layout.root
    artifacts = local_artifacts(layout, TS1)
    assert [(a.kind, a.path) for a in artifacts] == [
        ("raw", root / "raw" / TS1),
        ("transformed", root / "transformed" / TS1),
        ("log", root / "logs" / f"pipeline_{TS1}.log"),
        ("temp", root / "temp" / f"prod_dump_{TS1}.sql"),
        ("report", root / "comparison-reports" / f"compare-{TS1}-vs-{TS2}.html"),
    ]
    raw = next(a for a in artifacts if a.kind == "raw")
    assert raw.size_bytes == 3 * len("[]\n") + 2 * len("{}")
    assert local_artifacts(layout, "20250101-000000") == []


def test_delete_local_removes_one_export_and_leaves_the_others(layout: ExportsLayout) -> None:
    root = layout.root
    before = _all_files(root)
    deleted = delete_local(layout, TS1)
    assert {a.kind for a in deleted} == {"raw", "transformed", "log", "temp", "report"}
    assert [a.kind for a in deleted] == ["report", "temp", "log", "transformed", "raw"]
    assert layout.timestamps("raw") == [TS2] and layout.timestamps("transformed") == [TS2]
    assert not (root / "raw" / TS1).exists() and not (root / "transformed" / TS1).exists()
    remaining = _all_files(root)
    assert remaining == {name for name in before if TS1 not in name}
    assert f"comparison-reports/compare-{TS2}-vs-20250603-000000.json" in remaining
    assert delete_local(layout, TS1) == []


def test_a_stage_leaves_the_published_names_before_any_file_is_removed(
    layout: ExportsLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    seen: list[tuple[str, list[str]]] = []
    real_rmtree = shutil.rmtree

    def crash(path: Path, *args: object, **kwargs: object) -> None:  # the process dies mid-removal
        seen.append((Path(path).name, layout.timestamps("raw")))
        raise OSError("simulated crash")

    monkeypatch.setattr(shutil, "rmtree", crash)
    with pytest.raises(OSError, match="simulated crash"):
        delete_local(layout, TS1)
    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    assert seen and seen[0][0].startswith(f".{TS1}.deleting-")  # renamed first, whole
    assert TS1 not in layout.timestamps("transformed")
    hidden = [p.name for p in (layout.root / "transformed").iterdir() if p.name.startswith(".")]
    assert hidden and all(".deleting-" in name for name in hidden)
    layout.sweep("transformed")
    assert [p.name for p in (layout.root / "transformed").iterdir()] == [TS2]
    second = delete_local(layout, TS1)
    assert [a.kind for a in second] == ["raw"]
    assert layout.timestamps("raw") == [TS2] and not (layout.root / "raw" / TS1).exists()


def test_artifact_is_a_plain_record() -> None:
    artifact = Artifact("log", Path("logs/pipeline_20250601-000000.log"), 10)
    assert (artifact.kind, artifact.size_bytes) == ("log", 10)
