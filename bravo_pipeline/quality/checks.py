"""Data-quality checks over one export run: plain functions, no Dagster.

Each check reads the files of an export (raw tables streamed in blocks, the few
tables it needs through polars, campaigns.json one document per line) and
returns a CheckOutcome: passed or not, how serious, one sentence, and small
metadata (counts, at most 10 example ids, column names; never row payloads).
Money is added up as Python Decimal in a wide context that refuses to round,
so the sums compared are exact.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import polars as pl

from bravo_pipeline.exact import exact_sum
from bravo_pipeline.integrity import (
    VERIFY_THREADS,
    FileDigest,
    IntegrityError,
    Manifest,
    VerifiedReader,
    load_manifest,
    verified_lines,
    verify_file,
    verify_stage,
)
from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.mongo.limits import may_hold_refused_keys, oversized_bytes, refused_keys
from bravo_pipeline.mongo.store import DocumentStore
from bravo_pipeline.names import CAMPAIGNS_FILE, SCHEMA_FILE, table_filename
from bravo_pipeline.names import EXPORT_SUMMARY_FILE as RAW_SUMMARY_FILE
from bravo_pipeline.names import TRANSFORMATION_SUMMARY_FILE as TRANSFORMED_SUMMARY_FILE
from bravo_pipeline.source.tables import KNOWN_TABLES
from bravo_pipeline.transform.raw_tables import TRANSFORM_COLUMNS, RawTableError, read_raw_table

Severity = Literal["WARN", "ERROR"]
MAX_EXAMPLES = 10
READ_BLOCK_BYTES = 8 << 20

@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    severity: Severity
    description: str
    metadata: dict[str, object]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _examples(values: Iterable[Any]) -> list[Any]:
    return sorted(values)[:MAX_EXAMPLES]


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _file_missing(folder: Path, filename: str) -> CheckOutcome:
    return CheckOutcome(False, "ERROR", f"{filename} is missing from {folder}.", {})


def _transformed_missing(transformed_dir: Path) -> CheckOutcome | None:
    for filename in (TRANSFORMED_SUMMARY_FILE, CAMPAIGNS_FILE):
        if not (transformed_dir / filename).is_file():
            return _file_missing(transformed_dir, filename)
    return None


# --- 1. raw completeness -----------------------------------------------------------------------


@dataclass(frozen=True)
class FileFacts:
    count: int  # lines starting with "{": one per row
    size: int
    sha256: str


def file_facts(path: Path) -> FileFacts:
    """Row count, size and sha256 of one raw file, read once in blocks."""
    sha, size, rows, previous = hashlib.sha256(), 0, 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(READ_BLOCK_BYTES):
            sha.update(block)
            size += len(block)
            rows += block.count(b"\n{") + (previous == b"\n" and block[:1] == b"{")
            previous = block[-1:]
    return FileFacts(rows, size, sha.hexdigest())


def _regular_file(path: Path) -> os.stat_result | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found if stat.S_ISREG(found.st_mode) else None


def _unchanged_since(found: os.stat_result, expected: dict[str, Any], sealed_at: int) -> bool:
    """True when the file cannot have changed since the summary recorded the digest computed while it
    was written: its inode last changed before the summary's did, and its size is the recorded one.
    Any later write, truncation, rename over it or link to it moves its ctime past the summary's
    (which no user can set back), and the file is then read and hashed in full."""
    return found.st_ctime_ns < sealed_at and found.st_size == expected.get("size")


def _file_mismatch(expected: dict[str, Any], found: FileFacts) -> dict[str, dict[str, object]] | None:
    fields = ("count", "size", "sha256")
    differing = [field for field in fields if expected.get(field) != getattr(found, field)]
    if not differing:
        return None
    return {
        "expected": {field: expected.get(field) for field in differing},
        "found": {field: getattr(found, field) for field in differing},
    }


def raw_completeness(raw_dir: Path) -> CheckOutcome:
    """Every table file matches export-summary.json (rows, size, sha256); all 27 known tables are there;
    schema.json and the summary itself match their digests."""
    summary_path = raw_dir / RAW_SUMMARY_FILE
    if not summary_path.is_file():
        return _file_missing(raw_dir, RAW_SUMMARY_FILE)
    try:
        summary, contents = load_manifest(raw_dir, "raw")
        schema_digest = contents.files.get(SCHEMA_FILE)
        if schema_digest is not None:
            verify_file(raw_dir / SCHEMA_FILE, schema_digest)
    except IntegrityError as error:
        return CheckOutcome(False, "ERROR", f"The raw export does not match its summary: {error}.", {})
    entries: dict[str, dict[str, Any]] = summary["tables"]
    files = {table: table_filename(table) for table in entries}
    found = {table: _regular_file(raw_dir / files[table]) for table in entries}
    on_disk = {table: facts for table, facts in found.items() if facts is not None}
    missing = sorted((set(KNOWN_TABLES) | set(entries)) - set(on_disk))
    mismatches: dict[str, object] = {}
    sealed_at = summary_path.stat().st_ctime_ns
    tables = sorted(table for table, facts in on_disk.items()
                    if not _unchanged_since(facts, entries[table], sealed_at))
    with ThreadPoolExecutor(VERIFY_THREADS) as pool:  # hashing releases the GIL
        facts = list(pool.map(lambda table: file_facts(raw_dir / files[table]), tables))
    for table, found in zip(tables, facts, strict=True):
        mismatch = _file_mismatch(entries[table], found)
        if mismatch:
            mismatches[table] = mismatch
    metadata: dict[str, object] = {
        "tables_checked": len(on_disk),
        "tables_read_again": len(tables),
        "mismatches": mismatches,
        "missing_tables": missing,
    }
    return CheckOutcome(not (missing or mismatches), "ERROR", _completeness_text(missing, mismatches),
                        metadata)


def _completeness_text(missing: list[str], mismatches: dict[str, object]) -> str:
    if not (missing or mismatches):
        return "Every table file matches export-summary.json in row count, size and sha256."
    parts = []
    if mismatches:
        parts.append(f"{_plural(len(mismatches), 'table')} differ from export-summary.json "
                     f"({', '.join(list(mismatches)[:MAX_EXAMPLES])})")
    if missing:
        parts.append(f"{_plural(len(missing), 'table')} missing ({', '.join(missing[:MAX_EXAMPLES])})")
    return "The raw export is incomplete: " + "; ".join(parts) + "."


# --- 2. referential integrity ------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    table: str
    column: str
    target_table: str
    target_column: str
    is_list: bool = False

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column} -> {self.target_table}.{self.target_column}"


TRADER_REFERENCE = Reference("line_items", "media_trader_user_ids", "users", "id", is_list=True)
REFERENCES: tuple[Reference, ...] = (
    Reference("strategies", "campaign_id", "campaigns", "id"),
    Reference("line_items", "strategy_id", "strategies", "id"),
    Reference("campaigns", "owner_user_id", "users", "zoho_user_id"),
    Reference("campaigns", "lead_account_owner_user_id", "users", "zoho_user_id"),
    TRADER_REFERENCE,
    Reference("campaigns", "account_id", "accounts", "id"),
)
# Trader ids that match no user are a known trait of production (the transform leaves them
# out and counts them): about 18 % of trader ids at any scale of the demo. Held to 5 %, the
# check would fail every day, so this reference gets its own thresholds.
DEFAULT_FRACTION_OVERRIDES: dict[str, float] = {TRADER_REFERENCE.name: 0.30}
WARN_SHARE = 0.75  # a reference warns above this share of its error fraction: 3.75 % of 5 %, 22.5 % of 30 %
SMALL_COUNT = 10  # this many dangling ids or fewer never warn: a handful is the normal state of the source


@dataclass(frozen=True)
class Dangling:
    dangling: int  # references (array elements for a list column) that match no target
    total: int  # non-null references
    examples: list[str]  # ids of referencing rows

    @property
    def fraction(self) -> float:
        return self.dangling / self.total if self.total else 0.0

    def as_metadata(self) -> dict[str, object]:
        return {"dangling": self.dangling, "total": self.total, "fraction": round(self.fraction, 6),
                "examples": self.examples}


def dangling_references(frame: pl.DataFrame, reference: Reference, targets: pl.Series) -> Dangling:
    """Dangling and non-null reference counts, with example ids of the referencing rows."""
    values = frame.select("id", reference.column)
    if reference.is_list:
        values = values.explode(reference.column)
    values = values.filter(pl.col(reference.column).is_not_null())
    dangling = values.filter(~pl.col(reference.column).is_in(targets.implode()))
    return Dangling(dangling.height, values.height, _examples(dangling.get_column("id").unique()))


def referential_integrity(
    raw_dir: Path, error_fraction: float = 0.05, fraction_overrides: Mapping[str, float] | None = None
) -> CheckOutcome:
    """Dangling references between the raw tables: ERROR above `error_fraction`, WARN below.

    `fraction_overrides` (reference name → fraction) replaces `error_fraction` for some
    references; None means DEFAULT_FRACTION_OVERRIDES, `{}` holds every reference to `error_fraction`.
    """
    overrides = DEFAULT_FRACTION_OVERRIDES if fraction_overrides is None else dict(fraction_overrides)
    thresholds = {ref.name: overrides.get(ref.name, error_fraction) for ref in REFERENCES}
    tables = {ref.table for ref in REFERENCES} | {ref.target_table for ref in REFERENCES}
    try:
        frames = {table: read_raw_table(raw_dir / table_filename(table), table) for table in sorted(tables)}
    except RawTableError as error:
        return CheckOutcome(False, "ERROR", f"Cannot check references: {error}.", {})
    results = {
        ref.name: dangling_references(
            frames[ref.table], ref, frames[ref.target_table].get_column(ref.target_column)
        )
        for ref in REFERENCES
    }
    over = [name for name, result in results.items() if result.fraction > thresholds[name]]
    unusual = [name for name, result in results.items()
               if result.dangling > SMALL_COUNT and result.fraction > thresholds[name] * WARN_SHARE]
    metadata: dict[str, object] = {
        "error_fraction": error_fraction,
        "fraction_overrides": overrides,
        "warn_share": WARN_SHARE,
        "references": {name: result.as_metadata() for name, result in results.items()},
        "over_threshold": over,
        "unusual": unusual,
    }
    return CheckOutcome(not (over or unusual), "ERROR" if over else "WARN",
                        _references_text(results, unusual, over), metadata)


def _listing(results: dict[str, Dangling], names: list[str]) -> str:
    return ", ".join(f"{name} ({results[name].dangling}/{results[name].total})" for name in names)


def _references_text(results: dict[str, Dangling], unusual: list[str], over: list[str]) -> str:
    broken = [name for name, result in results.items() if result.dangling]
    if over:
        verb = "exceeds" if len(over) == 1 else "exceed"
        return f"{_plural(len(over), 'reference')} {verb} the allowed dangling fraction: {_listing(results, over)}."
    if unusual:
        return (f"More references dangle than usual (above {WARN_SHARE:.0%} of the allowed fraction): "
                f"{_listing(results, unusual)}.")
    if not broken:
        return f"All {len(results)} references resolve: no dangling ids."
    return f"All {len(results)} references within the usual dangling fraction: {_listing(results, broken)}."


# --- 3. schema drift ---------------------------------------------------------------------------


def used_columns_of_transform() -> dict[str, set[str]]:
    """The columns the campaign transform reads, per table."""
    return {table: set(columns) for table, columns in TRANSFORM_COLUMNS.items()}


def _columns(document: dict[str, Any], table: str) -> dict[str, str]:
    return {column["name"]: column["type"] for column in document["tables"][table].get("columns", [])}


def _table_changes(
    previous: dict[str, Any], current: dict[str, Any], used: dict[str, set[str]]
) -> Iterator[dict[str, object]]:
    before, after = previous.get("tables", {}), current.get("tables", {})
    for table in sorted(set(after) - set(before)):
        yield {"change": "added_table", "table": table, "severity": "WARN"}
    for table in sorted(set(before) - set(after)):
        yield {"change": "removed_table", "table": table, "severity": "ERROR" if table in used else "WARN"}
    for table in sorted(set(before) & set(after)):
        yield from _column_changes(table, _columns(previous, table), _columns(current, table), used)


def _column_changes(
    table: str, before: dict[str, str], after: dict[str, str], used: dict[str, set[str]]
) -> Iterator[dict[str, object]]:
    read = used.get(table, set())
    for column in sorted(set(after) - set(before)):
        yield {"change": "added_column", "table": table, "column": column, "severity": "WARN"}
    for column in sorted(set(before) - set(after)):
        yield {"change": "removed_column", "table": table, "column": column,
               "severity": "ERROR" if column in read else "WARN"}
    for column in sorted(set(before) & set(after)):
        if before[column] != after[column]:
            yield {"change": "type_changed", "table": table, "column": column, "from": before[column],
                   "to": after[column], "severity": "ERROR" if column in read else "WARN"}


def schema_drift(
    previous: dict[str, Any] | None, current: dict[str, Any], used_columns: dict[str, set[str]]
) -> CheckOutcome:
    """Differences between two schema.json documents; ERROR where the transform reads what changed."""
    if previous is None:
        return CheckOutcome(True, "WARN", "No previous export: nothing to compare the schema with.",
                            {"note": "no previous export", "changes": []})
    changes = list(_table_changes(previous, current, used_columns))
    errors = [change for change in changes if change["severity"] == "ERROR"]
    metadata: dict[str, object] = {"changes": changes, "change_count": len(changes), "errors": len(errors)}
    if not changes:
        return CheckOutcome(True, "WARN", "The schema is the same as in the previous export.", metadata)
    if errors:
        hit = sorted({f"{c['table']}.{c['column']}" if "column" in c else str(c["table"]) for c in errors})
        text = f"The schema changed where the transform reads it: {', '.join(hit[:MAX_EXAMPLES])}."
        return CheckOutcome(False, "ERROR", text, metadata)
    text = f"The schema changed ({_plural(len(changes), 'change')}), none in what the transform reads."
    return CheckOutcome(False, "WARN", text, metadata)


def load_schema(raw_dir: Path) -> dict[str, Any]:
    return _read_json(raw_dir / SCHEMA_FILE)


# --- 4. transform conservation -----------------------------------------------------------------


@dataclass(frozen=True)
class DocumentTotals:
    ids: list[str]
    target_amount_sum: Decimal

    @property
    def count(self) -> int:
        return len(self.ids)


_DOCUMENT_FIELDS = {"_id": pl.String(), "price": pl.Struct({"targetAmount": pl.String()})}
DOCUMENT_BATCH_LINES = 10_000


def _document_line_batches(campaigns_file: Path, digest: FileDigest | None) -> Iterator[list[bytes]]:
    """The documents' JSON lines (no trailing comma), a batch at a time (memory stays flat)."""
    batch: list[bytes] = []
    for line in verified_lines(campaigns_file, digest):
        if line.startswith(b"{"):
            batch.append(line.rstrip().removesuffix(b","))
        if len(batch) == DOCUMENT_BATCH_LINES:
            yield batch
            batch = []
    if batch:
        yield batch


