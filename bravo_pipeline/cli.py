"""`bravo-pipeline`: the command line. Materializing commands launch Dagster runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bravo_pipeline.collector import cycles_collected_less_often
from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.names import dump_database_name, printable, version_database
from bravo_pipeline.settings import DEFAULT_DATABASE, Settings
from bravo_pipeline.timestamps import new_timestamp, validate_timestamp
from bravo_pipeline.uris import redact_uri, scrub


class CommandError(Exception):
    """A failure to report as one line on stderr, exit status 1."""


def _say(message: str) -> None:
    print(message, flush=True)


def _progress(line: str) -> None:
    """A line of the run's log as it happens: `  raw_export: exported campaigns: ...`."""
    _say(f"  {line}")


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _embedded_admin_uri(settings: Settings) -> str:
    from bravo_pipeline.source.embedded_server import EmbeddedPostgres

    return EmbeddedPostgres.in_state_dir(settings.state_dir).uri("postgres")


def _ensure_demo_database(settings: Settings, scale: float | None = None) -> None:
    from bravo_pipeline.demo_database import build_demo_database, demo_database_scale

    admin = _embedded_admin_uri(settings)
    existing = demo_database_scale(admin, DEFAULT_DATABASE)
    if existing is not None and scale is None:
        return
    target = scale if scale is not None else 0.1
    _say(f"building the demo database {DEFAULT_DATABASE} at scale {target} ...")
    demo = build_demo_database(admin, scale=target, progress=lambda line: _say(f"  {line}"))
    _say(f"demo database ready: {sum(demo.row_counts.values())} rows in {demo.seconds:.1f}s")


# -- commands -------------------------------------------------------------------


def _print_checks(checks: list) -> None:
    if checks:
        _say("checks:")
        for check in checks:
            _say(f"  {check}")


def _version_config(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"mongodb__version": {"purpose": args.purpose, "notes": args.notes}}


def _mongodb_line(settings: Settings, ts: str) -> str:

    target = redact_uri(settings.mongodb_uri) if settings.mongodb_uri else "the embedded store"
    return f"{version_database(ts)} on {target}"


def _export_plan(args: argparse.Namespace, settings: Settings) -> tuple[str, str, dict]:
    """The source kind, a description of it, and the op config of the run."""
    from bravo_pipeline.source.kinds import choose_kind

    kind = choose_kind(args.source or "", dump=args.dump or "", source_uri=settings.source_uri)
    config: dict[str, dict[str, object]] = {"raw_export": {"source": kind}}
    if kind == "dump":
        dump = args.dump or ""
        if dump and not dump.startswith("s3://"):
            dump = str(Path(dump).resolve())
            if not Path(dump).exists():
                raise CommandError(f"dump {args.dump} does not exist")
        config["raw_export"].update({"dump": dump, "keep_dump": args.keep_dump})
        pg_dump = f"pg_dump of {redact_uri(settings.source_uri or '')}"
        described = f"dump {args.dump}" if args.dump else pg_dump
    elif kind == "live":
        described = redact_uri(settings.source_uri or "")
    else:
        _ensure_demo_database(settings)
        described = "embedded demo server"
    return kind, described, config


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from bravo_pipeline.claims import ClaimBusy, claim, export_claim
    from bravo_pipeline.definitions import EXPORT_JOB, export_selection
    from bravo_pipeline.partitions import discard_if_unexported, runs_in_flight
    from bravo_pipeline.runner import instance, launch, mark_dead_runs

    ts = validate_timestamp(args.timestamp) if args.timestamp is not None else new_timestamp()
    layout = ExportsLayout(settings.exports_dir)
    layout.check_absent("raw", ts)
    _, described, op_config = _export_plan(args, settings)
    if not args.no_mongo:
        op_config.update(_version_config(args))
    if args.upload and not settings.s3_bucket:
        raise CommandError("--upload needs BRAVO_S3_BUCKET (the bucket to archive to)")
    with instance() as dagster_instance:
        mark_dead_runs(dagster_instance)

        @contextmanager
        def only_export_of_ts() -> Iterator[None]:  # held until the run is submitted (a local run: to its end)
            with claim(export_claim(ts), f"export {ts}", wait=False):
                running = runs_in_flight(dagster_instance, ts, job_names=[EXPORT_JOB])
                if running:
                    raise CommandError(f"export {ts} is already running (run {running[0]})")
                layout.check_absent("raw", ts)
                _say(f"export {ts} from {described}")
                yield

        try:
            outcome = launch(
                dagster_instance, EXPORT_JOB, ts,
                asset_selection=export_selection(mongodb=not args.no_mongo, upload=args.upload),
                op_config=op_config, emit=_progress, guard=only_export_of_ts(),
            )
        except ClaimBusy as busy:
            raise CommandError(f"export {ts} is already running: {busy}") from None
        _print_checks(outcome.checks)
        if not outcome.success:
            discard_if_unexported(dagster_instance, ts, layout.is_complete("raw", ts), run_id=None)
            raise CommandError(f"export {ts} failed: {outcome.reason} (run {outcome.run_id})")
    summary = json.loads(layout.summary_path("raw", ts).read_text())
    transformed = json.loads(layout.summary_path("transformed", ts).read_text())
    _say("")
    _say(f"export {ts} complete: {summary['totalRecords']} rows in {len(summary['tables'])} tables, "
         f"{_human_bytes(summary['totalBytes'])}; {transformed['totalCampaigns']} campaign documents")
    _say(f"  raw:          {layout.stage_dir('raw', ts)}")
    _say(f"  transformed:  {layout.stage_dir('transformed', ts)}")
    if not args.no_mongo:
        _say(f"  mongodb:      {_mongodb_line(settings, ts)} (make it current: bravo-pipeline promote {ts})")
    if args.upload:
        _say(f"  s3:           s3://{settings.s3_bucket}/{settings.s3_prefix}/metadata/.../{ts}.json")
    _say(f"  log:          {layout.log_path(ts)}")
    _say(f"  run:          {outcome.run_id} (open the UI with: make ui)")
    return 0


