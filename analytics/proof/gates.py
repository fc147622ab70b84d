"""Deterministic format gates, applied before any judge (proof-procedure.md section 2).

A request is an OpenAI chat-completions body (``messages``, ``response_format``, ``tools``,
``tool_choice``, ``max_tokens``); an answer is an :class:`~tokenproof.analytics.proof.answer.Answer`.
Checks: the call succeeded; not truncated (finish_reason ``length``); not empty; JSON parses for
``json_object``; the ``json_schema`` holds (jsonschema, so required fields, enums and types too);
tool calls name a declared tool and their arguments parse and validate against its parameters; a
required tool call is present; the candidate does not refuse where the baseline answered.

A failed gate is a loss for the candidate, whatever a judge would say.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from tokenproof.analytics.proof.answer import Answer

__all__ = ["FormatVerdict", "check_format", "looks_like_refusal", "output_format_of"]

_REFUSAL = re.compile(
    r"^\s*(?:i'?m sorry|i am sorry|sorry|i apologi[sz]e|unfortunately)?[,.!]?\s*"
    r"(?:but\s+)?(?:i\s+(?:can(?:no|')t|cannot|am\s+(?:not\s+able|unable)|won'?t|will\s+not)\s+"
    r"(?:help|assist|comply|provide|do\s+that|answer|fulfil|fulfill))",
    re.I,
)


@dataclass
class FormatVerdict:
    valid: bool
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"valid": self.valid, "failures": list(self.failures)}


def looks_like_refusal(answer: Answer) -> bool:
    if answer.refusal:
        return True
    return bool(answer.text) and bool(_REFUSAL.match(answer.text[:200]))


def output_format_of(request: dict) -> str:
    """text | json | json_schema | tool_calls: what the request asks the answer to be."""
    if request.get("tools"):
        return "tool_calls"
    kind = (request.get("response_format") or {}).get("type")
    if kind == "json_schema":
        return "json_schema"
    if kind == "json_object":
        return "json"
    return "text"


def _schema_of(request: dict) -> dict | None:
    fmt = request.get("response_format") or {}
    if fmt.get("type") != "json_schema":
        return None
    spec = fmt.get("json_schema") or {}
    return spec.get("schema") if isinstance(spec, dict) else None


def _tools_of(request: dict) -> dict[str, dict]:
    tools = {}
    for tool in request.get("tools") or []:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(fn, dict) and fn.get("name"):
            tools[fn["name"]] = fn.get("parameters") or {"type": "object"}
        elif isinstance(tool, dict) and tool.get("name"):  # Anthropic shape
            tools[tool["name"]] = tool.get("input_schema") or {"type": "object"}
    return tools


def _validate(instance: Any, schema: dict, what: str, failures: list[str]) -> None:
    try:
        validator_cls = jsonschema.validators.validator_for(schema)
        validator_cls.check_schema(schema)
        error = jsonschema.exceptions.best_match(validator_cls(schema).iter_errors(instance))
    except jsonschema.exceptions.SchemaError as exc:
        failures.append(f"{what}: the request's schema is invalid ({exc.message})")
        return
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        failures.append(f"{what} does not match the schema at {where}: {error.message}")


def check_format(request: dict, answer: Answer, baseline: Answer | None = None) -> FormatVerdict:
    """Run every gate on ``answer``; ``baseline`` (when given) tells what the baseline did."""
    failures: list[str] = []
    if answer.error:
        return FormatVerdict(False, [f"call failed: {answer.error}"])
    if answer.finish_reason == "length":
        failures.append("truncated: finish_reason is 'length'")
    if not answer.text.strip() and not answer.tool_calls:
        failures.append("empty answer")
    if looks_like_refusal(answer) and not (baseline is not None and looks_like_refusal(baseline)):
        failures.append("refusal where the baseline answered")

    tools = _tools_of(request)
    tool_choice = request.get("tool_choice")
    if answer.tool_calls:
        if not tools:
            failures.append("tool call although the request declares no tools")
        for call in answer.tool_calls:
            if call.name not in tools:
                failures.append(f"tool call names an undeclared tool {call.name!r}")
                continue
            try:
                args = json.loads(call.arguments or "{}")
            except json.JSONDecodeError as exc:
                failures.append(f"arguments of {call.name} are not JSON ({exc.msg})")
                continue
            _validate(args, tools[call.name], f"arguments of {call.name}", failures)
    else:
        required = tool_choice == "required" or (isinstance(tool_choice, dict) and tool_choice.get("type") == "function")
        if tools and required:
            failures.append("no tool call although the request requires one")
        elif tools and baseline is not None and baseline.tool_calls and not baseline.error:
            failures.append("answered in text where the baseline called a tool")

    fmt = (request.get("response_format") or {}).get("type")
    if fmt in {"json_object", "json_schema"} and not answer.tool_calls and answer.text.strip():
        try:
            parsed = json.loads(_strip_fence(answer.text))
        except json.JSONDecodeError as exc:
            failures.append(f"not valid JSON ({exc.msg})")
        else:
            schema = _schema_of(request)
            if fmt == "json_object" and not isinstance(parsed, dict):
                failures.append("JSON answer is not an object")
            if schema is not None:
                _validate(parsed, schema, "JSON answer", failures)
    return FormatVerdict(not failures, failures)


def _strip_fence(text: str) -> str:
    """Models sometimes wrap JSON in a Markdown fence; strict APIs would not, we accept the fence."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        if stripped.rstrip().endswith("```"):
            stripped = stripped.rstrip()[:-3]
    return stripped
