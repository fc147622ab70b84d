"""Process-wide state of an active instrumentation: tracer, instruments, settings snapshot.

One :class:`Runtime` exists while :class:`~.TokenproofInstrumentor` is instrumented. Wrappers read
it through :func:`get`; when it is None (after ``uninstrument()``) they pass calls straight through.
:attr:`Runtime.router` is the in-process router (``instrumentation/_routing.py``) when a routing
endpoint is configured, else None.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Tracer

from tokenproof import settings
from tokenproof._tags import refresh_defaults

from ._content import capture_mode
from ._metrics import Instruments

__all__ = ["Runtime", "clear", "get", "install"]

settings.declare(
    "stream_usage",
    bool,
    True,
    "Ask OpenAI chat streams for usage (stream_options.include_usage) and hide the extra chunk.",
)
settings.declare(
    "content_max_chars",
    int,
    16384,
    "Maximum characters per captured content attribute (prompts, completions, params).",
)
settings.declare(
    "content_redactor",
    str,
    "",
    "Redaction hook 'module:function' applied to captured content before it is recorded.",
)


class Runtime:
    """Everything a wrapper needs for one call; built once at ``instrument()``."""

    __slots__ = ("capture", "capture_event", "event_logger", "instruments", "router", "stream_usage", "tracer")

    def __init__(self, tracer: Tracer, instruments: Instruments, event_logger: Any = None) -> None:
        self.tracer = tracer
        self.instruments = instruments
        self.stream_usage: bool = settings.get("stream_usage")
        # Content capture follows OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, read at
        # instrument() like the OpenTelemetry GenAI instrumentations do.
        self.capture, capture_event = capture_mode()  # content on spans, on events
        self.capture_event: bool = capture_event and event_logger is not None
        self.event_logger = event_logger
        refresh_defaults()  # default business tags, read once here rather than per call
        self.router: Any = None  # a _routing.Router, set by the instrumentor when routing is configured


_runtime: Runtime | None = None


def get() -> Runtime | None:
    return _runtime


def install(runtime: Runtime) -> None:
    global _runtime
    _runtime = runtime


def clear() -> None:
    global _runtime
    _runtime = None