def cmd_transform(args: argparse.Namespace, settings: Settings) -> int:
    from bravo_pipeline.definitions import TRANSFORM_JOB, export_selection
    from bravo_pipeline.runner import instance, launch

    ts = validate_timestamp(args.timestamp)
    layout = ExportsLayout(settings.exports_dir)
    if not settings.shared_root:  # with a shared root, the run fetches the raw export itself
        layout.require_complete("raw", ts)
    _say(f"transform {ts} from {layout.stage_dir('raw', ts)}")
    with instance() as dagster_instance:
        outcome = launch(
            dagster_instance,
            TRANSFORM_JOB,
            ts,
            asset_selection=export_selection(raw=False, mongodb=args.load, upload=bool(settings.s3_bucket)),
            op_config=_version_config(args) if args.load else None,
            emit=_progress,
        )
    _print_checks(outcome.checks)
    if not outcome.success:
        raise CommandError(f"transform {ts} failed: {outcome.reason} (run {outcome.run_id})")
    summary = json.loads(layout.summary_path("transformed", ts).read_text())
    _say(f"transformed {ts}: {summary['totalCampaigns']} campaigns, {summary['totalStrategies']} "
         f"strategies, {summary['totalLineItems']} line items -> {layout.stage_dir('transformed', ts)}")
    if args.load:
        _say(f"loaded into {_mongodb_line(settings, ts)}")
    return 0


def cmd_promote(args: argparse.Namespace, settings: Settings) -> int:
    from bravo_pipeline.definitions import PROMOTE_JOB
    from bravo_pipeline.runner import instance, launch

    ts = validate_timestamp(args.timestamp)
    _say(f"promote {version_database(ts)} to {settings.mongodb_database}")
    with instance() as dagster_instance:
        outcome = launch(
            dagster_instance,
            PROMOTE_JOB,
            None,
            op_config={"mongodb__current": {"version": ts, "purpose": args.purpose, "notes": args.notes}},
            emit=_progress,
        )
    if not outcome.success:
        raise CommandError(f"promote {ts} failed: {outcome.reason}")
    _say(f"{settings.mongodb_database} now holds the campaigns of {version_database(ts)}")
    return 0


def _archive(settings: Settings):
    from bravo_pipeline.definitions import build_resources

    archive = build_resources(settings)["archive"]
    if not settings.s3_bucket:
        raise CommandError("no S3 bucket configured: set BRAVO_S3_BUCKET")
    return archive


