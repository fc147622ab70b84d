"""Fixtures: real OpenTelemetry SDK with in-memory exporters, the instrumentor, fake transports.

Unit tests use the SDKs' own mock transports (``httpx2.MockTransport`` for openai 3.x, the
``httpx`` one for anthropic) with canned JSON / SSE bodies; integration tests use the local
provider server (``tokenproof_devkit.provider.testing.run_provider``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tokenproof.instrumentation import TokenproofInstrumentor, set_redactor


class Telemetry:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self) -> list[Any]:
        return list(self.exporter.get_finished_spans())

    def llm_spans(self) -> list[Any]:
        return [s for s in self.spans() if "gen_ai.operation.name" in (s.attributes or {})]

    def only_span(self) -> Any:
        spans = self.llm_spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def metrics(self) -> dict[str, list[Any]]:
        """metric name -> data points."""
        data = self.reader.get_metrics_data()
        found: dict[str, list[Any]] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    yield Telemetry()


@pytest.fixture
def instrumented(telemetry: Telemetry) -> Iterator[Telemetry]:
    instrumentor = TokenproofInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        yield telemetry
    finally:
        instrumentor.uninstrument()
        set_redactor(None)


def reinstrument(telemetry: Telemetry) -> None:
    """Instrument again, e.g. after changing a setting that is read at ``instrument()``."""
    TokenproofInstrumentor().uninstrument()
    TokenproofInstrumentor().instrument(tracer_provider=telemetry.tracer_provider,
                                        meter_provider=telemetry.meter_provider)


# --- canned OpenAI / Anthropic wire bodies --------------------------------------------------------
def chat_completion(model: str = "gpt-4o-mini-2024-07-18", content: str = "Hello there!", *,
                    prompt: int = 12, completion: int = 4, cached: int = 0, reasoning: int = 0,
                    finish: str = "stop", tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None if tool_calls else content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-123", "object": "chat.completion", "created": 1700000000, "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": cached},
                  "completion_tokens_details": {"reasoning_tokens": reasoning}},
    }


def chat_chunks(model: str = "gpt-4o-mini-2024-07-18", pieces: tuple[str, ...] = ("Hel", "lo", "!"), *,
                usage: bool = True, prompt: int = 12, completion: int = 3) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-s1", "object": "chat.completion.chunk", "created": 1700000000, "model": model}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    for piece in pieces:
        chunks.append({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if usage:
        chunks.append({**base, "choices": [], "usage": {
            "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}})
    return chunks


def sse(events: list[dict[str, Any]], *, done: bool = True, named: bool = False) -> bytes:
    out = []
    for event in events:
        if named:
            out.append(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n")
        else:
            out.append(f"data: {json.dumps(event)}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


class Recorder:
    """What the fake server saw: request bodies, in order."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []


def _http_module(sdk: Any) -> Any:
    """The HTTP package the installed SDK uses: ``httpx2`` (openai 3.x, anthropic 2.x) or ``httpx``."""
    import importlib

    base = importlib.import_module(f"{sdk.__name__}._base_client")
    return base.httpx2 if hasattr(base, "httpx2") else base.httpx


def openai_client(handler: Callable[[dict[str, Any]], tuple[int, Any]], *, is_async: bool = False,
                  recorder: Recorder | None = None) -> Any:
    """A real openai client over the SDK's MockTransport; handler(body) -> (status, json | sse bytes).

    Works with openai 1.x (httpx) and 3.x (httpx2): ``PYTHONPATH=<dir with openai 1.x> pytest ...``.
    """
    import openai

    httpx2 = _http_module(openai)

    def respond(request: Any) -> Any:
        body = json.loads(request.content or b"{}")
        if recorder is not None:
            recorder.bodies.append(body)
        status, payload = handler(body)
        if isinstance(payload, bytes):
            return httpx2.Response(status, content=payload, headers={"content-type": "text/event-stream"})
        return httpx2.Response(status, json=payload)

    if is_async:
        async def arespond(request: Any) -> Any:
            return respond(request)

        return openai.AsyncOpenAI(api_key="sk-test", base_url="https://api.openai.test/v1", max_retries=0,
                                  http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(arespond)))
    return openai.OpenAI(api_key="sk-test", base_url="https://api.openai.test/v1", max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.MockTransport(respond)))


def anthropic_message(model: str = "claude-3-5-haiku-20241022", text: str = "Hi!", *, input_tokens: int = 20,
                      output_tokens: int = 5, cache_read: int = 0, cache_creation: int = 0) -> dict[str, Any]:
    return {
        "id": "msg_01", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                  "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": cache_creation},
    }


def anthropic_events(model: str = "claude-3-5-haiku-20241022", pieces: tuple[str, ...] = ("Hi", " there"), *,
                     input_tokens: int = 20, output_tokens: int = 6, cache_read: int = 0) -> list[dict[str, Any]]:
    start = anthropic_message(model, "", input_tokens=input_tokens, output_tokens=1, cache_read=cache_read)
    start["content"] = []
    start["stop_reason"] = None
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start},
                                    {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}]
    for piece in pieces:
        events.append({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})
    events += [{"type": "content_block_stop", "index": 0},
               {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": output_tokens}},
               {"type": "message_stop"}]
    return events


def anthropic_client(handler: Callable[[dict[str, Any]], tuple[int, Any]], *, is_async: bool = False) -> Any:
    import anthropic
    import httpx2

    def respond(request: Any) -> Any:
        status, payload = handler(json.loads(request.content or b"{}"))
        if isinstance(payload, bytes):
            return httpx2.Response(status, content=payload, headers={"content-type": "text/event-stream"})
        return httpx2.Response(status, json=payload)

    if is_async:
        async def arespond(request: Any) -> Any:
            return respond(request)

        return anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url="https://api.anthropic.test", max_retries=0,
                                        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(arespond)))
    return anthropic.Anthropic(api_key="sk-ant-test", base_url="https://api.anthropic.test", max_retries=0,
                               http_client=httpx2.Client(transport=httpx2.MockTransport(respond)))
