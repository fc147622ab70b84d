"""Per-call overhead of tokenproof vs OpenLLMetry on a real openai client (in-memory transport).

    .venv/bin/python bench/bench_overhead.py [--calls 1500] [--no-breakdown]

A non-streaming and a streaming chat call, each measured in five modes, interleaved one call at a
time in a rotating order:

- ``bare``: no instrumentation;
- ``tokenproof``: cost, tags and fingerprint on, stream usage injection on, content capture off
  (all defaults);
- ``sdk-floor``: no instrumentation logic at all, only the OpenTelemetry SDK work tokenproof asks
  for per call: one span started with tokenproof's request attributes, made current around the
  call, given tokenproof's response attributes and ended (for a stream, by a plain generator once
  the stream is read), plus tokenproof's four metric records (duration, input and output tokens,
  cost) with its attribute sets. No instrumentation that emits the same span and metrics can cost
  less than this (the stream floor has no usage-only chunk: that is tokenproof's feature);
- ``openllmetry``: ``opentelemetry-instrumentation-openai`` at its defaults, which include prompt and
  completion capture (``TRACELOOP_TRACE_CONTENT`` unset = true);
- ``openllmetry-nocontent``: the same with ``TRACELOOP_TRACE_CONTENT=false`` (no content on spans,
  like tokenproof's default), the like-for-like comparison.

Everything shares one tracer provider (SimpleSpanProcessor into a null exporter) and one meter
provider with an in-memory metric reader (measurements are aggregated as in a real deployment; the
reader is collected once at the end to show that both instrumentations recorded metrics; the floor
records into tokenproof's own instruments). Printed: medians of
per-call CPU time (process time, far less disturbed than wall time by other work on a shared
machine) and of wall time, the added time of each instrumentation over ``bare`` and the ratios, then
a warm breakdown of where tokenproof's time goes. Target: tokenproof's added time at most
1/10 of OpenLLMetry's, aiming for under 5% of the bare call. Finishes in about a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "")
os.environ.pop("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", None)
os.environ.pop("TRACELOOP_TRACE_CONTENT", None)  # OpenLLMetry's default (content on) unless a mode sets it

import httpx2
import openai
import openai.resources.chat.completions as chat_module
import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import tokenproof
from tokenproof.instrumentation import TokenproofInstrumentor

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
    words = ["Sorry", "about", "that!", "I", "have", "refunded", "the", "double", "charge", "on", "your", "March", "invoice."]
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
    """The class attributes tokenproof and OpenLLMetry patch for these calls (the chat resource's
    methods and the clients' generic ``post``, which tokenproof also wraps)."""
    import openai._base_client as base

    return {(cls, name): cls.__dict__[name]
            for cls, names in ((chat_module.Completions, ("create", "parse", "stream")),
                               (chat_module.AsyncCompletions, ("create", "parse", "stream")),
                               (base.SyncAPIClient, ("post",)), (base.AsyncAPIClient, ("post",)))
            for name in names if name in cls.__dict__}


def _apply(state: dict[tuple[type, str], Any]) -> None:
    for (cls, name), value in state.items():
        setattr(cls, name, value)


class Floor:
    """The OpenTelemetry SDK work tokenproof asks for per call, with tokenproof's own attributes."""

    def __init__(self, tracer: Any, instruments: Any) -> None:
        self.tracer, self.instruments = tracer, instruments
        # call kind -> (span name, start attributes, end attributes, metric attribute sets, usage, cost)
        self.floors: dict[str, tuple[Any, ...]] = {}

    def learn(self, kind: str, fn: Callable[[], Any]) -> None:
        """Run one tokenproof call and keep the span name, attributes and metric sets it produced."""
        from tokenproof.instrumentation import _call, _metrics

        seen: dict[str, Any] = {}
        start_span, complete = self.tracer.start_span, _call.Call._complete

        def spy_start(name: str, **kwargs: Any) -> Any:
            seen["name"], seen["start"] = name, dict(kwargs["attributes"])
            return start_span(name, **kwargs)

        def spy_complete(call: Any, span: Any) -> None:
            complete(call, span)
            seen["call"] = call

        self.tracer.start_span = spy_start
        _call.Call._complete = spy_complete  # type: ignore[method-assign]
        try:
            fn()
        finally:
            del self.tracer.start_span
            _call.Call._complete = complete  # type: ignore[method-assign]
        call, start_attrs = seen["call"], seen["start"]
        end_attrs = {k: v for k, v in call.span.attributes.items() if k not in start_attrs}
        self.floors[kind] = (seen["name"], start_attrs, end_attrs, _metrics._attribute_sets(call), call.usage[:2],
                             call.cost_usd)

    def wrapper(self, kind_of: Callable[[dict[str, Any]], str]) -> Callable[..., Any]:
        tracer, instruments = self.tracer, self.instruments
        client_kind = trace.SpanKind.CLIENT

        def floor(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            name, start_attrs, end_attrs, (base, input_attrs, output_attrs, cost_attrs), usage, cost = \
                self.floors[kind_of(kwargs)]
            start = time.perf_counter()
            span = tracer.start_span(name, kind=client_kind, attributes=start_attrs)
            token = otel_context.attach(trace.set_span_in_context(span))
            try:
                result = wrapped(*args, **kwargs)
            finally:
                otel_context.detach(token)

            def end() -> None:
                span.set_attributes(end_attrs)
                span.end()
                instruments.duration.record(time.perf_counter() - start, base)
                instruments.token_usage.record(usage[0], input_attrs)
                instruments.token_usage.record(usage[1], output_attrs)
                instruments.cost.add(cost, cost_attrs)

            if not kwargs.get("stream"):
                end()
                return result

            def passthrough() -> Any:  # the least a stream needs: the span ends when it is read
                try:
                    yield from result
                finally:
                    end()

            return passthrough()

        return floor


def _setups(client: openai.OpenAI) -> tuple[dict[str, dict[tuple[type, str], Any]], InMemoryMetricReader, Floor]:
    """The patched class attributes of each mode (instrument once, then swap states per run)."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    resource = client.chat.completions  # binds client.post at creation: rebound per mode below

    def methods() -> dict[Any, Any]:
        state: dict[Any, Any] = _methods()
        state[(resource, "_post")] = client.post  # the post() of the class attributes in force now
        return state

    bare = methods()
    TokenproofInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    tokenproof_state = methods()

    from tokenproof.instrumentation import _runtime

    runtime = _runtime.get()
    assert runtime is not None
    floor = Floor(runtime.tracer, runtime.instruments)  # the SDK objects tokenproof itself uses
    with tokenproof.tag(feature="support-answer", tier="pro", customer="acme"):
        for kind, fn in _calls(client).items():
            floor.learn(kind, fn)
    floor_wrapper = floor.wrapper(lambda kw: "streaming" if kw.get("stream") else "non-streaming")
    floor_state = {(cls, name): wrapt.FunctionWrapper(method, floor_wrapper) if name == "create" else method
                   for (cls, name), method in bare.items()}
    _apply(bare)
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    openllmetry_state = methods()
    _apply(bare)
    return {"bare": bare, "tokenproof": tokenproof_state, "sdk-floor": floor_state,
            "openllmetry": openllmetry_state, "openllmetry-nocontent": openllmetry_state}, reader, floor


def _enter(mode: str, states: dict[str, dict[tuple[type, str], Any]]) -> None:
    _apply(states[mode])
    if mode == "openllmetry-nocontent":  # read by OpenLLMetry on every call
        os.environ["TRACELOOP_TRACE_CONTENT"] = "false"
    else:
        os.environ.pop("TRACELOOP_TRACE_CONTENT", None)


def _calls(client: openai.OpenAI) -> dict[str, Callable[[], Any]]:
    def plain() -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2)

    def streamed() -> Any:
        text = ""
        for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            text += chunk.choices[0].delta.content or ""
        return text

    return {"non-streaming": plain, "streaming": streamed}


def _one_call_us(fn: Callable[[], Any]) -> tuple[float, float]:
    """(CPU time, wall time) of one call in microseconds. CPU time of this process: everything runs
    in-process on this thread, and it is far less disturbed than wall time by other work on a
    shared machine."""
    start, wall = time.process_time_ns(), time.perf_counter_ns()
    fn()
    return (time.process_time_ns() - start) / 1e3, (time.perf_counter_ns() - wall) / 1e3


def breakdown(client: openai.OpenAI, floor: Floor, states: dict[str, dict[tuple[type, str], Any]]) -> None:
    """Where tokenproof's per-call time goes, warm (no HTTP/SDK work between calls): each line turns
    one more part off. Uses a resource whose ``create`` returns a prebuilt ChatCompletion. Then the
    cost of the usage-only chunk a stream gets when tokenproof asks for usage (real client)."""
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

    class Floored(Bare):
        pass

    Traced.create = _Wrapper(Bare.__dict__["create"], call_wrapper(ChatAdapter(), False))  # type: ignore[method-assign]
    Floored.create = wrapt.FunctionWrapper(Bare.__dict__["create"], floor.wrapper(lambda kw: "non-streaming"))  # type: ignore[method-assign]
    bare, traced, floored = Bare(), Traced(), Floored()

    def per_call(resource: Any, n: int = 3000) -> float:
        start = time.process_time_ns()
        for _ in range(n):
            resource.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2)
        return (time.process_time_ns() - start) / n / 1e3

    def added(resource: Any = traced) -> float:
        per_call(resource, 500)
        return statistics.median(per_call(resource) - per_call(bare) for _ in range(5))

    runtime = _runtime.get()
    assert runtime is not None

    class NonRecordingTracer:
        def start_span(self, *args: Any, **kwargs: Any) -> Any:
            return NonRecordingSpan(INVALID_SPAN_CONTEXT)

    record, price, tracer = _metrics.Instruments.record, _call.Call._price, runtime.tracer
    print("\nwhere the time goes: warm breakdown of the added time per non-streaming call "
          "(microseconds, no HTTP work between calls)")
    with tokenproof.tag(feature="support-answer", tier="pro", customer="acme"):
        try:
            everything = added()
            sdk_floor = added(floored)
            _metrics.Instruments.record = lambda *a: None  # type: ignore[method-assign]
            no_metrics = added()
            _call.Call._price = lambda *a: None  # type: ignore[method-assign]
            no_pricing = added()
            runtime.tracer = NonRecordingTracer()  # type: ignore[assignment]
            ours = added()
        finally:
            _metrics.Instruments.record, _call.Call._price, runtime.tracer = record, price, tracer  # type: ignore[method-assign]
    print(f"  tokenproof, everything on                       {everything:6.1f}")
    print(f"  SDK floor (span + 4 metric records, no logic)   {sdk_floor:6.1f}")
    print(f"  tokenproof without metric recording             {no_metrics:6.1f}   (metrics {everything - no_metrics:.1f})")
    print(f"  ... and without pricing                         {no_pricing:6.1f}   (pricing {no_metrics - no_pricing:.1f})")
    print(f"  ... and without the SDK span = our own code     {ours:6.1f}   (SDK span {no_pricing - ours:.1f})")

    def stream(extra: dict[str, Any]) -> Callable[[], Any]:
        def run() -> None:
            for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True, **extra):
                if chunk.choices:
                    chunk.choices[0].delta.content
        return run

    plain, with_usage = stream({}), stream({"stream_options": {"include_usage": True}})
    times: dict[int, list[float]] = {0: [], 1: []}
    _enter("bare", states)  # a bare client: the caller asks for usage or not
    for i in range(600):
        for which in ((0, 1) if i % 2 else (1, 0)):
            times[which].append(_one_call_us(with_usage if which else plain)[0])
    usage_chunk = statistics.median(times[1]) - statistics.median(times[0])
    print(f"  streams: the SDK parsing the usage-only chunk tokenproof asks for (bare client, CPU) {usage_chunk:6.1f}")


MODES = ("bare", "tokenproof", "sdk-floor", "openllmetry", "openllmetry-nocontent")
SETTINGS = {
    "tokenproof": "defaults: cost, tags, fingerprint, stream usage injection on; content capture off",
    "sdk-floor": "tokenproof's span (same attributes, current around the call) + its 4 metric records, nothing else",
    "openllmetry": "defaults: TRACELOOP_TRACE_CONTENT unset = prompts and completions on spans",
    "openllmetry-nocontent": "TRACELOOP_TRACE_CONTENT=false (no content, like tokenproof's default)",
}


def _metric_points(reader: InMemoryMetricReader) -> dict[str, int]:
    data = reader.get_metrics_data()
    points: dict[str, int] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            points[scope.scope.name] = sum(len(m.data.data_points) for m in scope.metrics)
    return points


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1500, help="measured calls per mode and call kind")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the warm breakdown")
    args = parser.parse_args(argv)

    client = openai.OpenAI(api_key="sk-bench", base_url="https://api.openai.test/v1", max_retries=0,
                           http_client=httpx2.Client(transport=CannedTransport()))
    states, reader, floor = _setups(client)
    modes = list(MODES)
    results: dict[str, dict[str, list[tuple[float, float]]]] = {
        kind: {m: [] for m in modes} for kind in ("non-streaming", "streaming")}
    with tokenproof.tag(feature="support-answer", tier="pro", customer="acme"):
        for kind, fn in _calls(client).items():
            for mode in modes:  # warm-up (imports, price resolution, encodings)
                _enter(mode, states)
                for _ in range(30):
                    fn()
            for i in range(args.calls):  # interleaved one call at a time, rotating the order
                k = i % len(modes)
                for mode in modes[k:] + modes[:k]:
                    _enter(mode, states)
                    results[kind][mode].append(_one_call_us(fn))
    _enter("bare", states)

    print("settings (tags feature/tier/customer set on every call; same tracer and meter providers):")
    for mode, text in SETTINGS.items():
        print(f"  {mode:<22} {text}")
    print(f"\nper-call medians of {args.calls} interleaved calls per mode, microseconds "
          f"(CPU = process time; wall = elapsed)")
    print(f"{'call':<14} {'mode':<22} {'CPU':>7} {'added':>7} {'wall':>7} {'added':>7}")
    added: dict[str, dict[str, float]] = {}
    bares: dict[str, float] = {}
    for kind, by_mode in results.items():
        cpu = {m: statistics.median(v[0] for v in by_mode[m]) for m in modes}
        wall = {m: statistics.median(v[1] for v in by_mode[m]) for m in modes}
        bares[kind] = cpu["bare"]
        added[kind] = {m: cpu[m] - cpu["bare"] for m in modes}
        for m in modes:
            first = kind if m == "bare" else ""
            extra = ("" if m == "bare" else f"{cpu[m] - cpu['bare']:7.0f}", "" if m == "bare" else
                     f"{wall[m] - wall['bare']:7.0f}")
            print(f"{first:<14} {m:<22} {cpu[m]:7.0f} {extra[0]:>7} {wall[m]:7.0f} {extra[1]:>7}")

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.3f}" if b > 0 else "n/a"

    kinds = list(results)
    print(f"\n{'ratios (CPU time)':<56}" + "".join(f"{k:>15}" for k in kinds))
    rows = [
        ("tokenproof added / bare call", lambda k: f"{added[k]['tokenproof'] / bares[k]:.1%}"),
        ("tokenproof added / openllmetry added (default)",
         lambda k: ratio(added[k]["tokenproof"], added[k]["openllmetry"])),
        ("tokenproof added / openllmetry added (content off)",
         lambda k: ratio(added[k]["tokenproof"], added[k]["openllmetry-nocontent"])),
        ("SDK floor added / openllmetry added (default)",
         lambda k: ratio(added[k]["sdk-floor"], added[k]["openllmetry"])),
        ("SDK floor added / openllmetry added (content off)",
         lambda k: ratio(added[k]["sdk-floor"], added[k]["openllmetry-nocontent"])),
        ("tokenproof above the SDK floor (us)", lambda k: f"{added[k]['tokenproof'] - added[k]['sdk-floor']:.0f}"),
    ]
    for label, cell in rows:
        print(f"  {label:<54}" + "".join(f"{cell(k):>15}" for k in kinds))
    for k in kinds:
        limit = added[k]["openllmetry"] / 10
        verdict = "met" if added[k]["tokenproof"] <= limit else "NOT met"
        floor_note = "" if added[k]["sdk-floor"] <= limit else \
            f"; the SDK floor alone ({added[k]['sdk-floor']:.0f} us) is above that limit"
        print(f"  target {k}: tokenproof adds {added[k]['tokenproof']:.0f} us, 1/10 of OpenLLMetry's is "
              f"{limit:.0f} us -> {verdict}{floor_note}")
    print("\nspans exported per scope:", dict(NullExporter.counts))
    print("metric data points per scope:", _metric_points(reader))
    if not args.no_breakdown:
        _enter("tokenproof", states)
        breakdown(client, floor, states)
        _enter("bare", states)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
