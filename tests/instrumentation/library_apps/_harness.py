"""Harness of the library apps: instrument (or not) exactly as a user would, and report spans.

``TOKENPROOF_APP_SPANS=<file>`` instruments with the real SDK tracer provider and an in-memory
exporter, and writes the finished spans' attributes there as JSON at exit; unset, the app runs
bare. The app's own stdout and stderr are left alone, so a test can compare them between the two
runs. Imported first by every app.
"""

from __future__ import annotations

import atexit
import json
import os
import sys

BASE_URL = sys.argv[1]  # the recording provider (OpenAI routes under /v1, Anthropic at the root)
os.environ.setdefault("OPENAI_API_KEY", "sk-test")
os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-test")

_spans_file = os.environ.get("TOKENPROOF_APP_SPANS")
if _spans_file:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tokenproof.instrumentation import TokenproofInstrumentor

    _exporter = InMemorySpanExporter()
    _provider = TracerProvider()
    _provider.add_span_processor(SimpleSpanProcessor(_exporter))
    TokenproofInstrumentor().instrument(tracer_provider=_provider)

    def _dump() -> None:
        spans = [{"name": s.name, "scope": s.instrumentation_scope.name, "attributes": dict(s.attributes or {})}
                 for s in _exporter.get_finished_spans()]
        with open(_spans_file, "w") as out:
            json.dump(spans, out, default=list)

    atexit.register(_dump)

OPENAI_URL = BASE_URL + "/v1"
ANTHROPIC_URL = BASE_URL


def show(label: str, value: object) -> None:
    """What the app prints: compared between the bare and the instrumented run."""
    print(f"{label}: {value!r}", flush=True)