def _document_batches(campaigns_file: Path, digest: FileDigest | None) -> Iterator[pl.DataFrame]:
    """_id and price.targetAmount of the documents, a batch of lines at a time."""
    for batch in _document_line_batches(campaigns_file, digest):
        yield pl.read_ndjson(b"\n".join(batch), schema=_DOCUMENT_FIELDS)


def document_totals(campaigns_file: Path, digest: FileDigest | None = None) -> DocumentTotals:
    """_id of every document and the exact sum of price.targetAmount, streaming campaigns.json
    (checked against `digest` on the way)."""
    ids: list[str] = []
    total = Decimal(0)
    for frame in _document_batches(campaigns_file, digest):
        ids.extend(frame.get_column("_id").to_list())
        amounts = frame.get_column("price").struct.field("targetAmount").to_list()
        total = exact_sum([total, *amounts])
    return DocumentTotals(ids, total)


def count_rows(path: Path, digest: FileDigest | None = None) -> int:
    """Rows of a raw table file (lines starting with "{"), without parsing them (checked against `digest`)."""
    rows, previous = 0, b"\n"
    with path.open("rb") as handle:
        source = VerifiedReader(handle, digest, str(path)) if digest is not None else handle
        while block := source.read(READ_BLOCK_BYTES):
            rows += block.count(b"\n{") + (previous == b"\n" and block[:1] == b"{")
            previous = block[-1:]
        if isinstance(source, VerifiedReader):
            source.finish()
    return rows


