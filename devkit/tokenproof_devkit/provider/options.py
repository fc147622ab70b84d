"""Server options (CLI flags and ``run_provider(**options)`` keyword arguments)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass
class ProviderOptions:
    host: str = "127.0.0.1"
    port: int = 8100
    # faults for demos and load: a share of requests fail with fault_status (seeded, reproducible)
    fault_rate: float = 0.0
    fault_status: int = 500
    seed: int = 0
    latency_ms: float = 0.0          # added before every response
    chunk_delay_ms: float = 0.0      # added between streamed chunks
    timeout_s: float = 120.0         # how long a "timeout" fault sleeps (client gives up first)
    retry_after_s: float = 1.0       # Retry-After sent with 429 / 529
    stream_break_after: int | None = None   # every stream fails after this many content chunks
    stream_break_mode: str = "error"        # "error": provider's error event; "drop": cut connection
    # judge realism knobs (see JUDGE.md)
    judge_position_bias: float = 0.0  # P(answer [[A]]) when the verdict is a tie / close call
    judge_noise: float = 0.0          # P(verdict replaced by a random one)
    judge_close_margin: float = 0.0   # grade gap (0-1 scale) treated as "close"
    # model names: extra "pattern=gpt4|mixtral|embedding" entries checked before the defaults
    model_map: list[str] | dict[str, str] = field(default_factory=list)
    require_api_key: bool = True
    openai_cache_min_tokens: int = 1024
    anthropic_cache_min_tokens: int = 1024

    @classmethod
    def from_kwargs(cls, **kwargs) -> ProviderOptions:
        names = {f.name for f in fields(cls)}
        unknown = set(kwargs) - names
        if unknown:
            raise TypeError(f"unknown provider option(s): {', '.join(sorted(unknown))}")
        return cls(**kwargs)