def cmd_upload(args: argparse.Namespace, settings: Settings) -> int:
    from bravo_pipeline.archive.s3 import plan_upload
    from bravo_pipeline.definitions import TRANSFORM_JOB
    from bravo_pipeline.runner import instance, launch

    ts = validate_timestamp(args.timestamp)
    layout = ExportsLayout(settings.exports_dir)
    layout.require_complete("raw", ts)
    archive = _archive(settings)
    if args.dry_run:
        location = archive.location()
        for item in plan_upload(location, layout, ts):
            _say(f"would upload {item.stage:<12} s3://{location.bucket}/{item.key} "
                 f"({_human_bytes(item.size_bytes)} before compression)")
        _say(f"then write      s3://{location.bucket}/{location.metadata_key(ts)}")
        return 0
    from bravo_pipeline.assets.archive import ARCHIVE_KEY

    with instance() as dagster_instance:
        outcome = launch(dagster_instance, TRANSFORM_JOB, ts, asset_selection=[ARCHIVE_KEY], emit=_progress)
    if not outcome.success:
        raise CommandError(f"upload {ts} failed: {outcome.reason}")
    _say(f"archived {ts} to {archive.location().url}")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:

    ts = validate_timestamp(args.timestamp)
    layout = ExportsLayout(settings.exports_dir)
    with _restore_claim(ts):
        if args.from_s3:
            _restore_from_s3(settings, layout, ts)
        layout.require_complete("raw", ts)
    if args.mongodb:  # a run: it holds the claim itself
        _restore_mongodb(settings, layout, ts)
    if args.postgres:
        with _restore_claim(ts):
            _restore_postgres(settings, layout, ts)
    return 0


def _restore_claim(ts: str):
    from bravo_pipeline.claims import claim, export_claim

    return claim(export_claim(ts), f"restore {ts}", say=lambda line: _say(f"  {line}"))


def _restore_from_s3(settings: Settings, layout: ExportsLayout, ts: str) -> None:
    from bravo_pipeline.archive.s3 import download_export
    from bravo_pipeline.runner import instance

    archive = _archive(settings)
    created = download_export(archive.client(), archive.location(), layout, ts, work_dir=layout.temp_dir)
    for folder in created:
        _say(f"restored {folder}")
    with instance() as dagster_instance:
        from bravo_pipeline.partitions import register_partition

        register_partition(dagster_instance, ts)


def _restore_postgres(settings: Settings, layout: ExportsLayout, ts: str) -> None:
    from bravo_pipeline.archive.pg_restore_json import restore_postgres_from_raw
    from bravo_pipeline.definitions import postgres_source

    source = postgres_source(settings, secrets_from_env_vars=False)
    rows = restore_postgres_from_raw(
        source.restore_admin_uri(), layout.stage_dir("raw", ts), dump_database_name(ts),
        schema=settings.source_schema,
    )
    _say(f"restored {sum(rows.values())} rows in {len(rows)} tables into {dump_database_name(ts)}")


def _restore_mongodb(settings: Settings, layout: ExportsLayout, ts: str) -> None:
    from bravo_pipeline.assets.mongodb import VERSION_KEY
    from bravo_pipeline.definitions import TRANSFORM_JOB
    from bravo_pipeline.runner import instance, launch

    layout.require_complete("transformed", ts)
    with instance() as dagster_instance:
        outcome = launch(dagster_instance, TRANSFORM_JOB, ts, asset_selection=[VERSION_KEY],
                         op_config={"mongodb__version": {"action": "restored"}}, emit=_progress)
    _print_checks(outcome.checks)
    if not outcome.success:
        raise CommandError(f"restore {ts} into MongoDB failed: {outcome.reason}")
    _say(f"restored into {_mongodb_line(settings, ts)}")


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from bravo_pipeline.compare import compare_exports, default_report_path, has_changes, render, write_report

    ts1, ts2 = validate_timestamp(args.ts1), validate_timestamp(args.ts2)
    layout = ExportsLayout(settings.exports_dir)
    report = compare_exports(layout, ts1, ts2)
    path = Path(args.output) if args.output else default_report_path(layout, ts1, ts2, args.format)
    write_report(path, render(report, args.format))
    summary = report["summary"]
    _say(f"compare {ts1} -> {ts2}: {summary['tables_with_changes']} of {summary['total_tables']} tables changed, "
         f"{summary['total_records_v1']} -> {summary['total_records_v2']} rows")
    for table, entry in sorted(report["details"].items()):
        if has_changes(entry):
            _say(f"  {table}: +{entry['added']} -{entry['removed']} ~{entry['changed']}")
    campaigns = (report.get("transformed") or {}).get("campaigns")
    if campaigns:
        _say(f"  transformed campaigns: +{campaigns['added']} -{campaigns['removed']} ~{campaigns['changed']}")
    _say(f"report: {path}")
    return 0