def _orphan_count(summary: dict[str, Any], kind: str) -> int:
    return int((summary.get("orphans") or {}).get(kind, {}).get("count", 0))


def _hierarchy_problems(raw_dir: Path, raw: Manifest, summary: dict[str, Any],
                        metadata: dict[str, object]) -> list[str]:
    raw_strategies = count_rows(raw_dir / table_filename("strategies"), raw.files.get(table_filename("strategies")))
    raw_line_items = count_rows(raw_dir / table_filename("line_items"), raw.files.get(table_filename("line_items")))
    strategies = summary.get("totalStrategies", 0) + _orphan_count(summary, "strategiesWithoutCampaign")
    line_items = (summary.get("totalLineItems", 0) + _orphan_count(summary, "lineItemsWithoutStrategy")
                  + _orphan_count(summary, "lineItemsOfOrphanStrategies"))
    metadata.update(raw_strategies=raw_strategies, embedded_plus_orphan_strategies=strategies,
                    raw_line_items=raw_line_items, embedded_plus_orphan_line_items=line_items)
    problems = []
    if strategies != raw_strategies:
        problems.append(f"strategies: {strategies} embedded or orphan, {raw_strategies} raw")
    if line_items != raw_line_items:
        problems.append(f"line items: {line_items} embedded or orphan, {raw_line_items} raw")
    return problems


