"""Instrument / uninstrument, the entry point, and never breaking the host app."""

from __future__ import annotations

from importlib.metadata import entry_points

import anthropic._base_client as anthropic_base
import anthropic.resources.beta.messages as anthropic_beta
import anthropic.resources.messages as anthropic_messages
import openai._base_client as openai_base
import openai.resources.chat.completions as chat
import openai.resources.completions as legacy_completions
import openai.resources.embeddings as embeddings
import openai.resources.responses as responses
import pytest

from tokenproof import semconv as sc
from tokenproof.instrumentation import TokenproofInstrumentor
from tokenproof.instrumentation._instrumentor import TARGETS

from .conftest import chat_completion, openai_client

_CANDIDATES = [
    (chat.Completions, "create"), (chat.AsyncCompletions, "create"), (chat.Completions, "parse"),
    (chat.AsyncCompletions, "parse"), (chat.Completions, "stream"), (chat.AsyncCompletions, "stream"),
    (responses.Responses, "create"), (responses.AsyncResponses, "create"), (responses.Responses, "stream"),
    (responses.AsyncResponses, "stream"), (responses.Responses, "parse"), (responses.AsyncResponses, "parse"),
    (embeddings.Embeddings, "create"), (embeddings.AsyncEmbeddings, "create"),
    (legacy_completions.Completions, "create"), (legacy_completions.AsyncCompletions, "create"),
    (anthropic_messages.Messages, "create"), (anthropic_messages.AsyncMessages, "create"),
    (anthropic_messages.Messages, "stream"), (anthropic_messages.AsyncMessages, "stream"),
    (anthropic_messages.Messages, "parse"), (anthropic_messages.AsyncMessages, "parse"),
    *[(anthropic_beta.Messages, m) for m in ("create", "parse", "stream")],
    *[(anthropic_beta.AsyncMessages, m) for m in ("create", "parse", "stream")],
    *[(base.SyncAPIClient, "post") for base in (openai_base, anthropic_base)],
    *[(base.AsyncAPIClient, "post") for base in (openai_base, anthropic_base)],
]
try:  # openai 1.x kept parse() / stream() under beta
    import openai.resources.beta.chat.completions as beta_chat
except ImportError:
    pass
else:
    _CANDIDATES += [(beta_chat.Completions, "parse"), (beta_chat.AsyncCompletions, "parse"),
                    (beta_chat.Completions, "stream"), (beta_chat.AsyncCompletions, "stream")]
# every method of the installed SDK versions that tokenproof patches (openai 3.x with anthropic 2.x: 34 methods)
METHODS = [(cls, name) for cls, name in _CANDIDATES if name in cls.__dict__]


def test_entry_point_registered():
    found = [ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == "tokenproof"]
    assert len(found) == 1 and found[0].load() is TokenproofInstrumentor


def test_declares_sdks_and_loads_with_either():
    deps = TokenproofInstrumentor().instrumentation_dependencies()
    assert any(d.startswith("openai") for d in deps) and any(d.startswith("anthropic") for d in deps)
    assert TokenproofInstrumentor()._check_dependency_conflicts() is None


def test_idempotent_and_full_uninstrument(telemetry):
    originals = {(cls, name): cls.__dict__[name] for cls, name in METHODS}
    instrumentor = TokenproofInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        wrapped = {key: key[0].__dict__[key[1]] for key in originals}
        assert all(wrapped[key] is not originals[key] for key in originals)
        instrumentor.instrument(tracer_provider=telemetry.tracer_provider)  # second call: no double wrap
        assert all(key[0].__dict__[key[1]] is wrapped[key] for key in originals)
        client = openai_client(lambda _: (200, chat_completion()))
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert len(telemetry.llm_spans()) == 1
    finally:
        instrumentor.uninstrument()
    assert all(key[0].__dict__[key[1]] is originals[key] for key in originals)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert len(telemetry.llm_spans()) == 1  # no span once uninstrumented


def test_every_patched_method_is_listed_here(instrumented):
    patched = set(TokenproofInstrumentor()._patched)
    assert patched == set(METHODS)
    assert all(t.module.startswith(("openai.", "anthropic.")) for t in TARGETS)


