"""Fuzz every route of the service's OpenAPI document: hostile parameters never give a 5xx.

The generator reads the app's own OpenAPI document (every router the service mounts, whatever area
it comes from), so a route added later is fuzzed without editing this file. Each request sets ONE
parameter (query, path or a JSON body property) to a hostile value and leaves the rest valid or
absent; the answer must be a clear 2xx/4xx. Bounded: a few thousand in-process requests, loopback
only (provider endpoints point at a closed local port).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tokenproof.collector.app import create_app

TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

HOSTILE_STRINGS = [
    "", " ", "0", "-1", "99999999999999999999999", "1e308", "-1e308", "NaN", "Infinity", "-Infinity",
    "0001-01-01", "9999-12-31T23:59:59Z", "99999999999d", "1d", "now", "'; DROP TABLE llm_calls; --",
    "{x:String}", "\x00", "%00", "../../etc/passwd", "ä" * 3, "a" * 5000, "attr.gen_ai.input.messages",
    "feature,feature,feature", "feature=", "=x", "true", "null", "[]", "{}",
]
HOSTILE_JSON_VALUES: list[Any] = [
    None, True, -1, 0, 2**63, 2**64 + 1, -(2**63) - 1, 1e308, -1e308, "", "x" * 5000, "NaN", "Infinity",
    "0001-01-01", "9999-12-31", [], {}, [1, 2], {"a": {"b": {"c": []}}},
]
RAW_BODIES = [b"", b"{", b"[]", b'"x"', b"null", b"\xff\xfe", b'{"a": NaN}', b'{"monthly_usd": Infinity}']
EXTRA_QUERY = {"/api/v1/cost": ["where"], "/api/v1/cost/movers": ["where"]}


@pytest.fixture()
def app(store, monkeypatch):
    monkeypatch.setenv("TOKENPROOF_ALERT_EVAL_INTERVAL_MINUTES", "0")
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):  # never leave the machine
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    return create_app(store, api_token=TOKEN, ingest_token="")


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _valid(schema: dict) -> Any:
    kind = schema.get("type")
    if "anyOf" in schema:
        return _valid(schema["anyOf"][0])
    return {"string": "x", "integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {}}.get(kind)


def _cases(doc: dict):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            params = [p for p in op.get("parameters", []) if p["in"] in ("query", "path")]
            names = [(p["name"], p["in"]) for p in params] + [(n, "query") for n in EXTRA_QUERY.get(path, [])]
            base_path = {n: "x" for n, where in names if where == "path"}
            for name, where in names:
                for value in HOSTILE_STRINGS:
                    yield method, path, {**base_path, name: value} if where == "path" else base_path, \
                        {name: value} if where == "query" else {}, None
            if not names:
                yield method, path, base_path, {}, None
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                continue
            schema = _resolve(doc, body["schema"])
            props = {k: _resolve(doc, v) for k, v in schema.get("properties", {}).items()}
            valid = {k: _valid(v) for k, v in props.items()}
            for key in props:
                for value in HOSTILE_JSON_VALUES:
                    yield method, path, base_path, {}, json.dumps({**valid, key: value}).encode()
            for raw in RAW_BODIES:
                yield method, path, base_path, {}, raw


def test_no_route_answers_5xx_to_hostile_parameters(app):
    failures = []
    with TestClient(app, raise_server_exceptions=False) as client:
        doc = app.openapi()
        count = 0
        for method, path, path_params, query, body in _cases(doc):
            url = path
            for name, value in path_params.items():
                url = url.replace("{" + name + "}", quote(value, safe="") or "%20")
            headers = {**AUTH, "Content-Type": "application/json"}
            response = client.request(method.upper(), url, params=query, content=body, headers=headers)
            count += 1
            if response.status_code >= 500:
                failures.append(f"{method.upper()} {url} {query} {body!r:.80} -> {response.status_code} "
                                f"{response.text[:120]}")
    assert count > 500
    assert failures == [], "\n".join(failures[:30])