def _campaign_problems(
    raw_campaigns: pl.DataFrame, totals: DocumentTotals, summary: dict[str, Any], metadata: dict[str, object]
) -> list[str]:
    raw_ids = set(raw_campaigns.get_column("id").to_list())
    document_ids = set(totals.ids)
    raw_sum = exact_sum(raw_campaigns.get_column("budget").to_list())
    missing, extra = raw_ids - document_ids, document_ids - raw_ids
    metadata.update(
        raw_campaigns=raw_campaigns.height,
        documents=totals.count,
        total_campaigns=summary.get("totalCampaigns"),
        duplicate_documents=totals.count - len(document_ids),
        missing_document_ids=_examples(missing), extra_document_ids=_examples(extra),
        raw_budget_sum=str(raw_sum), document_target_amount_sum=str(totals.target_amount_sum),
    )
    problems = []
    if not raw_campaigns.height == totals.count == summary.get("totalCampaigns"):
        problems.append(f"campaigns: {raw_campaigns.height} raw rows, {totals.count} documents, "
                        f"totalCampaigns {summary.get('totalCampaigns')}")
    if missing or extra or totals.count != len(document_ids):
        problems.append(f"document ids: {len(missing)} missing, {len(extra)} extra, "
                        f"{totals.count - len(document_ids)} duplicated")
    if raw_sum != totals.target_amount_sum:
        problems.append(f"budget sum {raw_sum} in raw, targetAmount sum {totals.target_amount_sum} "
                        "in documents")
    return problems


