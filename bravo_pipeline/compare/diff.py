"""Row diff of one table (or of the transformed documents), matched by key, in memory that grows with
the number of rows, never with their size."""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bravo_pipeline.compare.reading import (
    DIGEST_BYTES,
    CompareError,
    canonical,
    open_rows,
    parse_row,
    read_body_at,
    read_row_at,
    row_digest,
    row_lines,
    same_value,
    split_fields,
)
from bravo_pipeline.integrity import FileDigest

EXAMPLE_LIMIT = 10
ROW_LABEL_CHARS = 200
_MISSING = object()
_DECODER = json.JSONDecoder()


# ---------------------------------------------------------------------------
# Keys and examples
# ---------------------------------------------------------------------------


def _freeze(value: Any) -> Any:
    return canonical(value) if isinstance(value, dict | list) else value


def _rank(value: Any) -> tuple[int, Any, str]:
    if value is None:
        return (0, 0, "")
    if isinstance(value, int | float):
        return (1, value, "")
    return (2, 0, str(value))


def _key_order(key: Any) -> tuple[tuple[int, Any, str], ...]:
    parts = key if isinstance(key, tuple) else (key,)
    return tuple(_rank(part) for part in parts)


def key_label(key: Any) -> str:
    """How a key appears in examples: the value itself, or a JSON array for a composite key."""
    if isinstance(key, tuple):
        return json.dumps(list(key), ensure_ascii=False, separators=(",", ":"))
    return key if isinstance(key, str) else json.dumps(key)


class _Smallest:
    """The `limit` smallest items seen, without keeping them all."""

    def __init__(self, order: Callable[[Any], Any], limit: int = EXAMPLE_LIMIT) -> None:
        self._order = order
        self._limit = limit
        self._items: list[Any] = []

    def add(self, item: Any) -> None:
        self._items.append(item)
        if len(self._items) >= 50 * self._limit:
            self._items = heapq.nsmallest(self._limit, self._items, key=self._order)

    def extend(self, items: Iterable[Any]) -> None:
        self._items = heapq.nsmallest(self._limit, [*self._items, *items], key=self._order)

    def smallest(self) -> list[Any]:
        return heapq.nsmallest(self._limit, self._items, key=self._order)


# ---------------------------------------------------------------------------
# Row diff of one table (or of the transformed documents)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RowRule:
    key: tuple[str, ...]  # empty: no primary key, the whole row is the key
    columns: tuple[str, ...] | None  # compared columns; None: every field of either row
    ignored: frozenset[str] = frozenset()


@dataclass
class RowDiff:
    count_v1: int = 0
    count_v2: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    field_changes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(
        default_factory=lambda: {"added": [], "removed": [], "changed": []}
    )


Digests = tuple[FileDigest | None, FileDigest | None]


def diff_rows(old: Path | None, new: Path | None, rule: RowRule, digests: Digests = (None, None)) -> RowDiff:
    """Every row of `old` against every row of `new` (a None path is an empty table).

    Each file is checked against its digest (from its export's summary) as it streams.
    """
    if rule.key:
        return _diff_keyed(old, new, rule, digests)
    return _diff_multiset(old, new, rule, digests)


def _row_key(row: dict[str, Any], columns: tuple[str, ...], path: Path | None) -> Any:
    try:
        values = tuple(_freeze(row[column]) for column in columns)
    except KeyError as error:
        raise CompareError(f"{path}: a row has no key column {error.args[0]!r}") from None
    return values[0] if len(values) == 1 else values


def _fingerprint(body: bytes, row: dict[str, Any] | None, rule: RowRule) -> bytes:
    """Digest of the row's text, or of its canonical form without the ignored fields."""
    if not rule.ignored:
        return row_digest(body)
    assert row is not None
    kept = {name: value for name, value in row.items() if name not in rule.ignored}
    return row_digest(canonical(kept).encode())


_FAST_KEY_BYTES = 256


def _key_prefix(rule: RowRule) -> bytes | None:
    """`{"id":` when rows can be keyed without parsing them (one key column, nothing ignored)."""
    if len(rule.key) != 1 or rule.ignored:
        return None
    return b"{" + json.dumps(rule.key[0], ensure_ascii=False).encode() + b":"


def _fast_key(body: bytes, prefix: bytes | None) -> Any:
    """The key value when it is the row's first field (the usual case), else _MISSING.

    Decodes only that value, not the whole row: a 4 KB row is keyed in a microsecond.
    """
    if prefix is None or not body.startswith(prefix):
        return _MISSING
    head = body[len(prefix) : len(prefix) + _FAST_KEY_BYTES].decode("utf-8", errors="ignore")
    try:
        value, end = _DECODER.raw_decode(head)
    except json.JSONDecodeError:
        return _MISSING
    if end >= len(head) or head[end] not in ",}" or isinstance(value, dict | list):
        return _MISSING
    return value


