"""`tokenproof prove` projects savings at the group's live monthly volume when the service knows the
group; only without it does it fall back to the file's own volume, and then it says what proving cost."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tokenproof import semconv
from tokenproof.cli import main
from tokenproof.collector.store import Store
from tokenproof.collector.testing import ServiceThread, insert_spans
from tokenproof_devkit.examples import write_gsm8k_batch
from tokenproof_devkit.provider.corpus import GPT4
from tokenproof_devkit.provider.testing import run_provider


@pytest.fixture()
def live_service(tmp_path, monkeypatch):
    store = Store.open(str(tmp_path / "store"))
    now = dt.datetime.now(dt.UTC)
    spans = [{"service": "homework-app", "timestamp": now - dt.timedelta(hours=i % 600, minutes=i % 60),
              "attributes": {semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_PROVIDER_NAME: "openai",
                             semconv.GEN_AI_REQUEST_MODEL: GPT4, semconv.GEN_AI_RESPONSE_MODEL: GPT4,
                             semconv.GEN_AI_USAGE_INPUT_TOKENS: 120, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 40,
                             semconv.TP_FEATURE: "mmlu:world_religions"}} for i in range(3000)]
    insert_spans(store, spans)
    service = ServiceThread(store)
    monkeypatch.setenv("TOKENPROOF_SERVICE_URL", service.url)
    try:
        yield service
    finally:
        service.stop()
        store.close()


def _prove(tmp_path, base_url: str) -> dict:
    batch = write_gsm8k_batch(tmp_path / "batch.jsonl", n=40, seed=5, features=("mmlu:world_religions",))
    assert main(["prove", str(batch), "--candidate", "mixtral-8x7b-instruct", "--base-url", base_url,
                 "--out", str(tmp_path / "out"), "--min-n", "10"]) == 0
    return json.loads((tmp_path / "out" / "report.json").read_text())["routes"][0]


def test_savings_use_the_live_volume_from_the_store(tmp_path, live_service, capsys):
    with run_provider() as provider:
        route = _prove(tmp_path, provider.base_url_openai)
    assert route["volume_source"] == "live volume from the store"
    assert route["monthly_calls"] > 1000  # the live group's rate, not the file's 40 calls
    assert "saving_vs_proving" not in route
    assert "live volume from the store" in capsys.readouterr().out


def test_without_a_service_the_file_volume_is_set_against_the_proving_cost(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TOKENPROOF_SERVICE_URL", "http://127.0.0.1:9")  # nothing listens there
    with run_provider() as provider:
        route = _prove(tmp_path, provider.base_url_openai)
    assert route["volume_source"] == "file volume" and route["monthly_calls"] == 40
    assert "spent proving it" in route["saving_vs_proving"]