def transform_conservation(raw_dir: Path, transformed_dir: Path) -> CheckOutcome:
    """Every raw campaign, strategy and line item is in the documents or counted as orphan; money is kept."""
    if missing := _transformed_missing(transformed_dir):
        return missing
    try:
        summary, transformed = load_manifest(transformed_dir, "transformed")
        _, raw = load_manifest(raw_dir, "raw")
        campaigns_file = table_filename("campaigns")
        raw_campaigns = read_raw_table(raw_dir / campaigns_file, "campaigns",
                                       raw.files.get(campaigns_file)).select("id", "budget")
        strategies_and_items = [raw_dir / table_filename("strategies"), raw_dir / table_filename("line_items")]
        if not all(path.is_file() for path in strategies_and_items):
            raise RawTableError("strategies.json or line_items.json is missing")
        metadata: dict[str, object] = {}
        problems = _hierarchy_problems(raw_dir, raw, summary, metadata)
        totals = document_totals(transformed_dir / CAMPAIGNS_FILE, transformed.files[CAMPAIGNS_FILE])
    except (RawTableError, IntegrityError) as error:
        return CheckOutcome(False, "ERROR", f"Cannot check conservation: {error}.", {})
    problems += _campaign_problems(raw_campaigns, totals, summary, metadata)
    if problems:
        text = "The transform lost or changed data: " + "; ".join(problems) + "."
        return CheckOutcome(False, "ERROR", text, metadata)
    return CheckOutcome(True, "ERROR", "Every raw campaign, strategy and line item is accounted for, "
                        "and the budget sum equals the targetAmount sum.", metadata)


