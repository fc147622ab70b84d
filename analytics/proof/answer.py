"""One model answer in a provider-neutral shape, as the gates, the judge and the store see it."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

__all__ = ["Answer", "ToolCall", "content_hash"]


def content_hash(text: str) -> str:
    """Short stable hash used when content is not kept (capture off) and for prompt references."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: str  # the raw JSON string the model produced


@dataclass
class Answer:
    model: str
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    refusal: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None  # None = unpriced (never $0)
    error: str | None = None
    recorded: bool = False  # taken from a recorded response, not replayed

    @property
    def length(self) -> int:
        """Answer length in characters (tool calls counted by their serialised form)."""
        return len(self.text) + sum(len(c.name) + len(c.arguments) for c in self.tool_calls)

    def rendered(self) -> str:
        """The answer as the judge sees it: text, then tool calls one per line."""
        parts = [self.text.strip()] if self.text.strip() else []
        parts += [f"[tool call] {c.name}({c.arguments})" for c in self.tool_calls]
        return "\n".join(parts)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["tool_calls"] = [asdict(c) for c in self.tool_calls]
        return data
