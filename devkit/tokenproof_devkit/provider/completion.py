"""One completion, provider-neutral: answer text or a tool call, truncation, token counts."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from tokenproof_devkit.provider.answers import (
    Conversation,
    choose_answer,
    json_answer,
    reasoning_tokens,
    tool_arguments,
)
from tokenproof_devkit.provider.models import ModelInfo
from tokenproof_devkit.provider.options import ProviderOptions
from tokenproof_devkit.provider.usage import count_tokens, truncate


@dataclass
class ToolCall:
    name: str
    arguments: str          # JSON text
    id: str = field(default_factory=lambda: "call_" + uuid.uuid4().hex[:24])

    @property
    def input(self) -> dict:
        return json.loads(self.arguments)


@dataclass
class Completion:
    text: str
    tool_calls: list[ToolCall]
    finish: str                 # "stop" | "length" | "tool_calls"
    output_tokens: int          # visible tokens + reasoning tokens
    reasoning_tokens: int
    record_id: str | None
    source: str


def replay_headers(c: Completion) -> dict[str, str]:
    """Response headers naming what was replayed (for tests and the proof engine's ground truth)."""
    headers = {"x-tokenproof-source": c.source}
    if c.record_id:
        headers["x-tokenproof-record"] = c.record_id
    return headers


@dataclass
class ToolSpec:
    name: str
    parameters: dict


def pick_tool(tools: list[ToolSpec], forced: str | bool | None, conv: Conversation) -> ToolSpec | None:
    """The tool to call: ``forced`` is a tool name, True (any tool) or None/False (only if asked)."""
    if not tools or conv.last_is_tool_result:
        return None
    if isinstance(forced, str):
        return next((t for t in tools if t.name == forced), None)
    text = conv.last_user.lower()
    named = next((t for t in tools if t.name.lower() in text or t.name.lower().replace("_", " ") in text), None)
    if named is not None:
        return named
    return tools[0] if forced is True else None


def complete(conv: Conversation, info: ModelInfo, options: ProviderOptions, *, max_tokens: int | None = None,
             tool: ToolSpec | None = None, json_mode: bool = False, json_schema: dict | None = None) -> Completion:
    answer = choose_answer(conv, info, options)
    reasoning = reasoning_tokens(info, conv.full_text())
    if max_tokens is not None:
        reasoning = min(reasoning, max_tokens)
        budget = max_tokens - reasoning
    else:
        budget = None
    if tool is not None:
        call = ToolCall(tool.name, json.dumps(tool_arguments(tool.parameters, conv.last_user), ensure_ascii=False))
        used = count_tokens(call.name + call.arguments, info.requested)
        return Completion("", [call], "tool_calls", used + reasoning, reasoning, answer.record_id, answer.source)
    text = answer.text
    if json_mode or json_schema is not None:
        text = json_answer(text, json_schema)
    finish = "stop"
    if budget is not None:
        text, cut = truncate(text, budget, info.requested)
        if cut:
            finish = "length"
    used = count_tokens(text, info.requested)
    return Completion(text, [], finish, used + reasoning, reasoning, answer.record_id, answer.source)