def cmd_cleanup(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from bravo_pipeline.automation import stores_for
    from bravo_pipeline.definitions import build_resources
    from bravo_pipeline.partitions import InstancePartitionKeys
    from bravo_pipeline.retention.cleanup import find_cleanup, run_cleanup
    from bravo_pipeline.retention.plan import parse_duration
    from bravo_pipeline.runner import instance, mark_dead_runs

    older_than = parse_duration(args.older_than)
    if args.s3 and not settings.s3_bucket:
        raise CommandError("--s3 needs BRAVO_S3_BUCKET")
    layout = ExportsLayout(settings.exports_dir)
    resources = build_resources(settings, secrets_from_env_vars=False)
    stores = stores_for(resources["archive"], resources["mongodb"], resources["source"],
                        s3=args.s3, databases=args.databases)
    report = find_cleanup(layout, now=datetime.now(UTC), older_than=older_than, keep=args.keep, stores=stores)
    for ts, reason in report.plan.kept.items():
        _say(f"keep   {ts}  ({reason})")
    for ts in report.plan.delete:
        items = report.items.get(ts, [])
        total = sum(item.size_bytes or 0 for item in items)
        _say(f"{'would delete' if args.dry_run else 'delete'} {ts}  ({_human_bytes(total)})")
        for item in items:
            size = f" ({_human_bytes(item.size_bytes)})" if item.size_bytes is not None else ""
            _say(f"    {item.store:<8} {item.name}{size}")
    for warning in report.warnings:
        print(f"bravo-pipeline: warning: {warning}", file=sys.stderr)
    if not args.dry_run:
        with instance() as dagster_instance:
            for run_id in mark_dead_runs(dagster_instance):
                _say(f"marked run {run_id} failed: its process died")
            run_cleanup(layout, report, stores, InstancePartitionKeys(dagster_instance))
        for ts, reason in report.skipped.items():
            _say(f"skip   {ts}  ({reason})")
        if report.plan.delete:
            _say(f"deleted {len(report.deleted)} export(s)")
        for ts in report.removed_keys:
            _say(f"removed partition key {ts} (no export, no run in flight)")
        for leftover in report.swept:
            _say(f"removed leftover {leftover}")
    if not report.plan.delete:
        _say("nothing to delete")
    if report.failures:
        for failure in report.failures:
            print(f"bravo-pipeline: could not clean: {failure}", file=sys.stderr)
        return 1
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from bravo_pipeline.runner import instance, latest_checks

    ts = validate_timestamp(args.timestamp)
    layout = ExportsLayout(settings.exports_dir)
    layout.require_complete("raw", ts)
    raw = json.loads(layout.summary_path("raw", ts).read_text())
    _say(f"export {ts}")
    dump = f", dump {raw['source']['dump']}" if raw["source"].get("dump") else ""
    _say(f"  exported at:  {raw['exportedAt']} from {raw['source']['kind']} ({raw['database']} on {raw['host']}{dump})")
    _say(f"  raw:          {len(raw['tables'])} tables, {raw['totalRecords']} rows, "
         f"{_human_bytes(raw['totalBytes'])} in {raw['durationSeconds']}s -> {layout.stage_dir('raw', ts)}")
    if layout.is_complete("transformed", ts):
        t = json.loads(layout.summary_path("transformed", ts).read_text())
        orphans = {kind: entry["count"] for kind, entry in t["orphans"].items()}
        _say(f"  transformed:  {t['totalCampaigns']} campaigns, {t['totalStrategies']} strategies, "
             f"{t['totalLineItems']} line items; orphans {orphans}; unresolved users {t['unresolvedUsers']}")
    else:
        _say("  transformed:  no")
    view = _mongodb_view(settings)
    state = view.loaded.get(ts)
    current = f" (current: {settings.mongodb_database})" if view.current == ts else ""
    detail = f", {state.count} campaigns, {state.action} {state.at}" if state else ""
    _say(f"  mongodb:      {version_database(ts) + detail + current if ts in view.loaded else 'not loaded'}")
    if settings.s3_bucket:
        in_s3 = ts in {item.ts for item in _remote_exports(settings)}
        _say(f"  s3:           {'yes' if in_s3 else 'no'} (s3://{settings.s3_bucket}/{settings.s3_prefix})")
    with instance() as dagster_instance:
        checks = latest_checks(dagster_instance, ts)
    _say("  checks:" + ("" if checks else "       none recorded"))
    for check in checks:
        _say(f"    {check}")
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from bravo_pipeline.quality.checks import export_verified

    ts = validate_timestamp(args.timestamp)
    layout = ExportsLayout(settings.exports_dir)
    layout.require_complete("raw", ts)
    outcome = export_verified(layout, ts)  # the same function as the export_verified check
    if not outcome.passed:
        raise CommandError(outcome.description.removesuffix("."))
    for stage, checked in outcome.metadata.items():
        _say(f"{stage + ':':<13} {checked['files']} files, {_human_bytes(checked['bytes'])} match "  # type: ignore[index]
             f"{layout.summary_path(stage, ts).name}")  # type: ignore[arg-type]
    _say(f"export {ts} verified")
    return 0


def cmd_demo_db(args: argparse.Namespace, settings: Settings) -> int:
    from bravo_pipeline.demo_database import build_demo_database

    admin = _embedded_admin_uri(settings)
    _say(f"building the demo database {DEFAULT_DATABASE} at scale {args.scale} ...")
    demo = build_demo_database(
        admin, scale=args.scale, reset=args.reset, progress=lambda line: _say(f"  {line}")
    )
    _say(f"demo database {demo.database} (scale {demo.scale}): "
         f"{sum(demo.row_counts.values())} rows, {demo.seconds:.1f}s")
    return 0


def _remote_exports(settings: Settings) -> list:
    from bravo_pipeline.archive.s3 import list_remote

    archive = _archive(settings)
    return list_remote(archive.client(), archive.location(),
                       warn=lambda line: print(f"bravo-pipeline: warning: {line}", file=sys.stderr))


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:

    if args.s3:
        remote = _remote_exports(settings)
        if not remote:
            _say(f"no exports in s3://{settings.s3_bucket}/{settings.s3_prefix}")
        for item in remote:
            stages = "raw+transformed" if item.has_transformed else "raw"
            _say(f"{item.ts:<16} {_human_bytes(item.size_bytes):>10}  {stages:<16} {item.uploaded_at or ''}")
        return 0
    layout = ExportsLayout(settings.exports_dir)
    stamps = layout.timestamps("raw")
    if not stamps:
        _say(f"no exports under {settings.exports_dir}")
        return 0
    view = _mongodb_view(settings)
    loaded, current = view.loaded, view.current
    in_s3 = {item.ts for item in _remote_exports(settings)} if settings.s3_bucket else set()
    _say(f"{'timestamp':<16} {'tables':>6} {'rows':>10} {'size':>10}  {'transformed':<11}  {'s3':<3}  mongodb")
    for ts in reversed(stamps):
        transformed = "yes" if layout.is_complete("transformed", ts) else "no"
        s3 = "yes" if ts in in_s3 else ("no" if settings.s3_bucket else "-")
        mongodb = version_database(ts) if ts in loaded else "-"
        if ts == current:
            mongodb += f" (current: {settings.mongodb_database})"
        totals = _raw_totals(layout, ts)
        tables, rows, size = ("?", "?", "?") if totals is None else (totals[0], totals[1], _human_bytes(totals[2]))
        _say(f"{ts:<16} {tables:>6} {rows:>10} {size:>10}  {transformed:<11}  {s3:<3}  {mongodb}")
    return 0


def _mongodb_view(settings: Settings):
    """What MongoDB holds, from the databases themselves (the registry is reconciled on the way)."""
    from functools import partial

    from bravo_pipeline.mongo.registry import Registry
    from bravo_pipeline.mongo.store import opened_store
    from bravo_pipeline.mongo.view import observe

    open_store = partial(opened_store, settings.mongodb_uri, settings.mongodb_embedded_path)
    return observe(open_store, Registry(settings.exports_dir), settings.mongodb_database,
                   warn=lambda line: print(f"bravo-pipeline: warning: {line}", file=sys.stderr))


def _raw_totals(layout: ExportsLayout, ts: str) -> tuple[int, int, int] | None:
    """Tables, rows and bytes of a raw export by its summary; None (and a warning) when it is unreadable."""
    from bravo_pipeline.integrity import IntegrityError, read_summary

    try:
        summary = read_summary(layout.summary_path("raw", ts))
        totals = (len(summary["tables"]), summary["totalRecords"], summary["totalBytes"])
        if not all(isinstance(value, int) for value in totals):
            raise TypeError
    except (IntegrityError, KeyError, TypeError):
        print(f"bravo-pipeline: warning: {layout.summary_path('raw', ts)} is unreadable or incomplete",
              file=sys.stderr)
        return None
    return totals


def cmd_partitions(args: argparse.Namespace, settings: Settings) -> int:
    from bravo_pipeline.partitions import partition_report, remove_key
    from bravo_pipeline.runner import instance, mark_dead_runs

    layout = ExportsLayout(settings.exports_dir)
    with instance() as dagster_instance:
        mark_dead_runs(dagster_instance)
        report = partition_report(dagster_instance, lambda ts: layout.is_complete("raw", ts))
        for key, state in report:
            removable = state in ("no export", "not a timestamp")
            if args.prune and removable and remove_key(dagster_instance, key):
                state = f"{state}: removed"
            _say(f"{printable(key):<20} {state}")
        junk = sum(1 for _, state in report if state in ("no export", "not a timestamp"))
    if not report:
        _say("no partition keys")
    elif junk and not args.prune:
        _say(f"{junk} key(s) without an export: remove them with bravo-pipeline partitions --prune")
    return 0


def cmd_latest(args: argparse.Namespace, settings: Settings) -> int:
    stamps = ExportsLayout(settings.exports_dir).timestamps("raw")
    if not stamps:
        raise CommandError(f"no exports under {settings.exports_dir}")
    _say(stamps[-1])
    return 0


def cmd_server(args: argparse.Namespace, settings: Settings) -> int:
    from bravo_pipeline.source.embedded_server import EmbeddedPostgres

    server = EmbeddedPostgres.in_state_dir(settings.state_dir)
    if args.action == "start":
        _say(f"embedded PostgreSQL running on 127.0.0.1:{server.ensure_running()}")
    elif args.action == "stop":
        _say("embedded PostgreSQL stopped" if server.stop() else "embedded PostgreSQL was not running")
    else:
        status = server.status()
        _say(f"embedded PostgreSQL running on 127.0.0.1:{status.port} (pid {status.pid})"
             if status.running else "embedded PostgreSQL is not running")
    return 0


# -- parser ---------------------------------------------------------------------


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 20:
        raise argparse.ArgumentTypeError("scale must be > 0 and <= 20")
    return value


def _add_purpose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--purpose", default="", help="why this version exists (registry entry)")
    parser.add_argument("--notes", default="", help="free notes for the registry entry")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bravo-pipeline",
        description="Timestamped exports of the media_tool database, run as Dagster assets.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    export = add("export", cmd_export, "take a new export (new UTC partition) end to end")
    export.add_argument("--timestamp", help="export timestamp YYYYMMDD-HHMMSS (default: now, UTC)")
    export.add_argument("--source", choices=["demo", "live", "dump"], default=None,
                        help="demo: the embedded server; live: BRAVO_SOURCE_URI; dump: a dump restored "
                             "into media_tool_<ts> (default: live when BRAVO_SOURCE_URI is set, else demo)")
    export.add_argument("--dump", metavar="FILE_OR_S3_URL", help="the dump to restore, a file or s3://bucket/key "
                        "(plain SQL, -Fc or -Fd, "
                        "optionally gzip); without it, --source dump runs pg_dump on BRAVO_SOURCE_URI")
    export.add_argument("--keep-dump", action="store_true",
                        help="keep exports/temp/prod_dump_<ts>.* after the restore")
    export.add_argument("--no-mongo", action="store_true", help="stop after the transform")
    export.add_argument("--upload", action="store_true", help="also archive the export to S3")
    _add_purpose(export)

    transform = add("transform", cmd_transform,
                    "re-materialize the transform of an existing export from its raw files")
    transform.add_argument("timestamp", metavar="TS", help="the export timestamp YYYYMMDD-HHMMSS")
    transform.add_argument("--load", action="store_true", help="also reload its MongoDB version")
    _add_purpose(transform)

    promote = add("promote", cmd_promote,
                  "make mediatool_<TS> the current database the app reads (BRAVO_MONGODB_DATABASE)")
    promote.add_argument("timestamp", metavar="TS", help="a loaded export timestamp")
    _add_purpose(promote)

    demo = add("demo-db", cmd_demo_db, "(re)create the demo source database media_tool")
    demo.add_argument("--scale", type=_scale, default=0.1, help="row counts × F (default 0.1)")
    demo.add_argument("--reset", action="store_true", help="drop and rebuild even if present")

    listing = add("list", cmd_list, "one line per export, newest first")
    listing.add_argument("--s3", action="store_true", help="list the exports in the S3 bucket instead")

    compare = add("compare", cmd_compare, "compare two exports: every table and the campaign documents")
    compare.add_argument("ts1", metavar="TS1")
    compare.add_argument("ts2", metavar="TS2")
    compare.add_argument("--format", choices=["json", "html", "markdown"], default="json")
    compare.add_argument("--output", metavar="FILE",
                         help="where to write the report (default exports/comparison-reports/)")

    cleanup = add("cleanup", cmd_cleanup, "delete old exports everywhere they live, with their partition keys")
    cleanup.add_argument("--older-than", default="7d", help="age to delete: 7d, 12h, 30m, 2w (default 7d)")
    cleanup.add_argument("--keep", type=int, default=3, help="always keep the N newest exports (default 3)")
    cleanup.add_argument("--dry-run", action="store_true", help="print what would be deleted, delete nothing")
    cleanup.add_argument("--s3", action="store_true", help="also delete their S3 archives")
    cleanup.add_argument("--databases", action="store_true",
                         help="also drop mediatool_<ts> (MongoDB) and media_tool_<ts> (PostgreSQL)")

    show = add("show", cmd_show, "the summaries of one export, and its checks")
    show.add_argument("timestamp", metavar="TS")

    verify = add("verify", cmd_verify,
                 "read every file of an export again and match it with its summaries (size, sha256)")
    verify.add_argument("timestamp", metavar="TS")

    upload = add("upload", cmd_upload, "archive an existing export to S3 (tarballs, then metadata)")
    upload.add_argument("timestamp", metavar="TS")
    upload.add_argument("--dry-run", action="store_true", help="print what would be uploaded, with sizes")

    restore = add("restore", cmd_restore, "bring an export back: from S3, into MongoDB, into PostgreSQL")
    restore.add_argument("timestamp", metavar="TS")
    restore.add_argument("--from-s3", action="store_true", help="download and verify it from S3 first")
    restore.add_argument("--mongodb", action="store_true", help="load it into mediatool_<TS>")
    restore.add_argument("--postgres", action="store_true",
                         help="rebuild database media_tool_<TS> from the raw files (BRAVO_POSTGRES_URI)")
    add("latest", cmd_latest, "print the newest export timestamp")
    partitions = add("partitions", cmd_partitions,
                     "the partition keys on the Dagster instance, and whether each has an export")
    partitions.add_argument("--prune", action="store_true",
                            help="remove the keys with no export and no run in flight")

    server = add("server", cmd_server, "the embedded PostgreSQL server: status, start or stop")
    server.add_argument("action", choices=["status", "start", "stop"], nargs="?", default="status")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with cycles_collected_less_often():  # the command loads Dagster: see bravo_pipeline/collector.py
            return args.handler(args, Settings.from_env())
    except BrokenPipeError:  # `bravo-pipeline list | head`: the reader left, that is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every failure ends as one line, never a traceback
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"bravo-pipeline: error: {scrub(message)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

