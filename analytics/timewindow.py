"""Time windows for analytics queries: ``7d``/``24h``/``30m``/``2w`` ago, ``now``, ISO dates and times.

Every time is UTC and lies between ``EARLIEST`` and ``LATEST`` (what the store can hold). A bad or
out-of-range value raises ``ValueError`` with a message naming the accepted forms, which
the API turns into HTTP 400 and the CLI into an error line.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["EARLIEST", "GRANULARITIES", "LATEST", "parse_time", "window"]

GRANULARITIES = ("hour", "day", "week", "month", "total")
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|min|h|d|w)$")
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# what the store's DateTime columns hold (ClickHouse DateTime ends in 2106)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2105, 12, 31, tzinfo=UTC)
_FORMS = "a duration ago (30m, 24h, 7d, 2w), 'now', or an ISO date/time such as 2026-11-01T12:00Z"


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """A point in time (UTC, aware) from user input."""
    now = now or datetime.now(UTC)
    raw = (text or "").strip()
    if not raw:
        raise ValueError(f"empty time; use {_FORMS}")
    if raw.lower() == "now":
        return now
    match = _RELATIVE.match(raw.lower())
    if match:
        amount, unit = float(match.group(1)), match.group(2)
        try:
            return _in_range(now - timedelta(**{_UNITS[unit]: amount}), raw)
        except OverflowError:
            raise ValueError(f"time {raw!r} is out of range; times go from {EARLIEST:%Y-%m-%d} "
                             f"to {LATEST:%Y-%m-%d}") from None
    candidate = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        raise ValueError(f"bad time {raw!r}; use {_FORMS}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return _in_range(moment.astimezone(UTC), raw)
    except OverflowError:  # e.g. 0001-01-01 with a positive offset
        raise ValueError(f"time {raw!r} is out of range; times go from {EARLIEST:%Y-%m-%d} "
                         f"to {LATEST:%Y-%m-%d}") from None


def _in_range(moment: datetime, raw: str) -> datetime:
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(f"time {raw!r} is out of range; times go from {EARLIEST:%Y-%m-%d} "
                         f"to {LATEST:%Y-%m-%d}")
    return moment


def window(since: str | None, until: str | None, default_since: str = "7d",
           now: datetime | None = None) -> tuple[datetime, datetime]:
    """(since, until) from user input; until defaults to now and must be after since."""
    now = now or datetime.now(UTC)
    start = parse_time(since or default_since, now)
    end = parse_time(until, now) if until else now
    if end <= start:
        raise ValueError(f"until ({end:%Y-%m-%dT%H:%M:%SZ}) must be after since ({start:%Y-%m-%dT%H:%M:%SZ})")
    return start, end
