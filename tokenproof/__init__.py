"""tokenproof: priced, tagged GenAI telemetry on OpenTelemetry.

Public API: :func:`tag` (business tags for LLM calls) and, loaded lazily so that importing
``tokenproof`` stays cheap, :class:`TokenproofInstrumentor`.
"""

from __future__ import annotations

from typing import Any

from tokenproof._tags import tag

__all__ = ["TokenproofInstrumentor", "tag"]


def __getattr__(name: str) -> Any:
    if name == "TokenproofInstrumentor":
        from tokenproof.instrumentation import TokenproofInstrumentor

        return TokenproofInstrumentor
    raise AttributeError(f"module 'tokenproof' has no attribute {name!r}")