def _keyed_row(
    body: bytes, path: Path | None, rule: RowRule, prefix: bytes | None
) -> tuple[Any, dict[str, Any] | None]:
    """(key, parsed row or None when the row did not need parsing)."""
    key = _fast_key(body, prefix)
    if key is not _MISSING:
        return key, None
    row = parse_row(body, path)
    return _row_key(row, rule.key, path), row


def _compared_fields(old: dict[str, Any], new: dict[str, Any], rule: RowRule) -> Iterable[str]:
    if rule.columns is not None:
        return rule.columns
    return sorted((old.keys() | new.keys()) - rule.ignored)


def _changed_fields(
    old: dict[str, tuple[str, Any]], new: dict[str, tuple[str, Any]], rule: RowRule
) -> list[str]:
    """Compared fields whose value differs: the same text is the same value, else the values decide."""
    changed = []
    for name in _compared_fields(old, new, rule):
        before, after = old.get(name), new.get(name)
        if before is None or after is None:
            if before is not after:
                changed.append(name)
        elif before[0] != after[0] and not same_value(before[1], after[1]):
            changed.append(name)
    return changed


def _index_keyed(path: Path | None, rule: RowRule, digest: FileDigest | None) -> dict[Any, bytes]:
    """key → row digest + byte offset of the row's line."""
    index: dict[Any, bytes] = {}
    prefix = _key_prefix(rule)
    for offset, body in row_lines(path, digest):
        key, row = _keyed_row(body, path, rule, prefix)
        if key in index:
            raise CompareError(f"{path}: primary key {key_label(key)} appears twice")
        index[key] = _fingerprint(body, row, rule) + offset.to_bytes(8, "little")
    return index


def _diff_keyed(old: Path | None, new: Path | None, rule: RowRule, digests: Digests) -> RowDiff:
    diff = RowDiff()
    added, changed, removed = (_Smallest(_key_order) for _ in range(3))
    prefix = _key_prefix(rule)
    with open_rows(old) as old_handle:
        index = _index_keyed(old, rule, digests[0])
        diff.count_v1 = len(index)
        for _, body in row_lines(new, digests[1]):
            diff.count_v2 += 1
            key, row = _keyed_row(body, new, rule, prefix)
            entry = index.pop(key, None)
            if entry is None:
                diff.added += 1
                added.add(key)
            elif entry[:DIGEST_BYTES] != _fingerprint(body, row, rule):
                old_body = read_body_at(old_handle, int.from_bytes(entry[DIGEST_BYTES:], "little"))
                fields = _changed_fields(split_fields(old_body, old), split_fields(body, new), rule)
                if fields:
                    diff.changed += 1
                    changed.add(key)
                    diff.field_changes.update(fields)
    diff.removed = len(index)
    removed.extend(index)
    diff.examples = {
        "added": [key_label(key) for key in added.smallest()],
        "removed": [key_label(key) for key in removed.smallest()],
        "changed": [key_label(key) for key in changed.smallest()],
    }
    return diff


def _row_identity(row: dict[str, Any], rule: RowRule) -> tuple[bytes, dict[str, Any]]:
    names = rule.columns if rule.columns is not None else sorted(row.keys() - rule.ignored)
    compared = {name: row.get(name) for name in names}
    return row_digest(canonical(compared).encode()), compared


def _row_text(compared: dict[str, Any]) -> str:
    text = json.dumps(compared, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= ROW_LABEL_CHARS else text[: ROW_LABEL_CHARS - 1] + "…"


def _diff_multiset(old: Path | None, new: Path | None, rule: RowRule, digests: Digests) -> RowDiff:
    """Tables without a primary key: rows are equal or not, so only added/removed."""
    diff = RowDiff()
    remaining: Counter[bytes] = Counter()
    first_offset: dict[bytes, int] = {}
    added, removed = _Smallest(str), _Smallest(str)
    with open_rows(old) as old_handle:
        for offset, body in row_lines(old, digests[0]):
            diff.count_v1 += 1
            digest, _ = _row_identity(parse_row(body, old), rule)
            remaining[digest] += 1
            first_offset.setdefault(digest, offset)
        for _, body in row_lines(new, digests[1]):
            diff.count_v2 += 1
            digest, compared = _row_identity(parse_row(body, new), rule)
            if remaining[digest] > 0:
                remaining[digest] -= 1
                continue
            diff.added += 1
            added.add(_row_text(compared))
        for digest, count in remaining.items():
            if count > 0:
                diff.removed += count
                _, compared = _row_identity(read_row_at(old_handle, first_offset[digest], old), rule)
                removed.add(_row_text(compared))
    diff.examples = {"added": added.smallest(), "removed": removed.smallest(), "changed": []}
    return diff


