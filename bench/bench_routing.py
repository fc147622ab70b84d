"""Routing: the routing decision's cost per call, and the drift detector's run lengths.

    .venv/bin/python bench/bench_routing.py [--calls 3000] [--runs 4000]

1. Per-call CPU time (median of process time, modes interleaved one call at a time) of a real
   openai client over an in-memory transport: ``bare`` (no instrumentation), ``instrumented``
   (tokenproof, no routing), and with 1,000 routes loaded: ``routes-miss`` (the call's model has no
   route: one set lookup), ``routes-key-miss`` (the model has routes, the feature does not: tags,
   fingerprint and the key lookups, the tags and fingerprint then reused by the span) and
   ``routes-hit`` (the request is rewritten to the candidate). Printed: the routing decision's added
   time next to the instrumentation's own added time (target: at most 5% of it), and
   ``Router.decide`` alone.
2. The Bernoulli CUSUM (p0 = 0.05, p1 = 0.15, h = 3.5): run length to the first alarm when the loss
   rate stays at 5% (false alarms) and detection delay at 15% and 25%, by simulation; then on
   recorded data: loss indicators of the recorded corpus (GSM8K: the baseline GPT-4 answer correct
   and the candidate Mixtral answer wrong), resampled at 5% / 15% / 25% losses from the recorded
   losing and non-losing questions, and at the recorded pair's own loss rate.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

import httpx2
import openai
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from tokenproof import tag
from tokenproof.analytics.routing.cusum import BernoulliCUSUM, run_length
from tokenproof.instrumentation import TokenproofInstrumentor, _routing, _runtime

MESSAGES = [{"role": "system", "content": "You are the support assistant of Acme Corp. Answer in two sentences."},
            {"role": "user", "content": "My invoice #4411 shows a double charge for March, can you help?"}]
COMPLETION = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                 "message": {"role": "assistant", "content": "Sorry about that! I have refunded the charge."}}],
    "usage": {"prompt_tokens": 41, "completion_tokens": 12, "total_tokens": 53}}).encode()


class Canned(httpx2.BaseTransport):
    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        return httpx2.Response(200, content=COMPLETION, headers={"content-type": "application/json"})


class Null(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _document(n: int, fingerprint: str) -> dict:
    routes = [{"id": f"rt_{i}", "version": 1, "state": "active", "traffic_share": 1.0, "candidate": "gpt-4o-mini",
               "match": {"service": "app", "feature": f"feature-{i}", "fingerprint": fingerprint if i == 0 else f"fp{i}",
                         "baseline": "gpt-4o" if i % 2 == 0 else f"gpt-4.1-{i}"}} for i in range(n)]
    return {"revision": "1", "routes": routes}


def _median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def overhead(calls: int) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Null()))
    TokenproofInstrumentor().instrument(tracer_provider=provider)
    runtime = _runtime.get()
    client = openai.OpenAI(api_key="sk-x", base_url="http://bench.invalid/v1", max_retries=0,
                           http_client=httpx2.Client(transport=Canned()))
    from tokenproof.instrumentation._openai import ChatAdapter

    fingerprint = ChatAdapter().fingerprint({"messages": MESSAGES}) or ""
    router = _routing.Router("http://127.0.0.1:9/unused", "app")
    router.table = _routing.parse_document(_document(1000, fingerprint), "app")
    assert len(router.table.keys) == 1000

    def call(model: str) -> None:
        client.chat.completions.create(model=model, messages=MESSAGES)

    modes = {
        "bare": (None, "gpt-4o", "x"),
        "instrumented": (runtime, "gpt-4o", "x"),
        "routes-miss": (runtime, "gpt-4o-2024-08-06", "x"),  # no route for this model
        "routes-key-miss": (runtime, "gpt-4o", "no-such-feature"),
        "routes-hit": (runtime, "gpt-4o", "feature-0"),
    }
    samples: dict[str, list[float]] = {m: [] for m in modes}
    order = list(modes)
    for i in range(calls + 200):
        order = order[1:] + order[:1]
        for mode in order:
            rt, model, feature = modes[mode]
            _runtime._runtime = rt
            if rt is not None:
                rt.router = None if mode == "instrumented" else router
            with tag(feature=feature):
                start = time.process_time()
                call(model)
                elapsed = time.process_time() - start
            if i >= 200:
                samples[mode].append(elapsed)
    _runtime._runtime = runtime
    med = {m: _median_us(s) for m, s in samples.items()}
    own = med["instrumented"] - med["bare"]
    print(f"per-call CPU time, median of {calls} calls each (process time, us):")
    for mode, value in med.items():
        extra = ""
        if mode.startswith("routes"):
            added = value - med["instrumented"]
            extra = f"  routing adds {added:+.1f} us = {added / own:+.1%} of the instrumentation's own {own:.1f} us"
        print(f"  {mode:16} {value:8.1f}{extra}")

    adapter = ChatAdapter()
    for label, kwargs, feature in (("model without routes", {"model": "gpt-4o-2024-08-06", "messages": MESSAGES}, "x"),
                                   ("model with routes, key miss", {"model": "gpt-4o", "messages": MESSAGES}, "nope"),
                                   ("hit", {"model": "gpt-4o", "messages": MESSAGES}, "feature-0")):
        with tag(feature=feature):
            n = 20000
            start = time.perf_counter()
            for _ in range(n):
                router.decide(adapter, kwargs)
            per = (time.perf_counter() - start) / n * 1e6
        print(f"  Router.decide, 1,000 routes, {label}: {per:.2f} us (wall; includes the fingerprint the span reuses)")
    TokenproofInstrumentor().uninstrument()


def _summary(lengths: list[int]) -> str:
    lengths = sorted(lengths)
    return (f"mean {statistics.mean(lengths):7.1f}  median {statistics.median(lengths):6.0f}  "
            f"p10 {lengths[len(lengths) // 10]:5d}  p90 {lengths[9 * len(lengths) // 10]:6d}")


def _recorded() -> tuple[list[int], list[int]]:
    from tokenproof_devkit.provider.corpus import GPT4, MIXTRAL, get_corpus

    records = [r for r in get_corpus().records if r.dataset == "gsm8k"]
    losses = [1 for r in records if r.labels[GPT4] == 1 and r.labels[MIXTRAL] == 0]
    rest = [0 for r in records if not (r.labels[GPT4] == 1 and r.labels[MIXTRAL] == 0)]
    return losses, rest


def _resampled(rate: float, losses: list[int], rest: list[int], runs: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    lengths = []
    for _ in range(runs):
        detector = BernoulliCUSUM()
        while not detector.alarm and detector.n < 100_000:
            pool = losses if rng.random() < rate else rest
            detector.update(bool(pool[rng.randrange(len(pool))]))
        lengths.append(detector.n)
    return lengths


def detector(runs: int) -> None:
    print(f"\nBernoulli CUSUM p0=0.05 p1=0.15 h=3.5, {runs} runs each (observations = judged comparisons):")
    for rate, label in ((0.05, "in control (false-alarm run length)"), (0.15, "loss rate 15% (detection delay)"),
                        (0.25, "loss rate 25% (detection delay)")):
        print(f"  simulated  {rate:.0%} {label:38} {_summary(run_length(rate, runs=runs, seed=1))}")
    losses, rest = _recorded()
    own = len(losses) / (len(losses) + len(rest))
    for rate, label in ((0.05, "in control"), (0.15, "loss rate 15%"), (0.25, "loss rate 25%")):
        print(f"  recorded   {rate:.0%} {label:38} {_summary(_resampled(rate, losses, rest, runs, 2))}")
    print(f"  recorded   GSM8K Mixtral vs GPT-4 as recorded ({own:.0%} losses) "
          f"{_summary(_resampled(own, losses, rest, runs, 3))}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=4000)
    args = parser.parse_args()
    overhead(args.calls)
    detector(args.runs)


if __name__ == "__main__":
    main()
