"""Per-call overhead of tokenproof vs OpenLLMetry on a real openai client (in-memory transport).

    .venv/bin/python bench/bench_overhead.py [--calls 1500]

A non-streaming and a streaming chat call, each measured bare, with tokenproof (cost, tags and
fingerprint on; content capture off, the default) and with OpenLLMetry's
``opentelemetry-instrumentation-openai``. Both instrumentations get the same tracer provider (a
SimpleSpanProcessor with a null exporter) and meter provider. Calls are interleaved one at a time
(bare / tokenproof / OpenLLMetry in a rotating order) and the medians of the per-call CPU times are
printed with the added time and ratios, then a warm breakdown of where tokenproof's time goes
(OpenTelemetry SDK span, SDK metric recording, pricing, our own code). Target: tokenproof's added time at most 1/10 of
OpenLLMetry's, aiming for under 5% of the bare call. Finishes in well under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any, Callable, Sequence

os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "")
os.environ.pop("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", None)

import httpx2  # noqa: E402
import openai  # noqa: E402
import openai.resources.chat.completions as chat_module  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult  # noqa: E402

import tokenproof  # noqa: E402
from tokenproof.instrumentation import TokenproofInstrumentor  # noqa: E402

MESSAGES = [
    {"role": "system", "content": "You are the support assistant of Acme Corp. Answer in two sentences."},
    {"role": "user", "content": "My invoice #4411 shows a double charge for March, can you help?"},
]
COMPLETION = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                 "message": {"role": "assistant", "content": "Sorry about that! I have refunded the charge."}}],
    "usage": {"prompt_tokens": 41, "completion_tokens": 12, "total_tokens": 53,
              "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}},
}).encode()


def _stream_body(include_usage: bool) -> bytes:
    base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "gpt-4o-mini-2024-07-18"}
    words = "Sorry about that! I have refunded the double charge on your March invoice.".split(" ")
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    chunks += [{**base, "choices": [{"index": 0, "delta": {"content": w + " "}, "finish_reason": None}]} for w in words]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if include_usage:
        chunks.append({**base, "choices": [], "usage": {"prompt_tokens": 41, "completion_tokens": 15,
                                                        "total_tokens": 56}})
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


STREAM_WITH_USAGE, STREAM_WITHOUT_USAGE = _stream_body(True), _stream_body(False)


class CannedTransport(httpx2.BaseTransport):
    """Answers every request from memory: a chat completion, or an SSE stream (with usage if asked)."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read()
        if b'"stream":true' in body.replace(b" ", b""):
            payload = STREAM_WITH_USAGE if b"include_usage" in body else STREAM_WITHOUT_USAGE
            return httpx2.Response(200, content=payload, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, content=COMPLETION, headers={"content-type": "application/json"})


class NullExporter(SpanExporter):
    """Drops spans; counts them per instrumentation scope (to check that each mode really traced)."""

    counts: dict[str, int] = {}

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        for span in spans:
            scope = span.instrumentation_scope.name
            self.counts[scope] = self.counts.get(scope, 0) + 1
        return SpanExportResult.SUCCESS


def _methods() -> dict[tuple[type, str], Any]:
    return {(cls, name): cls.__dict__[name] for cls in (chat_module.Completions, chat_module.AsyncCompletions)
            for name in ("create", "parse", "stream") if name in cls.__dict__}


def _apply(state: dict[tuple[type, str], Any]) -> None:
    for (cls, name), value in state.items():
        setattr(cls, name, value)


