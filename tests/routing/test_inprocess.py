"""In-process routing with the real SDKs against the replay provider, routes served by the real service."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tokenproof import semconv as sc
from tokenproof import tag
from tokenproof.instrumentation import TokenproofInstrumentor, _runtime
from tokenproof_devkit.provider.testing import run_provider

MESSAGES = [{"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Natalia sold clips to 48 of her friends in April, and then she sold half as "
                                        "many clips in May. How many clips did Natalia sell altogether in April and May?"}]
W = {"Authorization": "Bearer w"}


@pytest.fixture(autouse=True)
def _credentials(monkeypatch):
    monkeypatch.setenv("TOKENPROOF_READ_TOKEN", "r")  # the app reads its routes with the read-only token
    monkeypatch.setenv("TOKENPROOF_ROUTING_MONITOR_INTERVAL_SECONDS", "0")


@pytest.fixture(scope="module")
def provider():
    with run_provider(latency_ms=0, timeout_s=5) as handle:
        yield handle


class App:
    """An instrumented app: its spans, its router, its clients (fault header on candidate requests only)."""

    def __init__(self, routes_url: str, cache: str, candidate_fault: str = "") -> None:
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.instrumentor = TokenproofInstrumentor()
        self.instrumentor.instrument(tracer_provider=provider, routes_url=routes_url, routes_cache_path=cache,
                                     routes_poll_seconds=0.05, service="app")
        self.candidate_fault = candidate_fault

    @property
    def router(self):
        return _runtime.get().router

    def _hook(self, request):
        if self.candidate_fault and request.content and json.loads(request.content).get("model") == "gpt-4o-mini":
            request.headers["X-Tokenproof-Fault"] = self.candidate_fault

    async def _ahook(self, request):
        self._hook(request)

    def client(self, provider, is_async=False):
        if is_async:
            return openai.AsyncOpenAI(base_url=provider.base_url_openai, api_key="sk-test", max_retries=0,
                                      http_client=httpx2.AsyncClient(event_hooks={"request": [self._ahook]}))
        return openai.OpenAI(base_url=provider.base_url_openai, api_key="sk-test", max_retries=0,
                             http_client=httpx2.Client(event_hooks={"request": [self._hook]}))

    def spans(self):
        return [s for s in self.exporter.get_finished_spans() if sc.GEN_AI_OPERATION_NAME in (s.attributes or {})]

    def close(self):
        self.instrumentor.uninstrument()


@pytest.fixture()
def app_factory(tmp_path):
    apps: list[App] = []

    def make(routes_url, candidate_fault="", cache=None):
        app = App(routes_url, str(cache or tmp_path / "routes.json"), candidate_fault)
        apps.append(app)
        return app

    yield make
    for app in apps:
        try:
            app.close()
        except Exception:
            pass


def _push(service, make_proof, store, **extra):
    import httpx

    proof = make_proof(store)
    body = {"service": "app", "feature": "math", "baseline": "gpt-4o", "candidate": "gpt-4o-mini",
            "proof_route_id": proof, "state": "active", **extra}
    response = httpx.post(f"{service.url}/api/v1/routing/routes", json=body, headers=W)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _baseline_answer(provider):
    plain = openai.OpenAI(base_url=provider.base_url_openai, api_key="sk-test", max_retries=0)
    return plain.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message.content


async def test_pushed_route_moves_matching_traffic_and_nothing_else(store, make_proof, service_factory, app_factory,
                                                                    provider, wait_for):
    service = service_factory(store, api_token="w")
    rid = _push(service, make_proof, store)
    app = app_factory(service.routes_url)
    wait_for(lambda: app.router.table.models)
    client, aclient = app.client(provider), app.client(provider, is_async=True)
    with tag(feature="math", customer="c1"):
        routed = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True) if c.choices)
        async_routed = await aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        other_model = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    with tag(feature="other"):
        other_feature = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert routed.model == async_routed.model == "gpt-4o-mini"
    assert streamed == routed.choices[0].message.content  # the candidate's recorded answer, streamed
    assert other_model.model == "gpt-4.1" and other_feature.model == "gpt-4o"
    assert other_feature.choices[0].message.content == _baseline_answer(provider) != streamed
    spans = app.spans()
    assert [(s.attributes[sc.GEN_AI_REQUEST_MODEL], s.attributes.get(sc.TP_ROUTE_ID)) for s in spans] == [
        ("gpt-4o-mini", rid), ("gpt-4o-mini", rid), ("gpt-4o-mini", rid), ("gpt-4.1", None), ("gpt-4o", None),
        ("gpt-4o", None)]
    for span in spans[:3]:  # the span keeps the app's fingerprint and tags, and is priced as the candidate
        assert span.attributes[sc.TP_ROUTE_ATTEMPT] == sc.ROUTE_ATTEMPT_CANDIDATE
        assert span.attributes[sc.TP_PROMPT_FINGERPRINT] == spans[4].attributes[sc.TP_PROMPT_FINGERPRINT]
        assert span.attributes[sc.TP_COST_STATUS] == sc.COST_PRICED
        assert sc.TP_ROUTE_FALLBACK not in span.attributes


@pytest.mark.parametrize("fault,reason", [("500", sc.FALLBACK_ERROR), ("timeout", sc.FALLBACK_TIMEOUT)])
async def test_candidate_failures_fall_back_to_the_baselines_answer(store, make_proof, service_factory, app_factory,
                                                                    provider, wait_for, fault, reason):
    service = service_factory(store, api_token="w")
    rid = _push(service, make_proof, store, timeout_s=0.5)
    app = app_factory(service.routes_url, candidate_fault=fault)
    wait_for(lambda: app.router.table.models)
    client, aclient = app.client(provider), app.client(provider, is_async=True)
    with tag(feature="math"):
        sync_answer = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        async_answer = await aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True) if c.choices)
        astream = await aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        astreamed = "".join([c.choices[0].delta.content or "" async for c in astream if c.choices])
    spans = app.spans()
    baseline = _baseline_answer(provider)
    assert sync_answer.choices[0].message.content == async_answer.choices[0].message.content == baseline
    assert streamed == astreamed == baseline
    assert sync_answer.model == "gpt-4o"
    assert len(spans) == 8  # one span per attempt
    for candidate, fallback in zip(spans[0::2], spans[1::2], strict=True):
        assert candidate.attributes[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
        assert candidate.attributes[sc.TP_ROUTE_FALLBACK_REASON] == reason
        assert candidate.attributes[sc.TP_ROUTE_ID] == fallback.attributes[sc.TP_ROUTE_ID] == rid
        assert fallback.attributes[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o"
        assert fallback.attributes[sc.TP_ROUTE_FALLBACK] is True
        assert fallback.attributes[sc.TP_ROUTE_FALLBACK_REASON] == reason
        assert fallback.attributes[sc.TP_COST_STATUS] == sc.COST_PRICED


def test_a_stream_failing_after_its_first_chunk_propagates_the_error(store, make_proof, service_factory,
                                                                     app_factory, provider, wait_for):
    service = service_factory(store, api_token="w")
    _push(service, make_proof, store)
    app = app_factory(service.routes_url, candidate_fault="midstream:1")
    wait_for(lambda: app.router.table.models)
    client = app.client(provider)
    received = []
    with tag(feature="math"), pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            received.append(chunk)
    assert received and received[0].model == "gpt-4o-mini"
    assert [s.attributes[sc.GEN_AI_REQUEST_MODEL] for s in app.spans()] == ["gpt-4o-mini"]  # no second attempt


def test_outage_and_restart_keep_the_last_good_routes(store, make_proof, service_factory, app_factory, provider,
                                                      wait_for, tmp_path):
    cache = tmp_path / "cache" / "routes.json"
    service = service_factory(store, api_token="w")
    _push(service, make_proof, store)
    app = app_factory(service.routes_url, cache=cache)
    wait_for(lambda: app.router.table.models)
    wait_for(lambda: app.router.fetches["not_modified"] >= 2)  # later polls are answered 304 (ETag)
    assert app.router.fetches["ok"] == 1
    service.stop()  # endpoint outage: polls fail, the last good table stays
    failed = app.router.fetches["failed"]
    wait_for(lambda: app.router.fetches["failed"] > failed)
    with tag(feature="math"):
        assert app.client(provider).chat.completions.create(model="gpt-4o", messages=MESSAGES).model == "gpt-4o-mini"
    app.close()
    restarted = app_factory(service.routes_url, cache=cache)  # the app restarts during the outage
    assert restarted.router.table.models == {"gpt-4o"}
    with tag(feature="math"):
        assert restarted.client(provider).chat.completions.create(model="gpt-4o", messages=MESSAGES).model == \
            "gpt-4o-mini"
    restarted.close()
    fresh = app_factory(service.routes_url, cache=tmp_path / "none.json")  # no good copy at all: as written
    with tag(feature="math"):
        assert fresh.client(provider).chat.completions.create(model="gpt-4o", messages=MESSAGES).model == "gpt-4o"
    assert fresh.router.fetches["ok"] == 0


def test_a_malformed_document_keeps_the_last_good_routes(tmp_path):
    from tokenproof.instrumentation._routing import Router

    good = {"revision": "1", "routes": [
        {"id": "rt_a", "version": 1, "state": "active", "traffic_share": 1.0, "candidate": "gpt-4o-mini",
         "match": {"service": "app", "feature": "", "fingerprint": "", "baseline": "gpt-4o"}},
        {"id": "rt_bad", "version": 1, "state": "active", "candidate": "x", "match": {"service": "app"}}]}
    cache = tmp_path / "routes.json"
    cache.write_text(json.dumps({"etag": "e", "document": good}))
    router = Router("http://127.0.0.1:9/none", "app", cache_path=str(cache))
    assert list(router.table.keys) == [("", "", "gpt-4o")]  # the malformed route is skipped, the good one kept
    cache.write_text("{broken")
    assert Router("http://127.0.0.1:9/none", "app", cache_path=str(cache)).table.models == frozenset()