def test_internal_error_never_breaks_the_call(instrumented, monkeypatch):
    monkeypatch.setenv("TOKENPROOF_RAISE_INTERNAL_ERRORS", "false")
    import tokenproof.pricing as pricing

    def broken_price(*args, **kwargs):
        raise RuntimeError("price table exploded")

    monkeypatch.setattr(pricing, "price_counts", broken_price)  # what the instrumentation calls
    client = openai_client(lambda _: (200, chat_completion()))
    response = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content == "Hello there!"
    span = instrumented.only_span()
    assert span.end_time is not None
    errors = instrumented.metrics()[sc.METRIC_INSTRUMENTATION_ERRORS]
    assert sum(p.value for p in errors) == 1
    assert errors[0].attributes["error.type"] == "RuntimeError"


def test_internal_error_raises_under_tests(instrumented, monkeypatch):
    import tokenproof.pricing as pricing

    monkeypatch.setattr(pricing, "price_counts", lambda *a, **k: 1 / 0)
    client = openai_client(lambda _: (200, chat_completion()))
    with pytest.raises(ZeroDivisionError):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


def test_import_pulls_in_no_sdk():
    """The bare install: importing the instrumentation loads neither SDK nor tiktoken."""
    import subprocess
    import sys

    code = ("import sys, tokenproof, tokenproof.instrumentation; "
            "print(sorted(m for m in ('openai', 'anthropic', 'tiktoken', 'httpx2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert tokenproof_lazy_export() is TokenproofInstrumentor


def tokenproof_lazy_export():
    import tokenproof

    return tokenproof.TokenproofInstrumentor


def test_raw_response_variant_is_priced(instrumented):
    client = openai_client(lambda _: (200, chat_completion()))
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini",
                                                           messages=[{"role": "user", "content": "hi"}])
    assert raw.parse().choices[0].message.content == "Hello there!"
    span = instrumented.only_span()
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert span.attributes[sc.TP_COST_STATUS] == sc.COST_PRICED


def test_router_rewrites_request_and_records_route(instrumented):
    """The generic wrapper applies a route after tags and fingerprint are known (docs/routing.md)."""
    from tokenproof.instrumentation import _routing, _runtime

    seen = []
    client = openai_client(lambda body: (seen.append(body["model"]), (200, chat_completion(model=body["model"])))[1])
    router = _routing.Router("http://127.0.0.1:9/unused", "")
    router.table = _routing.parse_document({"routes": [{
        "id": "route-7", "version": 1, "state": "active", "traffic_share": 1.0, "candidate": "gpt-4o-mini",
        "match": {"service": "", "feature": "", "fingerprint": "", "baseline": "gpt-4o"}}]}, "")
    _runtime.get().router = router
    try:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    finally:
        _runtime.get().router = None
    assert seen == ["gpt-4o-mini"]
    span = instrumented.only_span()
    assert span.attributes[sc.TP_ROUTE_ID] == "route-7"
    assert span.attributes[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert span.attributes[sc.TP_ROUTE_BASELINE_MODEL] == "gpt-4o"


def test_broken_overrides_file_leaves_calls_unpriced_with_their_tokens(instrumented, monkeypatch, tmp_path):
    """A user's invalid overrides file costs the price, never the call or its token counts."""
    import tokenproof.pricing as pricing

    bad = tmp_path / "overrides.toml"
    bad.write_text('overrides = [{ model = "gpt-4o-mini", input_mtok = -1 }]\n')
    monkeypatch.setenv("TOKENPROOF_RAISE_INTERNAL_ERRORS", "false")
    monkeypatch.setenv("TOKENPROOF_PRICE_OVERRIDES", str(bad))
    pricing.reset()
    try:
        client = openai_client(lambda _: (200, chat_completion()))
        response = client.chat.completions.create(model="gpt-4o-mini",
                                                  messages=[{"role": "user", "content": "hi"}])
    finally:
        monkeypatch.delenv("TOKENPROOF_PRICE_OVERRIDES")
        pricing.reset()
    assert response.choices[0].message.content == "Hello there!"
    attrs = dict(instrumented.only_span().attributes)
    assert attrs[sc.TP_COST_STATUS] == sc.COST_UNPRICED and sc.GEN_AI_USAGE_COST not in attrs
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0 and attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    errors = instrumented.metrics()[sc.METRIC_INSTRUMENTATION_ERRORS]
    assert sum(p.value for p in errors) == 1 and errors[0].attributes["location"] == "pricing"
    assert sum(p.value for p in instrumented.metrics()[sc.METRIC_UNPRICED_CALLS]) == 1
