"""The analytics API mounted in the real service app (entry-point group), over a real store."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from tokenproof.analytics.focus import FOCUS_COLUMNS
from tokenproof.collector.app import create_app
from tokenproof.collector.testing import insert_spans

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime.now(UTC)


@pytest.fixture()
def client(store, span, monkeypatch):
    monkeypatch.setenv("TOKENPROOF_ALERT_EVAL_INTERVAL_MINUTES", "0")
    insert_spans(store, [span(feature="summarize", model="gpt-4o", cost=0.5, when=NOW - timedelta(hours=2)),
                         span(feature="chat", model="gpt-4o-mini", cost=0.1, when=NOW - timedelta(hours=1)),
                         span(feature="chat", model="gpt-4o-mini", cost=0.2, when=NOW - timedelta(hours=1),
                              traffic="shadow")])
    app = create_app(store, api_token=TOKEN)
    with TestClient(app) as test_client:
        assert app.state.api_routers.get("analytics") == "ok"
        yield test_client


def test_cost_endpoint(client):
    answer = client.get("/api/v1/cost", params={"by": "feature", "since": "1d"})
    assert answer.status_code == 200
    rows = {r["feature"]: r for r in answer.json()["rows"]}
    assert rows["summarize"]["cost_usd"] == pytest.approx(0.5)
    assert rows["chat"]["cost_usd"] == pytest.approx(0.1)
    assert answer.json()["experiment"]["totals"]["cost_usd"] == pytest.approx(0.2)
    where = client.get("/api/v1/cost", params={"by": "model", "where": "feature=chat", "since": "1d"}).json()
    assert [r["model"] for r in where["rows"]] == ["gpt-4o-mini"]


@pytest.mark.parametrize("params, fragment", [
    ({"by": "feature,colour"}, "colour"),
    ({"since": "yesterday-ish"}, "bad time"),
    ({"since": "1d", "until": "2d"}, "must be after"),
    ({"granularity": "fortnight"}, "fortnight"),
    ({"where": "feature"}, "dimension=value"),
])
def test_cost_validation_errors(client, params, fragment):
    answer = client.get("/api/v1/cost", params=params)
    assert answer.status_code == 400
    assert fragment in answer.json()["detail"]
    if "colour" in params.get("by", ""):
        assert "feature" in answer.json()["detail"] and "attr." in answer.json()["detail"]


def test_movers_coverage_and_trace_endpoints(client):
    movers = client.get("/api/v1/cost/movers", params={"since": "1d", "by": "feature"}).json()
    assert {r["feature"] for r in movers["rows"]} == {"summarize", "chat"}
    coverage = client.get("/api/v1/cost/coverage", params={"since": "1d"}).json()
    assert coverage["calls"] == 3 and coverage["unpriced_calls"] == 0
    assert client.get("/api/v1/cost/traces/not-hex!").status_code == 400
    assert client.get("/api/v1/cost/traces/" + "0" * 32).status_code == 404


def test_writes_need_the_api_token(client):
    assert client.post("/api/v1/alerts/evaluate").status_code == 401
    assert client.put("/api/v1/budgets", json={"scope": "feature", "value": "chat", "monthly_usd": 5}).status_code == 401
    assert client.post("/api/v1/alerts/evaluate", headers=AUTH).status_code == 200
    bad = client.put("/api/v1/budgets", json={"scope": "colour", "value": "x", "monthly_usd": 5}, headers=AUTH)
    assert bad.status_code == 400 and "colour" in bad.json()["detail"]
    ok = client.put("/api/v1/budgets", json={"scope": "feature", "value": "chat", "monthly_usd": 5}, headers=AUTH)
    assert ok.status_code == 200
    budgets = client.get("/api/v1/budgets").json()["budgets"]
    assert budgets[0]["value"] == "chat" and budgets[0]["month_to_date_usd"] >= 0
    assert client.post("/api/v1/alerts/nope/ack", headers=AUTH).status_code == 404
    assert client.get("/api/v1/alerts", params={"status": "bogus"}).status_code == 400


def test_focus_export_csv_and_parquet(client):
    csv = client.get("/api/v1/export/focus", params={"since": "1d", "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    header = csv.text.splitlines()[0].replace('"', "").split(",")
    assert header == FOCUS_COLUMNS
    assert csv.headers["x-focus-version"] == "1.4" and int(csv.headers["x-tokenproof-unpriced-calls"]) >= 0
    meta = client.get("/api/v1/export/focus/metadata", params={"since": "1d"}).json()
    assert meta["Schema"]["FocusVersion"] == "1.4"
    assert meta["x_UnpricedUsage"]["calls"] == int(csv.headers["x-tokenproof-unpriced-calls"])
    parquet = client.get("/api/v1/export/focus", params={"since": "1d", "format": "parquet"})
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column_names == FOCUS_COLUMNS
    assert client.get("/api/v1/export/focus", params={"format": "xlsx"}).status_code == 400
