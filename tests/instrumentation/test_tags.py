"""Business tags: tag() as context manager / decorator, nesting, threads, asyncio, baggage, defaults."""

from __future__ import annotations

import asyncio
import threading

import pytest
from opentelemetry import baggage, context

import tokenproof
from tokenproof import semconv as sc
from tokenproof._tags import Tags, current_tags, refresh_defaults

from .conftest import chat_completion, openai_client

MESSAGES = [{"role": "user", "content": "hi"}]


def _tags_of(span) -> dict:
    keys = (sc.TP_FEATURE, sc.TP_TIER, sc.TP_CUSTOMER, sc.TP_TRAFFIC_CLASS)
    return {k: span.attributes[k] for k in keys if k in span.attributes}


def test_context_manager_nesting_restores(instrumented):
    client = openai_client(lambda _: (200, chat_completion()))
    with tokenproof.tag(feature="search", tier="free"):
        with tokenproof.tag(tier="pro", customer="acme"):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    inner, outer, none = instrumented.llm_spans()
    assert _tags_of(inner) == {sc.TP_FEATURE: "search", sc.TP_TIER: "pro", sc.TP_CUSTOMER: "acme"}
    assert _tags_of(outer) == {sc.TP_FEATURE: "search", sc.TP_TIER: "free"}
    assert _tags_of(none) == {}


async def test_decorator_sync_and_async(instrumented):
    client = openai_client(lambda _: (200, chat_completion()))
    aclient = openai_client(lambda _: (200, chat_completion()), is_async=True)

    @tokenproof.tag(feature="summarize", traffic_class="shadow")
    def sync_job():
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    @tokenproof.tag(feature="classify")
    async def async_job():
        return await aclient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    sync_job()
    await async_job()
    assert current_tags() == Tags()
    first, second = instrumented.llm_spans()
    assert _tags_of(first) == {sc.TP_FEATURE: "summarize", sc.TP_TRAFFIC_CLASS: "shadow"}
    assert _tags_of(second) == {sc.TP_FEATURE: "classify"}


def test_threads_never_mix_tags(instrumented):
    client = openai_client(lambda _: (200, chat_completion()))
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        with tokenproof.tag(customer=f"c{n}"):
            barrier.wait()
            for _ in range(5):
                with tokenproof.tag(feature=f"f{n}"):
                    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, user=f"u{n}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spans = instrumented.llm_spans()
    assert len(spans) == 20
    for span in spans:
        n = span.attributes[sc.TP_CUSTOMER][1:]
        assert span.attributes[sc.TP_FEATURE] == f"f{n}"


async def test_asyncio_tasks_never_mix_tags(instrumented):
    client = openai_client(lambda _: (200, chat_completion()), is_async=True)

    async def job(n: int) -> None:
        with tokenproof.tag(feature=f"f{n}", customer=f"c{n}"):
            for _ in range(3):
                await asyncio.sleep(0)
                await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    await asyncio.gather(*(job(n) for n in range(5)))
    spans = instrumented.llm_spans()
    assert len(spans) == 15
    for span in spans:
        assert span.attributes[sc.TP_FEATURE][1:] == span.attributes[sc.TP_CUSTOMER][1:]


def test_baggage_and_precedence(instrumented, monkeypatch):
    monkeypatch.setenv("TOKENPROOF_DEFAULT_TIER", "default-tier")
    monkeypatch.setenv("TOKENPROOF_DEFAULT_FEATURE", "default-feature")
    refresh_defaults()  # defaults are read at instrument(), not per call
    client = openai_client(lambda _: (200, chat_completion()))
    ctx = baggage.set_baggage(sc.BAGGAGE_FEATURE, "from-baggage")
    ctx = baggage.set_baggage(sc.BAGGAGE_CUSTOMER, "cust-9", ctx)
    ctx = baggage.set_baggage(sc.BAGGAGE_TRAFFIC_CLASS, "judge", ctx)
    token = context.attach(ctx)
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        with tokenproof.tag(customer="explicit"):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        context.detach(token)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    from_baggage, explicit, defaults = instrumented.llm_spans()
    assert _tags_of(from_baggage) == {sc.TP_FEATURE: "from-baggage", sc.TP_TIER: "default-tier",
                                      sc.TP_CUSTOMER: "cust-9", sc.TP_TRAFFIC_CLASS: "judge"}
    assert _tags_of(explicit)[sc.TP_CUSTOMER] == "explicit"
    assert _tags_of(defaults) == {sc.TP_FEATURE: "default-feature", sc.TP_TIER: "default-tier"}
    monkeypatch.undo()
    refresh_defaults()


def test_unknown_traffic_class_rejected():
    with pytest.raises(ValueError, match="traffic"):
        tokenproof.tag(traffic_class="experiment")


def test_cost_counter_broken_down_by_tags(instrumented):
    client = openai_client(lambda _: (200, chat_completion()))
    with tokenproof.tag(feature="search", tier="free", customer="c1"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with tokenproof.tag(feature="search", tier="free", customer="c2"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with tokenproof.tag(feature="chat", tier="pro", traffic_class="shadow"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    points = instrumented.metrics()[sc.METRIC_COST]
    by_tags = {(p.attributes.get(sc.TP_FEATURE), p.attributes.get(sc.TP_TIER),
                p.attributes.get(sc.TP_TRAFFIC_CLASS)): p.value for p in points}
    one = instrumented.llm_spans()[0].attributes[sc.GEN_AI_USAGE_COST]
    assert by_tags == pytest.approx({("search", "free", None): 2 * one, ("chat", "pro", "shadow"): one})
    assert all(sc.TP_CUSTOMER not in p.attributes for p in points)  # unbounded: spans only, not metrics
