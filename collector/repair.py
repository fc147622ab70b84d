"""Start-up repair: make ``llm_calls`` and the hourly rollup agree with what ``otel_traces`` holds.

One OTLP insert writes three tables in turn (``otel_traces``, then ``llm_calls`` and
``llm_calls_hourly`` through the materialized views); the engine commits each table's part on its
own, so a crash (SIGKILL, power loss) between two of them leaves the later tables short until the
exporter re-sends the batch, and it may never do so. The service therefore repairs, before it
takes traffic and then periodically, the settled hours (see ``settled_range``) of the last
``rollup_repair_hours`` (docs/ingest.md, "Consistency after a crash"):

1. inference spans in ``otel_traces`` with no row in ``llm_calls`` are derived again, with the
   ``llm_calls_mv`` view's own SELECT as the engine stores it (so the derivation never drifts
   from the view's); the rollup view adds them to ``llm_calls_hourly`` as usual;
2. the rollup is compared, hour by key, with ``llm_calls FINAL`` (each span once, latest price) and
   the difference is inserted as signed correction rows, the same way re-pricing corrects it.

Both steps are idempotent: running them on consistent tables inserts nothing. The periodic pass
(every ``rollup_repair_interval_minutes``, over ``PERIODIC_HOURS``) also corrects a span that was
sent again in a different batch, which the rollup view counts twice while ``llm_calls`` keeps one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["PERIODIC_HOURS", "ROLLUP_KEYS", "SETTLE_HOURS", "repair", "repair_llm_calls", "repair_rollup",
           "settled_range"]

log = logging.getLogger("tokenproof.collector")
SETTLE_HOURS = 1  # hours after an hour's end before it is repaired (retries come within minutes)
PERIODIC_HOURS = 6  # how far back the periodic pass looks (the start-up pass: rollup_repair_hours)

ROLLUP_KEYS = ("Hour", "ServiceName", "Feature", "Tier", "Customer", "Provider", "RequestModel",
               "ResponseModel", "TrafficClass", "PromptFingerprint")
_SUMS = ("Calls", "InputTokens", "OutputTokens", "CacheReadTokens", "CacheCreationTokens", "ReasoningTokens",
         "CostUSD", "PricedCalls", "UnpricedCalls", "EstimatedCalls", "Errors", "DurationNs")
_KEYS = ", ".join(ROLLUP_KEYS)

VIEW_SELECT_SQL = "SELECT as_select FROM system.tables WHERE database = currentDatabase() AND name = 'llm_calls_mv'"
COLUMNS_SQL = ("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'llm_calls' "
               "ORDER BY position")
MISSING_CALLS_SQL = """
SELECT count() FROM ({view}) AS derived
WHERE derived.Timestamp >= {{since:DateTime64(9)}} AND derived.Timestamp < {{until:DateTime64(9)}}
  AND (derived.TraceId, derived.SpanId) NOT IN
      (SELECT TraceId, SpanId FROM llm_calls
       WHERE Timestamp >= {{since:DateTime64(9)}} AND Timestamp < {{until:DateTime64(9)}})
"""
INSERT_MISSING_CALLS_SQL = """
INSERT INTO llm_calls ({columns})
SELECT {columns} FROM ({view}) AS derived
WHERE derived.Timestamp >= {{since:DateTime64(9)}} AND derived.Timestamp < {{until:DateTime64(9)}}
  AND (derived.TraceId, derived.SpanId) NOT IN
      (SELECT TraceId, SpanId FROM llm_calls
       WHERE Timestamp >= {{since:DateTime64(9)}} AND Timestamp < {{until:DateTime64(9)}})
"""

# expected (from the deduplicated calls) minus actual (the rollup), per key; non-zero rows only
ROLLUP_DELTA_SELECT = f"""
SELECT {_KEYS},
       toInt64(sum(Calls)) AS Calls, toInt64(sum(InputTokens)) AS InputTokens,
       toInt64(sum(OutputTokens)) AS OutputTokens, toInt64(sum(CacheReadTokens)) AS CacheReadTokens,
       toInt64(sum(CacheCreationTokens)) AS CacheCreationTokens, toInt64(sum(ReasoningTokens)) AS ReasoningTokens,
       sum(CostUSD) AS CostUSD, toInt64(sum(PricedCalls)) AS PricedCalls,
       toInt64(sum(UnpricedCalls)) AS UnpricedCalls, toInt64(sum(EstimatedCalls)) AS EstimatedCalls,
       toInt64(sum(Errors)) AS Errors, toInt64(sum(DurationNs)) AS DurationNs