def _setups() -> dict[str, dict[tuple[type, str], Any]]:
    """The patched class attributes of each mode (instrument once, then swap states per run)."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
    meter_provider = MeterProvider()
    bare = _methods()
    TokenproofInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    tokenproof_state = _methods()
    _apply(bare)
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    openllmetry_state = _methods()
    _apply(bare)
    return {"bare": bare, "tokenproof": tokenproof_state, "openllmetry": openllmetry_state}


def _calls(client: openai.OpenAI) -> dict[str, Callable[[], Any]]:
    def plain() -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2)

    def streamed() -> Any:
        text = ""
        for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            text += chunk.choices[0].delta.content or ""
        return text

    return {"non-streaming": plain, "streaming": streamed}


def _one_call_us(fn: Callable[[], Any]) -> float:
    """CPU time of this process for one call: everything runs in-process on this thread, and CPU time
    is far less disturbed than wall time by other work on a shared machine."""
    start = time.process_time_ns()
    fn()
    return (time.process_time_ns() - start) / 1e3


def breakdown() -> None:
    """Where tokenproof's per-call time goes, warm (no HTTP/SDK work between calls): each line turns
    one more part off. Uses a resource whose ``create`` returns a prebuilt ChatCompletion."""
    from openai.types.chat import ChatCompletion
    from opentelemetry.trace import INVALID_SPAN_CONTEXT, NonRecordingSpan

    from tokenproof.instrumentation import _call, _metrics, _runtime
    from tokenproof.instrumentation._instrumentor import _Wrapper
    from tokenproof.instrumentation._openai import ChatAdapter
    from tokenproof.instrumentation._wrappers import call_wrapper

    response = ChatCompletion.model_validate_json(COMPLETION)

    class Client:
        base_url = httpx2.URL("https://api.openai.test/v1/")

    class Bare:
        _client = Client()

        def create(self, **kwargs: Any) -> Any:
            return response

    class Traced(Bare):
        pass

    Traced.create = _Wrapper(Bare.__dict__["create"], call_wrapper(ChatAdapter(), False))  # type: ignore[method-assign]
    bare, traced = Bare(), Traced()

    def per_call(resource: Any, n: int = 3000) -> float:
        start = time.process_time_ns()
        for _ in range(n):
            resource.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2)
        return (time.process_time_ns() - start) / n / 1e3

    def added() -> float:
        per_call(traced, 500)
        return statistics.median(per_call(traced) - per_call(bare) for _ in range(5))

    runtime = _runtime.get()
    assert runtime is not None

    class NonRecordingTracer:
        def start_span(self, *args: Any, **kwargs: Any) -> Any:
            return NonRecordingSpan(INVALID_SPAN_CONTEXT)

    record, price, tracer = _metrics.Instruments.record, _call.Call._price, runtime.tracer
    print("warm breakdown of tokenproof's added time per call (microseconds):")
    with tokenproof.tag(feature="support-answer", tier="pro", customer="acme"):
        try:
            print(f"  everything on                                  {added():6.1f}")
            _metrics.Instruments.record = lambda *a: None  # type: ignore[method-assign]
            print(f"  without metric recording                       {added():6.1f}")
            _call.Call._price = lambda *a: None  # type: ignore[method-assign]
            print(f"  without metrics and pricing                    {added():6.1f}")
            runtime.tracer = NonRecordingTracer()  # type: ignore[assignment]
            print(f"  without metrics, pricing and SDK span (ours)   {added():6.1f}")
        finally:
            _metrics.Instruments.record, _call.Call._price, runtime.tracer = record, price, tracer  # type: ignore[method-assign]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1500, help="measured calls per mode and call kind")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the warm breakdown")
    args = parser.parse_args(argv)

    states = _setups()
    client = openai.OpenAI(api_key="sk-bench", base_url="https://api.openai.test/v1", max_retries=0,
                           http_client=httpx2.Client(transport=CannedTransport()))
    modes = list(states)
    results: dict[str, dict[str, list[float]]] = {kind: {m: [] for m in modes} for kind in ("non-streaming", "streaming")}
    with tokenproof.tag(feature="support-answer", tier="pro", customer="acme"):
        for kind, fn in _calls(client).items():
            for mode in modes:  # warm-up (imports, price resolution, encodings)
                _apply(states[mode])
                for _ in range(30):
                    fn()
            for i in range(args.calls):  # interleaved one call at a time, rotating the order
                for mode in modes[i % 3:] + modes[:i % 3]:
                    _apply(states[mode])
                    results[kind][mode].append(_one_call_us(fn))
    _apply(states["bare"])

    print(f"per-call CPU time, medians of {args.calls} interleaved calls per mode (microseconds)")
    print(f"{'call':<14} {'bare':>8} {'tokenproof':>11} {'openllmetry':>12} {'tp added':>9} {'ol added':>9} "
          f"{'tp/bare':>8} {'tp/ol added':>12}")
    for kind, by_mode in results.items():
        bare, tp, ol = (statistics.median(by_mode[m]) for m in ("bare", "tokenproof", "openllmetry"))
        tp_added, ol_added = tp - bare, ol - bare
        print(f"{kind:<14} {bare:8.0f} {tp:11.0f} {ol:12.0f} {tp_added:9.0f} {ol_added:9.0f} "
              f"{tp_added / bare:8.1%} {tp_added / ol_added if ol_added > 0 else float('nan'):12.3f}")
    print("spans exported per scope:", dict(NullExporter.counts))
    if not args.no_breakdown:
        _apply(states["tokenproof"])
        breakdown()
        _apply(states["bare"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
