"""Overload: with a client's reader places (or the byte budget) taken, the service answers 429 with
Retry-After at once, stores nothing from the refused request, and takes the retry once load is gone.
Slow senders hold reader places of their own address only: they never starve other exporters.

A request whose body is still arriving is held open with a raw socket.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from tokenproof.collector.testing import genai_request
from tokenproof.service_client import call


def _hold_request_open(url: str, declared: int) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sock.sendall((f"POST /v1/traces HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/x-protobuf\r\n"
                  f"Content-Length: {declared}\r\n\r\n").encode() + b"\n")
    return sock


def _post(url: str, body: bytes):
    request = urllib.request.Request(url + "/v1/traces", data=body, method="POST",
                                     headers={"Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers


@pytest.mark.parametrize("env, declared, expected", [
    ({"TOKENPROOF_MAX_INFLIGHT_PER_CLIENT": "1"}, 50_000, 429),
    ({"TOKENPROOF_MAX_INFLIGHT_REQUESTS": "4", "TOKENPROOF_MAX_INFLIGHT_BYTES": "1000000"}, 990_000, 429),
])
def test_overload_answers_retry_after_and_the_retry_is_stored(service_factory, env, declared, expected):
    svc = service_factory(env=env)
    body = genai_request(40, seed=77).SerializeToString()
    held = _hold_request_open(svc.url, declared)
    try:
        # the held request is reading once the server has read its headers; wait for that via status
        for _ in range(200):
            if call("GET", "/api/v1/status", base_url=svc.url)["ingest"]["reading_requests"] == 1:
                break
        status, headers = _post(svc.url, body)
        assert status == expected
        assert int(headers.get("Retry-After")) >= 1
        assert call("GET", "/api/v1/status", base_url=svc.url)["spans"] == 0
    finally:
        held.close()
    for _ in range(200):  # the held connection's place is released when the server sees it closed
        if call("GET", "/api/v1/status", base_url=svc.url)["ingest"]["reading_requests"] == 0:
            break
    assert _post(svc.url, body)[0] == 200
    status = call("GET", "/api/v1/status", base_url=svc.url)
    assert status["spans"] == 40 and status["ingest"]["refused_overload"] == 1


def test_eight_slow_senders_do_not_starve_ingest(service_factory):
    svc = service_factory(env={"TOKENPROOF_MAX_INFLIGHT_REQUESTS": "2"})
    held = [_hold_request_open(svc.url, 50_000) for _ in range(8)]
    try:
        for _ in range(200):
            if call("GET", "/api/v1/status", base_url=svc.url)["ingest"]["reading_requests"] == 8:
                break
        assert _post(svc.url, genai_request(10, seed=78).SerializeToString())[0] == 200
        assert call("GET", "/api/v1/status", base_url=svc.url)["spans"] == 10
    finally:
        for sock in held:
            sock.close()


def test_a_sender_that_stalls_gets_408_after_the_read_timeout(service_factory):
    svc = service_factory(env={"TOKENPROOF_BODY_READ_TIMEOUT_SECONDS": "0.5"})
    sock = _hold_request_open(svc.url, 50_000)
    try:
        answer = sock.recv(4096).decode()  # blocks until the service gives up on the body
        assert answer.startswith("HTTP/1.1 408")
    finally:
        sock.close()