FROM (
    SELECT toStartOfHour(Timestamp) AS Hour, ServiceName, Feature, Tier, Customer, Provider, RequestModel,
           ResponseModel, TrafficClass, PromptFingerprint,
           toInt64(1) AS Calls, toInt64(InputTokens) AS InputTokens, toInt64(OutputTokens) AS OutputTokens,
           toInt64(CacheReadTokens) AS CacheReadTokens, toInt64(CacheCreationTokens) AS CacheCreationTokens,
           toInt64(ReasoningTokens) AS ReasoningTokens, CostUSD, toInt64(Priced = 1) AS PricedCalls,
           toInt64(Priced = 0) AS UnpricedCalls, toInt64(UsageSource = 'estimated') AS EstimatedCalls,
           toInt64(StatusCode = 'Error') AS Errors, toInt64(DurationNs) AS DurationNs
    FROM llm_calls FINAL
    WHERE Timestamp >= {{since:DateTime}} AND Timestamp < {{until:DateTime}}
    UNION ALL
    SELECT {_KEYS}, -Calls, -InputTokens, -OutputTokens, -CacheReadTokens, -CacheCreationTokens,
           -ReasoningTokens, -CostUSD, -PricedCalls, -UnpricedCalls, -EstimatedCalls, -Errors, -DurationNs
    FROM llm_calls_hourly
    WHERE Hour >= {{since:DateTime}} AND Hour < {{until:DateTime}}
)
GROUP BY {_KEYS}
HAVING Calls != 0 OR InputTokens != 0 OR OutputTokens != 0 OR CacheReadTokens != 0
    OR CacheCreationTokens != 0 OR ReasoningTokens != 0 OR abs(CostUSD) > 1e-9 OR PricedCalls != 0
    OR UnpricedCalls != 0 OR EstimatedCalls != 0 OR Errors != 0 OR DurationNs != 0
"""
ROLLUP_DELTA_COUNT_SQL = f"SELECT count() FROM ({ROLLUP_DELTA_SELECT})"
INSERT_ROLLUP_DELTA_SQL = f"INSERT INTO llm_calls_hourly ({_KEYS}, {', '.join(_SUMS)}) {ROLLUP_DELTA_SELECT}"


def settled_range(hours: float, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[since, until): the ``hours`` hours that ended ``SETTLE_HOURS`` before the current hour began.

    An exporter re-sends a failed batch within minutes; repairing an hour it may still re-send
    would count that batch twice (the rollup view adds the re-sent block again), so repairs only
    touch settled hours.
    """
    now = now or datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    until = hour - timedelta(hours=SETTLE_HOURS)
    return until - timedelta(hours=hours), until


def repair_llm_calls(store: Any, since: datetime, until: datetime) -> int:
    """Derive ``llm_calls`` rows missing for inference spans in [since, until); returns how many."""
    rows = store.query_rows(VIEW_SELECT_SQL)
    if not rows or not rows[0][0]:
        return 0
    view = rows[0][0]  # the engine's own stored view definition, not user input
    columns = ", ".join(f"`{name}`" for (name,) in store.query_rows(COLUMNS_SQL))
    params = {"since": since, "until": until}
    missing = int(store.query_rows(MISSING_CALLS_SQL.format(view=view), params)[0][0])
    if missing:
        store.command(INSERT_MISSING_CALLS_SQL.format(view=view, columns=columns), params)
    return missing


def repair_rollup(store: Any, since: datetime, until: datetime) -> int:
    """Correct ``llm_calls_hourly`` from ``llm_calls FINAL`` for hours in [since, until); returns keys fixed."""
    params = {"since": since, "until": until}
    keys = int(store.query_rows(ROLLUP_DELTA_COUNT_SQL, params)[0][0])
    if keys:
        store.command(INSERT_ROLLUP_DELTA_SQL, params)
    return keys


def repair(store: Any, hours: float, now: datetime | None = None) -> dict[str, int]:
    """Both steps over the ``hours`` settled hours before now (0 = nothing); logs what it fixed."""
    if hours <= 0:
        return {"llm_calls": 0, "rollup_keys": 0}
    since, until = settled_range(hours, now)
    calls = repair_llm_calls(store, since, until)
    keys = repair_rollup(store, since, until)
    if calls or keys:
        log.warning("repair: %d LLM call(s) derived again, %d rollup key(s) corrected", calls, keys)
    return {"llm_calls": calls, "rollup_keys": keys}
