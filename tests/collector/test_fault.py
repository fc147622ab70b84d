"""Fault test: SIGKILL the service while a sender keeps sending; nothing acknowledged is lost or doubled.

The sender behaves like an OTLP exporter: it re-sends a batch (same body) until it gets a 200, on
connection errors and on 429/503. The test kills the service with SIGKILL three times while
batches are in flight and restarts it on the same port and data dir. Bounded: 48 batches of 150
spans, loopback only.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

from tokenproof.collector.testing import genai_request
from tokenproof.service_client import call

BATCHES = 48
SPANS = 150
KILL_AFTER_ACKS = (6, 18, 32)


def _send_until_acknowledged(get_url, body: bytes, stop: threading.Event) -> bool:
    while not stop.is_set():
        request = urllib.request.Request(get_url() + "/v1/traces", data=body, method="POST",
                                         headers={"Content-Type": "application/x-protobuf"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                if response.status == 200:
                    return True
        except urllib.error.HTTPError as exc:
            if exc.code not in (429, 502, 503, 504):
                raise AssertionError(f"unexpected HTTP {exc.code}: {exc.read()[:200]!r}") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.05)  # retry back-off, as the exporter does
    return False


def test_sigkill_loses_nothing_acknowledged_and_doubles_nothing(service_factory):
    svc = service_factory()
    bodies = [genai_request(SPANS, seed=1000 + i, service="fault-app").SerializeToString() for i in range(BATCHES)]
    acked: list[int] = []
    ack_event = threading.Condition()
    stop = threading.Event()
    errors: list[BaseException] = []

    def sender():
        try:
            for i, body in enumerate(bodies):
                if _send_until_acknowledged(lambda: svc.url, body, stop):
                    with ack_event:
                        acked.append(i)
                        ack_event.notify_all()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    kills = 0
    try:
        for threshold in KILL_AFTER_ACKS:
            with ack_event:
                assert ack_event.wait_for(lambda: len(acked) >= threshold or errors, timeout=120)
            svc.kill()  # SIGKILL while the sender is sending the next batch
            kills += 1
            svc.start()
        thread.join(timeout=240)
    finally:
        stop.set()
    assert not errors, errors
    assert not thread.is_alive()
    assert kills == 3 and len(acked) == BATCHES

    status = call("GET", "/api/v1/status", params={"exact": "true"}, base_url=svc.url)
    assert status["distinct_spans"] == BATCHES * SPANS  # every acknowledged span is there
    assert status["spans"] == BATCHES * SPANS  # and none is stored twice
    assert status["llm_calls"] == BATCHES * SPANS
    assert status["rollup_calls"] == BATCHES * SPANS  # the views were not doubled by retries either
