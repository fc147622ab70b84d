"""Which recorded model answers for a requested model name.

The default table is ``DEFAULT_TABLE`` below (first matching pattern wins; ``fnmatch`` patterns,
matched case-insensitively), documented for users in README.md: cheap names (``gpt-4o-mini``,
``gpt-4.1-mini``/``-nano``, ``gpt-5-mini``/``-nano``, ``o*-mini``, ``mixtral-8x7b*``, ``claude-*haiku*``)
answer with the Mixtral-8x7B recording; expensive names (``gpt-4*``, ``gpt-5*``, ``o1``, ``o3``,
``claude-*opus*``, ``claude-*sonnet*``, ``tokenproof-judge*``) with the GPT-4-1106-preview recording;
``text-embedding-*`` names are embedding models.

Reasoning models (names starting o1, o3, o4, gpt-5) report ``reasoning_tokens``. Any other name is
unknown: 404 in the provider's error shape. The table is configurable: ``ProviderOptions.model_map``
(CLI ``--model NAME_PATTERN=gpt4|mixtral|embedding``) adds entries checked before the defaults.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from tokenproof_devkit.provider.corpus import GPT4, MIXTRAL

ALIASES = {"gpt4": GPT4, "gpt-4": GPT4, GPT4: GPT4, "expensive": GPT4,
           "mixtral": MIXTRAL, MIXTRAL: MIXTRAL, "cheap": MIXTRAL, "embedding": "embedding"}

DEFAULT_TABLE: list[tuple[str, str]] = [
    ("gpt-4o-mini*", MIXTRAL), ("gpt-4.1-mini*", MIXTRAL), ("gpt-4.1-nano*", MIXTRAL),
    ("gpt-5-mini*", MIXTRAL), ("gpt-5-nano*", MIXTRAL),
    ("o1-mini*", MIXTRAL), ("o3-mini*", MIXTRAL), ("o4-mini*", MIXTRAL),
    ("mixtral-8x7b*", MIXTRAL), ("mistralai/mixtral-8x7b*", MIXTRAL), ("claude-*haiku*", MIXTRAL),
    ("gpt-4*", GPT4), ("gpt-5*", GPT4), ("chatgpt-4o*", GPT4), ("o1", GPT4), ("o1-*", GPT4),
    ("o3", GPT4), ("o3-*", GPT4),
    ("claude-*opus*", GPT4), ("claude-*sonnet*", GPT4), ("tokenproof-judge*", GPT4),
    ("text-embedding-3-small", "embedding"), ("text-embedding-ada-002", "embedding"),
    ("text-embedding-3-large", "embedding"),
]

REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")


@dataclass(frozen=True)
class ModelInfo:
    requested: str
    recording: str          # GPT4 / MIXTRAL / "embedding"
    reasoning: bool
    embedding_dims: int = 0


def parse_model_map(entries: list[str] | dict[str, str] | None) -> list[tuple[str, str]]:
    """Turn ``["pattern=gpt4", ...]`` or ``{"pattern": "gpt4"}`` into table rows (validated)."""
    if not entries:
        return []
    items = entries.items() if isinstance(entries, dict) else (e.split("=", 1) for e in entries)
    table = []
    for item in items:
        pattern, target = (part.strip() for part in item)
        if target.lower() not in ALIASES:
            raise ValueError(f"model map entry {pattern}={target}: target must be one of gpt4, mixtral, embedding")
        table.append((pattern.lower(), ALIASES[target.lower()]))
    return table


def resolve(name: str, extra: list[tuple[str, str]] = ()) -> ModelInfo | None:
    """The recording behind a requested model name, or None when the name is unknown."""
    lowered = (name or "").lower()
    for pattern, target in list(extra) + DEFAULT_TABLE:
        if fnmatch.fnmatchcase(lowered, pattern):
            dims = 3072 if "large" in lowered else 1536
            return ModelInfo(
                requested=name, recording=target,
                reasoning=target != "embedding" and lowered.startswith(REASONING_PREFIXES),
                embedding_dims=dims if target == "embedding" else 0,
            )
    return None


def known_models(extra: list[tuple[str, str]] = ()) -> list[str]:
    """Concrete model ids listed by GET /v1/models."""
    names = ["gpt-4-1106-preview", "gpt-4", "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini",
             "gpt-4.1-nano", "gpt-5", "gpt-5-mini", "gpt-5-nano", "o1", "o3", "o3-mini", "o4-mini",
             "mixtral-8x7b-instruct-v0.1", "claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5",
             "claude-3-haiku-20240307", "tokenproof-judge", "text-embedding-3-small",
             "text-embedding-3-large", "text-embedding-ada-002"]
    names += [p for p, _ in extra if not any(ch in p for ch in "*?[")]
    return names
