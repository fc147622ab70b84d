"""Content capture modes of OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: span, event, both, none."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogExporter, SimpleLogRecordProcessor

from tokenproof import semconv as sc
from tokenproof.instrumentation import TokenproofInstrumentor, _content

from .conftest import chat_completion, openai_client

CONTENT_KEYS = (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES, sc.TP_REQUEST_PARAMS)


@pytest.fixture
def events(telemetry):
    exporter = InMemoryLogExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))

    def run(value: str | None, monkeypatch):
        if value is None:
            monkeypatch.delenv(sc.ENV_CAPTURE_MESSAGE_CONTENT, raising=False)
        else:
            monkeypatch.setenv(sc.ENV_CAPTURE_MESSAGE_CONTENT, value)
        instrumentor = TokenproofInstrumentor()
        instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider,
                                logger_provider=provider)
        try:
            client = openai_client(lambda _: (200, chat_completion(content="Hello there!")))
            client.chat.completions.create(model="gpt-4o-mini", temperature=0.2,
                                           messages=[{"role": "user", "content": "secret question"}])
        finally:
            instrumentor.uninstrument()
        span = telemetry.llm_spans()[-1]
        found = [r.log_record for r in exporter.get_finished_logs()]
        exporter.clear()
        return span, found

    return run


@pytest.mark.parametrize(("value", "on_span", "on_event"), [
    ("SPAN_ONLY", True, False), ("span_only", True, False), ("true", True, False), ("True", True, False),
    ("EVENT_ONLY", False, True), ("event_only", False, True),
    ("SPAN_AND_EVENT", True, True), ("Span_And_Event", True, True),
    ("false", False, False), ("NO_CONTENT", False, False), (None, False, False),
])
def test_capture_modes(events, monkeypatch, value, on_span, on_event):
    span, records = events(value, monkeypatch)
    assert all((key in span.attributes) is on_span for key in CONTENT_KEYS)
    assert len(records) == (1 if on_event else 0)
    if on_event:
        record = records[0]
        assert record.event_name == "gen_ai.client.inference.operation.details"
        assert record.trace_id == span.context.trace_id and record.span_id == span.context.span_id
        attrs = record.attributes
        assert attrs[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini" and attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12
        assert json.loads(attrs[sc.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"] == "secret question"
        assert json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["content"] == "Hello there!"
        assert json.loads(attrs[sc.TP_REQUEST_PARAMS]) == {"temperature": 0.2}
    if not on_span:
        assert "secret" not in json.dumps(dict(span.attributes), default=str)


def test_unknown_value_warns_once_and_captures_nothing(events, monkeypatch, caplog):
    _content._warned.clear()
    with caplog.at_level(logging.WARNING, logger="tokenproof.instrumentation"):
        span, records = events("EVENTS_PLEASE", monkeypatch)
        events("EVENTS_PLEASE", monkeypatch)
    warnings = [r for r in caplog.records if sc.ENV_CAPTURE_MESSAGE_CONTENT in r.getMessage()]
    assert len(warnings) == 1 and "EVENTS_PLEASE" in warnings[0].getMessage()
    assert records == [] and not any(key in span.attributes for key in CONTENT_KEYS)
