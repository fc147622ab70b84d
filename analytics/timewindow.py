"""Time windows for analytics queries: ``7d``/``24h``/``30m``/``2w`` ago, ``now``, ISO dates and times.

Every time is UTC. A bad value raises ``ValueError`` with a message naming the accepted forms, which
the API turns into HTTP 400 and the CLI into an error line.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["GRANULARITIES", "parse_time", "window"]

GRANULARITIES = ("hour", "day", "week", "month", "total")
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|min|h|d|w)$")
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
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
        return now - timedelta(**{_UNITS[unit]: amount})
    candidate = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        raise ValueError(f"bad time {raw!r}; use {_FORMS}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def window(since: str | None, until: str | None, default_since: str = "7d",
           now: datetime | None = None) -> tuple[datetime, datetime]:
    """(since, until) from user input; until defaults to now and must be after since."""
    now = now or datetime.now(UTC)
    start = parse_time(since or default_since, now)
    end = parse_time(until, now) if until else now
    if end <= start:
        raise ValueError(f"until ({end:%Y-%m-%dT%H:%M:%SZ}) must be after since ({start:%Y-%m-%dT%H:%M:%SZ})")
    return start, end
