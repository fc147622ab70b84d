"""Reading and writing the proof tables (migrations 0200, 0201) and the captured prompts of a request group.

SQL lives in the module constants below with server-side parameters; nothing is formatted from
user input. Comparison records use the keys of :func:`tokenproof.analytics.proof.route.comparison_record`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from tokenproof import semconv

__all__ = [
    "ROUTE_COLUMNS",
    "captured_prompts",
    "get_route",
    "insert_comparisons",
    "list_routes",
    "load_comparisons",
    "next_version",
    "save_route",
    "used_prompt_refs",
]

ROUTE_COLUMNS = ["RouteId", "Lineage", "Version", "ServiceName", "Feature", "PromptFingerprint",
                 "BaselineProvider", "BaselineModel", "CandidateModel", "CandidatePromptHash", "JudgeModel",
                 "MatchJson", "ParamsJson", "Status", "Decision", "BudgetUSD", "SpentUSD", "MonthlySavingUSD",
                 "CreatedAt", "UpdatedAt"]

# (column, record key, to column, from column)
_COMPARISON_FIELDS: list[tuple[str, str, Any, Any]] = [
    ("PromptRef", "prompt_ref", str, str), ("RequestRef", "request_ref", str, str),
    ("BaselineModel", "baseline_model", str, str), ("CandidateModel", "candidate_model", str, str),
    ("JudgeModel", "judge_model", str, str), ("Question", "question", str, str),
    ("BaselineOutput", "baseline_output", str, str), ("CandidateOutput", "candidate_output", str, str),
    ("BaselineHash", "baseline_hash", str, str), ("CandidateHash", "candidate_hash", str, str),
    ("BaselineFormatValid", "baseline_format_valid", int, bool),
    ("CandidateFormatValid", "candidate_format_valid", int, bool),
    ("FormatFailures", "format_failures", list, list),
    ("VerdictBaselineFirst", "verdict_baseline_first", str, str),
    ("VerdictCandidateFirst", "verdict_candidate_first", str, str),
    ("ResultBaselineFirst", "result_baseline_first", str, str),
    ("ResultCandidateFirst", "result_candidate_first", str, str),
    ("SwapConsistent", "swap_consistent", lambda v: None if v is None else int(v),
     lambda v: None if v is None else bool(v)),
    ("Outcome", "outcome", str, str), ("DecidedBy", "decided_by", str, str),
    ("BaselineLength", "baseline_length", int, int), ("CandidateLength", "candidate_length", int, int),
    ("LengthRatio", "length_ratio", float, float), ("BaselineRecorded", "baseline_recorded", int, bool),
    ("BaselineCostUSD", "baseline_cost_usd", float, float),
    ("CandidateCostUSD", "candidate_cost_usd", float, float),
    ("JudgeCostUSD", "judge_cost_usd", float, float),
    ("BaselineLatencyS", "baseline_latency_s", float, float),
    ("CandidateLatencyS", "candidate_latency_s", float, float),
    ("JudgeLatencyS", "judge_latency_s", float, float),
    ("ErrorKind", "error_kind", str, str), ("Reason", "reason", str, str),
    ("JudgeCalls", "judge_calls", int, int),
]

SELECT_ROUTE = f"SELECT {', '.join(ROUTE_COLUMNS)} FROM proof_routes FINAL WHERE RouteId = {{route:String}}"
SELECT_ROUTES = f"SELECT {', '.join(ROUTE_COLUMNS)} FROM proof_routes FINAL ORDER BY CreatedAt"
SELECT_LINEAGE_VERSION = """
SELECT max(Version) FROM proof_routes FINAL WHERE Lineage = {lineage:String} AND RouteId != {route:String}
"""
SELECT_COMPARISONS = (
    "SELECT Timestamp, Seq, "
    + ", ".join(c for c, *_ in _COMPARISON_FIELDS)
    + " FROM proof_comparisons WHERE RouteId = {route:String} ORDER BY Seq"
)
# Prompts already compared on any version of one (request group, candidate): never drawn again.
SELECT_USED_PROMPTS = """
SELECT DISTINCT PromptRef FROM proof_comparisons
WHERE RouteId IN (SELECT RouteId FROM proof_routes FINAL
                  WHERE Lineage = {lineage:String} AND CandidateModel = {candidate:String})
