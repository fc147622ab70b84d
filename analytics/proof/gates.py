"""Deterministic format gates, applied before any judge (docs/proof.md "Gates").

A request is an OpenAI chat-completions body (``messages``, ``response_format``, ``tools``,
``tool_choice``, ``max_tokens``); an answer is an :class:`~tokenproof.analytics.proof.answer.Answer`.
Checks: the call succeeded; not truncated (finish_reason ``length``); not empty; JSON parses for
``json_object``; the ``json_schema`` holds (jsonschema, so required fields, enums and types too);
tool calls name a declared tool and their arguments parse and validate against its parameters; a
required tool call is present; the candidate does not refuse where the baseline answered (after
normalising typography: curly apostrophes, "I'm unable to", "As an AI ..."); JSON wrapped in a Markdown
fence is a failure (the app's own ``json.loads`` fails on it) unless the route declares fences
tolerated; no repetition loop; not in another script than the request.

A failed gate is a loss for the candidate, whatever a judge would say. Route-level degenerate
answers (near-identical answers to distinct prompts) live in :mod:`tokenproof.analytics.proof.degenerate`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from tokenproof.analytics.proof.answer import Answer
from tokenproof.answer_rules import looks_like_refusal_text, normalise_typography, strip_fence

__all__ = ["FormatVerdict", "check_format", "looks_like_refusal", "normalise_typography", "output_format_of"]

@dataclass
class FormatVerdict:
    valid: bool
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"valid": self.valid, "failures": list(self.failures)}


def looks_like_refusal(answer: Answer) -> bool:
    return bool(answer.refusal) or looks_like_refusal_text(answer.text)


def repetition_loop(text: str, min_repeats: int = 4) -> bool:
    """A span of 20+ characters repeated back to back ``min_repeats`` times (a decoding loop)."""
    compact = re.sub(r"\s+", " ", text or "")
    return len(compact) >= 80 and re.search(r"(.{20,200}?)\1{" + str(min_repeats - 1) + ",}", compact, re.S) is not None


def _script(text: str) -> str | None:
    """The dominant script of a text's letters: latin, cyrillic, greek, cjk, arabic, other."""
    counts: dict[str, int] = {}
    for ch in text or "":
        if not ch.isalpha():
            continue
        o = ord(ch)
        kind = ("latin" if o < 0x250 else "greek" if 0x370 <= o < 0x400 else "cyrillic" if 0x400 <= o < 0x530
                else "arabic" if 0x600 <= o < 0x700 else "cjk" if 0x3040 <= o < 0xA000 or 0xAC00 <= o < 0xD7B0
                else "other")
        counts[kind] = counts.get(kind, 0) + 1
    total = sum(counts.values())
    if total < 20:
        return None
    kind, count = max(counts.items(), key=lambda kv: kv[1])
    return kind if count / total >= 0.8 else None


def wrong_language(request_text: str, answer_text: str) -> bool:
    """The answer is written in another script than the request (e.g. Chinese for an English prompt)."""
    asked, answered = _script(request_text), _script(answer_text)
    return asked is not None and answered is not None and asked != answered


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


def check_format(request: dict, answer: Answer, baseline: Answer | None = None,
                 tolerate_fence: bool = False) -> FormatVerdict:
    """Run every gate on ``answer``; ``baseline`` (when given) tells what the baseline did.

    ``tolerate_fence``: the route declares that the app strips a Markdown fence around JSON.
    """
    failures: list[str] = []
    if answer.error:
        return FormatVerdict(False, [f"call failed: {answer.error}"])
    if answer.finish_reason == "length":
        failures.append("truncated: finish_reason is 'length'")
    if not answer.text.strip() and not answer.tool_calls:
        failures.append("empty answer")
    if looks_like_refusal(answer) and not (baseline is not None and looks_like_refusal(baseline)):
        failures.append("refusal where the baseline answered")
    if repetition_loop(answer.text):
        failures.append("repetition loop")
    if baseline is not None and wrong_language(_request_text(request), answer.text) and not wrong_language(
            _request_text(request), baseline.text):
        failures.append("answer in another language (script) than the request")

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
        fenced = answer.text.strip().startswith("```")
        try:
            parsed = json.loads(strip_fence(answer.text) if tolerate_fence else answer.text)
        except json.JSONDecodeError as exc:
            failures.append("JSON wrapped in a Markdown fence (the app's json.loads fails on it)" if fenced
                            else f"not valid JSON ({exc.msg})")
        else:
            schema = _schema_of(request)
            if fmt == "json_object" and not isinstance(parsed, dict):
                failures.append("JSON answer is not an object")
            if schema is not None:
                _validate(parsed, schema, "JSON answer", failures)
    return FormatVerdict(not failures, failures)


def _request_text(request: dict) -> str:
    parts = []
    for message in request.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [p.get("text", "") for p in content if isinstance(p, dict)]
    return "\n".join(parts)
