"""IO managers: where each stage's files go under `exports/<stage>/<ts>/`.

A stage asset writes into the staging folder the IO manager hands out
(`begin`), and returns a `StagedFolder`; handling that output publishes the
folder atomically. Downstream assets receive their inputs from `load_input`,
never building paths themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dagster import ConfigurableIOManager, InputContext, OutputContext

from bravo_pipeline.archive.shared_store import SharedRoot, pull_stage, push_stage, shared_timestamps
from bravo_pipeline.layout import ExportsLayout, Stage
from bravo_pipeline.names import CAMPAIGNS_FILE, EXPORT_SUMMARY_FILE
from bravo_pipeline.resources import ArchiveResource


@dataclass(frozen=True)
class StagedFolder:
    """A stage folder written under its staging name, ready to publish."""

    path: Path
    stage: Stage
    ts: str
    replace: bool


@dataclass(frozen=True)
class StageFile:
    """One published file of a stage, as handed to downstream assets."""

    path: Path
    stage: Stage
    ts: str


# What a downstream asset is handed: the raw summary (its folder is the raw export) and campaigns.json.
# The raw tables are deps: they are published with the summary's folder and read from it.
_INPUT_FILES: dict[tuple[str, str], str] = {("raw", "export_summary"): EXPORT_SUMMARY_FILE,
                                            ("transformed", "campaigns"): CAMPAIGNS_FILE}


def _stage_and_name(key_path: list[str]) -> tuple[Stage, str]:
    stage, name = key_path[0], key_path[-1]
    if stage not in ("raw", "transformed"):
        raise ValueError(f"asset {'/'.join(key_path)} is not stored under exports/")
    return stage, name  # type: ignore[return-value]


class ExportsIOManager(ConfigurableIOManager):
    """The exports root (`BRAVO_EXPORTS_DIR`); with a bucket, published stages are mirrored to S3."""

    exports_dir: str
    archive: ArchiveResource
    shared_root: str | None = None  # s3://bucket/prefix: the exports root shared by every host (BRAVO_SHARED_ROOT)

    @property
    def layout(self) -> ExportsLayout:
        return ExportsLayout(Path(self.exports_dir))

    def begin(self, stage: Stage, ts: str) -> Path:
        return self.layout.begin_staging(stage, ts)

    def abandon(self, staging: Path) -> None:
        self.layout.abandon(staging)

    def pull(self, stage: Stage, ts: str) -> bool:
        """Whether the stage is complete on this host, pulled from the shared root first when needed."""
        if self.shared_root and not self.layout.is_complete(stage, ts):
            pull_stage(self.archive.client(), SharedRoot.parse(self.shared_root), self.layout, stage, ts)
        return self.layout.is_complete(stage, ts)

    def local_stage(self, stage: Stage, ts: str) -> Path:
        """A complete stage folder on this host: pulled from the shared root first when needed."""
        self.pull(stage, ts)
        return self.layout.require_complete(stage, ts)

    def previous_export(self, ts: str) -> str | None:
        """The newest complete raw export older than `ts`, on this host or in the shared root
        (open it with `local_stage`, which pulls it)."""
        shared = (shared_timestamps(self.archive.client(), SharedRoot.parse(self.shared_root), "raw")
                  if self.shared_root else ())
        return self.layout.previous_export(ts, shared)

    def handle_output(self, context: OutputContext, obj: object) -> None:
        if isinstance(obj, StagedFolder):
            published = self.layout.publish(obj.path, obj.stage, obj.ts, replace=obj.replace)
            context.log.info(f"published {published}")
            if self.shared_root:
                pushed = push_stage(self.archive.client(), SharedRoot.parse(self.shared_root), self.layout,
                                    obj.stage, obj.ts)
                context.log.info(f"pushed {pushed} files to {self.shared_root}/{obj.stage}/{obj.ts}/")
            if self.archive.enabled:
                archived = self.archive.mirror_stage(self.layout, obj.stage, obj.ts)
                context.log.info(f"archived to s3://{self.archive.bucket}/{archived.key}")
        elif obj is not None:
            raise TypeError(f"{context.asset_key.to_user_string()}: unexpected output {type(obj)}")

    def load_input(self, context: InputContext) -> StageFile:
        stage, name = _stage_and_name(list(context.asset_key.path))
        ts = context.asset_partition_key
        folder = self.local_stage(stage, ts)
        filename = _INPUT_FILES.get((stage, name))
        if filename is None:
            raise ValueError(f"asset {context.asset_key.to_user_string()} is not loaded as an input")
        path = folder / filename
        if not path.is_file():
            raise FileNotFoundError(f"{stage} export {ts} has no file {filename}")
        return StageFile(path, stage, ts)