"""
# Captured product prompts of one request group (content capture on) from a recent window, in a
# seeded random order stratified by day: the k-th draw of every day comes before any (k+1)-th.
SELECT_PROMPTS = """
SELECT TraceId, SpanId, Timestamp, Provider, RequestModel, InputTokens, OutputTokens, CacheReadTokens,
       CostUSD, Priced, DurationNs,
       SpanAttributes['gen_ai.system_instructions'] AS system,
       SpanAttributes['gen_ai.input.messages'] AS messages,
       SpanAttributes['gen_ai.output.messages'] AS output,
       SpanAttributes['tokenproof.request.params'] AS params
FROM llm_calls FINAL
WHERE TrafficClass = {product:String}
  AND ({service:String} = '' OR ServiceName = {service:String})
  AND ({feature:String} = '' OR Feature = {feature:String})
  AND ({fingerprint:String} = '' OR PromptFingerprint = {fingerprint:String})
  AND RequestModel = {baseline:String}
  AND SpanAttributes['gen_ai.input.messages'] != ''
  AND StatusCode != 'Error'
  AND Timestamp >= now64(9) - toIntervalDay({days:UInt32})
ORDER BY row_number() OVER (PARTITION BY toDate(Timestamp) ORDER BY cityHash64(TraceId, SpanId, {seed:UInt64})),
         cityHash64(TraceId, SpanId, {seed:UInt64})
