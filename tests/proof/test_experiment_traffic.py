"""Shadow and judge calls are experiment cost: the real instrumentor tags them, and a judge that
cannot tell the answers apart makes a route uninformative instead of decided."""

from __future__ import annotations

import json

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tokenproof import semconv
from tokenproof.analytics.proof.prove import prove, read_batch
from tokenproof.analytics.proof.replay import Replayer
from tokenproof.analytics.proof.sequential import Params
from tokenproof.cli import main
from tokenproof.instrumentation import TokenproofInstrumentor
from tokenproof_devkit.examples import write_gsm8k_batch
from tokenproof_devkit.provider.testing import run_provider


def test_shadow_and_judge_calls_carry_their_traffic_class(tmp_path):
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = TokenproofInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        requests = read_batch(write_gsm8k_batch(tmp_path / "b.jsonl", n=2, seed=1))
        with run_provider() as provider:
            report = prove(requests, "mixtral-8x7b-instruct", params=Params(n_min=1, n_max=2),
                           replayer=Replayer(base_url=provider.base_url_openai), concurrency=1)
    finally:
        instrumentor.uninstrument()
    spans = [s for s in exporter.get_finished_spans() if semconv.GEN_AI_OPERATION_NAME in (s.attributes or {})]
    by_class: dict[str, list] = {}
    for span in spans:
        by_class.setdefault(span.attributes.get(semconv.TP_TRAFFIC_CLASS), []).append(span)
    # per request: baseline replay + candidate replay (shadow), two judge orders (judge)
    assert len(by_class[semconv.TRAFFIC_SHADOW]) == 4
    assert len(by_class[semconv.TRAFFIC_JUDGE]) == 4
    assert set(by_class) == {semconv.TRAFFIC_SHADOW, semconv.TRAFFIC_JUDGE}  # nothing counted as product
    assert all(s.attributes.get(semconv.TP_FEATURE) == "gsm8k" for s in spans)
    judge_models = {s.attributes[semconv.GEN_AI_REQUEST_MODEL] for s in by_class[semconv.TRAFFIC_JUDGE]}
    assert judge_models == {"gpt-4-1106-preview"}
    assert report["routes"][0]["n"] == 2


def test_a_position_biased_judge_makes_the_route_uninformative(tmp_path, capsys):
    batch = write_gsm8k_batch(tmp_path / "b.jsonl", n=60, seed=2, features=("mmlu:marketing",))
    # the provider's judge answers [[A]] on every close call: pure position bias on ties
    with run_provider(judge_position_bias=1.0) as provider:
        code = main(["prove", str(batch), "--candidate", "mixtral-8x7b-instruct", "--base-url",
                     provider.base_url_openai, "--out", str(tmp_path / "out")])
    assert code == 0
    (route,) = json.loads((tmp_path / "out" / "report.json").read_text())["routes"]
    assert route["swap_inconsistency_rate"] > 0.2
    # order disagreements are unresolved, never passes: above the cap the route is uninformative
    assert route["unresolved_reasons"]["order_disagreement"] == route["unresolved"]
    assert route["decision"] == "uninformative" and route["uninformative"]
    assert "UNINFORMATIVE" in (tmp_path / "out" / "report.html").read_text()