# --- 4b. what MongoDB would refuse ------------------------------------------------------------

_NUMBER_FIELDS = {"_id": pl.String(), "campaignNumber": pl.String()}


@dataclass
class _Refusals:
    numbers: list[pl.DataFrame]
    oversized: dict[str, int]
    keys: dict[str, list[str]]

    def add_lines(self, lines: list[bytes]) -> None:
        text = b"\n".join(lines)
        self.numbers.append(pl.read_ndjson(text, schema=_NUMBER_FIELDS))
        for line in lines:
            if (size := oversized_bytes(line)) is not None:
                self.oversized[str(json.loads(line).get("_id"))] = size
        if may_hold_refused_keys(text):  # then find the documents that hold them
            for line in lines:
                if found := refused_keys(line):
                    self.keys[str(json.loads(line).get("_id"))] = found


def _scan_for_refusals(campaigns_file: Path, digest: FileDigest | None) -> _Refusals:
    found = _Refusals([], {}, {})
    for batch in _document_line_batches(campaigns_file, digest):
        found.add_lines(batch)
    return found


def _refusal_problems(found: _Refusals, metadata: dict[str, object]) -> list[str]:
    numbers = pl.concat(found.numbers) if found.numbers else pl.DataFrame(schema=_NUMBER_FIELDS)
    unnumbered = numbers.filter(pl.col("campaignNumber").is_null() | (pl.col("campaignNumber") == ""))
    repeated = (numbers.filter(pl.col("campaignNumber").is_not_null() & (pl.col("campaignNumber") != ""))
                .group_by("campaignNumber").agg(pl.col("_id").sort())
                .filter(pl.col("_id").list.len() > 1).sort("campaignNumber"))
    duplicates = {row["campaignNumber"]: row["_id"] for row in repeated.head(MAX_EXAMPLES).iter_rows(named=True)}
    metadata.update(documents=numbers.height, duplicate_campaign_numbers=repeated.height,
                    duplicate_examples=duplicates, documents_without_campaign_number=unnumbered.height,
                    without_campaign_number_examples=_examples(unnumbered.get_column("_id").to_list()),
                    oversized_documents=dict(sorted(found.oversized.items())[:MAX_EXAMPLES]),
                    refused_keys=dict(sorted(found.keys.items())[:MAX_EXAMPLES]))
    problems = []
    if repeated.height:
        shown = "; ".join(f"{number} on {', '.join(ids)}" for number, ids in duplicates.items())
        more = f" and {repeated.height - len(duplicates)} more" if repeated.height > len(duplicates) else ""
        problems.append(f"{_plural(repeated.height, 'campaignNumber')} on more than one campaign "
                        f"({shown}{more})")
    if unnumbered.height:
        problems.append(f"{_plural(unnumbered.height, 'campaign')} without a campaignNumber "
                        f"({', '.join(_examples(unnumbered.get_column('_id').to_list()))})")
    for document_id, size in sorted(found.oversized.items())[:MAX_EXAMPLES]:
        problems.append(f"campaign {document_id} is {size} bytes of BSON, over the 16 MiB limit")
    for document_id, keys in sorted(found.keys.items())[:MAX_EXAMPLES]:
        problems.append(f"campaign {document_id} has key(s) {', '.join(repr(key) for key in keys)}, which "
                        "MongoDB refuses or cannot query (a $ first, a . or a NUL)")
    return problems