LIMIT {limit:UInt32}
"""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def save_route(store, route: dict) -> None:
    """Insert a new version of a route row (created/updated timestamps filled in)."""
    now = _now()
    row = dict(route)
    row.setdefault("CreatedAt", now)
    row["UpdatedAt"] = now
    store.insert("proof_routes", [[row.get(c) for c in ROUTE_COLUMNS]], ROUTE_COLUMNS)


def _route_dict(values) -> dict:
    return dict(zip(ROUTE_COLUMNS, values, strict=False))


def get_route(store, route_id: str) -> dict | None:
    rows = store.query_rows(SELECT_ROUTE, {"route": route_id})
    return _route_dict(rows[0]) if rows else None


def list_routes(store) -> list[dict]:
    return [_route_dict(r) for r in store.query_rows(SELECT_ROUTES)]


def next_version(store, lineage: str, route_id: str) -> int:
    rows = store.query_rows(SELECT_LINEAGE_VERSION, {"lineage": lineage, "route": route_id})
    return int(rows[0][0] or 0) + 1 if rows else 1


def insert_comparisons(store, route_id: str, version: int, records: list[dict], start_seq: int) -> None:
    if not records:
        return
    columns = ["Timestamp", "RouteId", "RouteVersion", "Seq"] + [c for c, *_ in _COMPARISON_FIELDS]
    now = _now()
    rows = []
    for offset, record in enumerate(records):
        values = []
        for column, key, to, _back in _COMPARISON_FIELDS:
            value = record.get(key)
            if value is None and column not in _NULLABLE:
                value = _EMPTY[to]
            values.append(None if value is None else to(value))
        rows.append([now, route_id, version, start_seq + offset, *values])
    store.insert("proof_comparisons", rows, columns)


_NULLABLE = {"SwapConsistent", "BaselineCostUSD", "CandidateCostUSD", "JudgeCostUSD"}
_EMPTY = {str: "", int: 0, float: 0.0, list: []}


def load_comparisons(store, route_id: str) -> list[dict]:
    records = []
    for row in store.query_rows(SELECT_COMPARISONS, {"route": route_id}):
        record = {"route_id": route_id, "timestamp": str(row[0]), "seq": int(row[1])}
        for (_column, key, _to, back), value in zip(_COMPARISON_FIELDS, row[2:], strict=False):
            record[key] = back(value) if value is not None else None
        records.append(record)
    return records


def used_prompt_refs(store, lineage: str, candidate: str) -> set[str]:
    return {row[0] for row in store.query_rows(SELECT_USED_PROMPTS, {"lineage": lineage, "candidate": candidate})}


def captured_prompts(store, *, service: str, feature: str, fingerprint: str, baseline: str,
                     limit: int, seed: int = 0, days: int = 14) -> list[dict]:
    """Replayable requests of a group: OpenAI chat bodies rebuilt from the captured span content,
    a seeded random sample of the last ``days`` days stratified by day."""
    rows = store.query_dicts(SELECT_PROMPTS, {
        "product": semconv.TRAFFIC_PRODUCT, "service": service or "", "feature": feature or "",
        "fingerprint": fingerprint or "", "baseline": baseline, "limit": int(limit), "seed": int(seed),
        "days": int(days)})
    prompts = []
    for row in rows:
        body = _body(row)
        if body is None:
            continue
        prompts.append({"ref": f"{row['TraceId']}:{row['SpanId']}", "body": body,
                        "output": _output(row.get("output")), "provider": row["Provider"],
                        "usage": (int(row["InputTokens"]), int(row["OutputTokens"]), int(row["CacheReadTokens"])),
                        "cost_usd": float(row["CostUSD"]) if row["Priced"] else None,
                        "latency_s": int(row["DurationNs"]) / 1e9})
    return prompts


def _loads(raw: str | None):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return None


def _text_of(parts) -> str:
    if isinstance(parts, str):
        return parts
    return "".join(p.get("content", "") for p in parts or [] if isinstance(p, dict) and p.get("type") == "text")


def _body(row: dict) -> dict | None:
    messages_raw = _loads(row.get("messages"))
    if not isinstance(messages_raw, list):
        return None
    messages = []
    system = _loads(row.get("system"))
    if system:
        messages.append({"role": "system", "content": _text_of(system)})
    for message in messages_raw:
        if not isinstance(message, dict):
            continue
        role = message.get("role") or "user"
        parts = message.get("parts") or []
        if role == "tool":
            response = next((p for p in parts if p.get("type") == "tool_call_response"), {})
            messages.append({"role": "tool", "tool_call_id": response.get("id") or "",
                             "content": response.get("response") if isinstance(response.get("response"), str)
                             else json.dumps(response.get("response"))})
            continue
        entry: dict = {"role": role, "content": _text_of(parts)}
        calls = [p for p in parts if p.get("type") == "tool_call"]
        if calls:
            entry["tool_calls"] = [{"id": c.get("id") or f"call_{i}", "type": "function", "function": {
                "name": c.get("name"), "arguments": c.get("arguments") if isinstance(c.get("arguments"), str)
                else json.dumps(c.get("arguments") or {})}} for i, c in enumerate(calls)]
        messages.append(entry)
    params = _loads(row.get("params")) or {}
    body = {k: v for k, v in params.items() if k not in {"messages", "model", "stream", "stream_options"}}
    body["messages"] = messages
    body["model"] = row["RequestModel"]
    return body


def _output(raw: str | None) -> dict | None:
    """The captured baseline answer; None when missing or empty (the baseline is then replayed)."""
    data = _loads(raw)
    if not isinstance(data, list) or not data:
        return None
    message = data[0] if isinstance(data[0], dict) else {}
    parts = message.get("parts") or []
    calls = [{"name": p.get("name") or "", "arguments": p.get("arguments") if isinstance(p.get("arguments"), str)
              else json.dumps(p.get("arguments") or {})} for p in parts if isinstance(p, dict) and p.get("type") == "tool_call"]
    text = _text_of(parts)
    if not text.strip() and not calls:
        return None
    return {"text": text, "tool_calls": calls, "finish_reason": message.get("finish_reason")}
