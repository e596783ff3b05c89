"""The IO manager: publishing what a stage asset wrote under `exports/<stage>/<ts>/`.

A stage asset writes into the staging folder `ExportsResource.begin` hands out
and returns a `StagedFolder`; handling that output publishes the folder
atomically. Downstream assets receive their inputs from `load_input`, never
building paths themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dagster import ConfigurableIOManager, InputContext, OutputContext

from bravo_pipeline.layout import Stage
from bravo_pipeline.names import CAMPAIGNS_FILE, EXPORT_SUMMARY_FILE
from bravo_pipeline.resources import ExportsResource


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
    """Publishes the stage folder an asset returns (`ExportsResource.publish`), and hands a downstream
    asset the file it reads; its only job. Everything else about the folders is `exports`'."""

    exports: ExportsResource

    def handle_output(self, context: OutputContext, obj: object) -> None:
        if isinstance(obj, StagedFolder):
            for line in self.exports.publish(obj.path, obj.stage, obj.ts, replace=obj.replace):
                context.log.info(line)
        elif obj is not None:
            raise TypeError(f"{context.asset_key.to_user_string()}: unexpected output {type(obj)}")

    def load_input(self, context: InputContext) -> StageFile:
        stage, name = _stage_and_name(list(context.asset_key.path))
        ts = context.asset_partition_key
        folder = self.exports.local_stage(stage, ts)
        filename = _INPUT_FILES.get((stage, name))
        if filename is None:
            raise ValueError(f"asset {context.asset_key.to_user_string()} is not loaded as an input")
        path = folder / filename
        if not path.is_file():
            raise FileNotFoundError(f"{stage} export {ts} has no file {filename}")
        return StageFile(path, stage, ts)