def mongodb_loadable(transformed_dir: Path) -> CheckOutcome:
    """Nothing in campaigns.json that MongoDB would refuse (see mongo/limits.py): checked before the load."""
    if missing := _transformed_missing(transformed_dir):
        return missing
    try:
        _, transformed = load_manifest(transformed_dir, "transformed")
        found = _scan_for_refusals(transformed_dir / CAMPAIGNS_FILE, transformed.files[CAMPAIGNS_FILE])
    except IntegrityError as error:
        return CheckOutcome(False, "ERROR", f"Cannot check what MongoDB would refuse: {error}.", {})
    metadata: dict[str, object] = {}
    if problems := _refusal_problems(found, metadata):
        return CheckOutcome(False, "ERROR", "MongoDB would refuse these campaigns, so nothing was loaded: "
                            + "; ".join(problems) + ".", metadata)
    return CheckOutcome(True, "ERROR", "Every campaign has its own campaignNumber, fits in 16 MiB and has "
                        "keys MongoDB accepts.", metadata)


# --- 5. MongoDB version ------------------------------------------------------------------------


def mongodb_version(store: DocumentStore, database: str, transformed_dir: Path) -> CheckOutcome:
    """`<database>.campaigns` holds as many documents, and the same targetAmount sum, as campaigns.json."""
    if missing := _transformed_missing(transformed_dir):
        return missing
    try:
        summary, transformed = load_manifest(transformed_dir, "transformed")
        totals = document_totals(transformed_dir / CAMPAIGNS_FILE, transformed.files[CAMPAIGNS_FILE])
    except IntegrityError as error:
        return CheckOutcome(False, "ERROR", f"Cannot check {database}: {error}.", {})
    expected_count, expected_sum = summary.get("totalCampaigns"), totals.target_amount_sum
    found_count, found_sum = store.count_and_decimal_sum(database, "campaigns", "price.targetAmount")
    metadata: dict[str, object] = {
        "database": database, "expected_count": expected_count, "found_count": found_count,
        "expected_target_amount_sum": str(expected_sum), "found_target_amount_sum": str(found_sum),
    }
    problems = []
    if found_count != expected_count:
        problems.append(f"{found_count} documents, expected {expected_count}")
    if found_sum != expected_sum:
        problems.append(f"targetAmount sum {found_sum}, expected {expected_sum}")
    if problems:
        return CheckOutcome(False, "ERROR", f"{database}.campaigns differs from the transformed export: "
                            + "; ".join(problems) + ".", metadata)
    return CheckOutcome(True, "ERROR", f"{database}.campaigns holds {found_count} documents with the "
                        "transformed export's targetAmount sum.", metadata)


# --- 6. the whole export against its summaries (bravo-pipeline verify) --------------------------


def export_verified(layout: ExportsLayout, ts: str) -> CheckOutcome:
    """Every file of `raw/<ts>/` and `transformed/<ts>/` (when there) read again and matched with its summary."""
    checked: dict[str, object] = {}
    for stage in ("raw", "transformed"):
        if stage == "transformed" and not layout.is_complete(stage, ts):
            continue
        try:
            result = verify_stage(layout.stage_dir(stage, ts), stage)
        except IntegrityError as error:
            return CheckOutcome(False, "ERROR", f"The export differs from its summaries: {error}.", checked)
        checked[stage] = {"files": result.files, "bytes": result.bytes}
    return CheckOutcome(True, "ERROR", "Every file matches its summary in size and sha256.", checked)
