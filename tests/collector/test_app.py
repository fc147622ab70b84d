"""The service app: other areas' routers through entry points, the write-auth dependency, settings."""

from __future__ import annotations

from importlib.metadata import EntryPoint

from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

import tokenproof.collector.app as app_module
from tokenproof.collector.auth import require_api_token
from tokenproof.collector.migrate import load_migrations

router = APIRouter(prefix="/api/v1/example")


@router.get("/ping")
def ping() -> dict:
    return {"pong": True}


@router.post("/write", dependencies=[Depends(require_api_token)])
def write() -> dict:
    return {"written": True}


def test_entry_point_routers_are_mounted_and_a_broken_one_is_skipped(store, monkeypatch):
    points = [EntryPoint("example", f"{__name__}:router", app_module.API_GROUP),
              EntryPoint("broken", "tokenproof_no_such_module:router", app_module.API_GROUP)]
    monkeypatch.setattr(app_module, "entry_points", lambda group: points if group == app_module.API_GROUP else [])
    with TestClient(app_module.create_app(store, api_token="t0k")) as client:
        assert client.get("/api/v1/example/ping").json() == {"pong": True}
        assert client.post("/api/v1/example/write").status_code == 401
        assert client.post("/api/v1/example/write", headers={"Authorization": "Bearer t0k"}).json() == {"written": True}
        routers = client.get("/api/v1/status").json()["api_routers"]
    assert routers["example"] == "ok"
    assert routers["broken"].startswith("failed: ModuleNotFoundError")
    assert client.app.state.store is store


def test_writes_without_a_configured_api_token_are_loopback_only(store, monkeypatch):
    monkeypatch.setattr(app_module, "entry_points", lambda group: [EntryPoint("example", f"{__name__}:router", group)])
    app = app_module.create_app(store, api_token="")
    with TestClient(app, client=("203.0.113.9", 50000)) as remote:
        assert remote.post("/api/v1/example/write").status_code == 403
    with TestClient(app, client=("127.0.0.1", 50000)) as local:
        assert local.post("/api/v1/example/write").status_code == 200


def test_cluster_migrations_use_replicated_engines_on_the_cluster():
    statements = [s for m in load_migrations() if m.version <= 4 for s in m.statements("prod")]
    creates = [s for s in statements if s.startswith("CREATE TABLE")]
    assert creates and all("ON CLUSTER 'prod'" in s for s in statements)
    assert all("ENGINE = Replicated" in s for s in creates)
    assert any("ReplicatedReplacingMergeTree(Version)" in s for s in creates)


def test_ttl_setting_adds_a_ttl_to_otel_traces(store, monkeypatch):
    monkeypatch.setenv("TOKENPROOF_STORE_TTL_DAYS", "30")
    try:
        store.migrate()
        ddl = store.query_rows("SHOW CREATE TABLE otel_traces")[0][0]
        assert "TTL toDateTime(Timestamp) + toIntervalDay(30)" in ddl
    finally:
        store.command("ALTER TABLE otel_traces REMOVE TTL")
