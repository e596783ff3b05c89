"""Export timestamps (`YYYYMMDD-HHMMSS`, UTC): the one key of every export.

Plain functions, no Dagster: the partitions module, the CLI and the library
all validate through here before a key is used for anything.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

_PATTERN = re.compile(r"^[0-9]{8}-[0-9]{6}$")
_FORMAT = "%Y%m%d-%H%M%S"
# Clocks of hosts disagree a little; an export dated further ahead would hold "latest" (and the
# newest export that retention never deletes) until that date.
MAX_FUTURE = timedelta(days=1)


class InvalidTimestampError(ValueError):
    pass


def new_timestamp(now: datetime | None = None) -> str:
    """The key for an export taken now (UTC)."""
    moment = now or datetime.now(UTC)
    return moment.astimezone(UTC).strftime(_FORMAT)


def validate_timestamp(value: object) -> str:
    """Return `value` if it is a real UTC date-time written YYYYMMDD-HHMMSS, else raise."""
    text = value if isinstance(value, str) else ""
    if not _PATTERN.match(text):
        raise InvalidTimestampError(
            f"invalid export timestamp {value!r}: expected YYYYMMDD-HHMMSS (UTC), e.g. 20250622-072114"
        )
    try:
        moment = datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidTimestampError(
            f"invalid export timestamp {value!r}: not a real date and time"
        ) from None
    if moment > datetime.now(UTC) + MAX_FUTURE:
        raise InvalidTimestampError(
            f"invalid export timestamp {text}: more than a day in the future (now {new_timestamp()} UTC)"
        )
    return text


def timestamp_datetime(ts: str) -> datetime:
    return datetime.strptime(validate_timestamp(ts), _FORMAT).replace(tzinfo=UTC)


def timestamp_date(ts: str) -> date:
    return timestamp_datetime(ts).date()


def iso_utc(moment: datetime) -> str:
    """`2025-06-22T07:21:14Z` (seconds precision) for summaries."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
