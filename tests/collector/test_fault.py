"""Fault test: SIGKILL the service while a sender keeps sending; nothing acknowledged is lost or doubled.
A SIGKILL right after the raw insert (no re-send) leaves tables the restarted service repairs.

The sender behaves like an OTLP exporter: it re-sends a batch (same body) until it gets a 200, on
connection errors and on 429/503. The test kills the service with SIGKILL three times while
batches are in flight and restarts it on the same port and data dir. Bounded: 48 batches of 150
spans, loopback only.
"""

from __future__ import annotations

import signal
import threading
import time
import urllib.error
import urllib.request

import pytest

from tokenproof.collector.receiver import CRASH_HOOK_ENV, CRASH_HOOK_VIEWS
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


@pytest.mark.parametrize("view", CRASH_HOOK_VIEWS[:1])  # the rollup view; llm_calls_mv works alike (slow)
def test_sigkill_between_the_raw_insert_and_the_derived_writes_is_repaired(service_factory, view):
    """A crash right after the raw insert, and no re-send: the restarted service repairs the tables."""
    svc = service_factory(env={CRASH_HOOK_ENV: view})
    body = genai_request(40, seed=501, service="crash-app", start_ns=time.time_ns() - 3 * 3600 * 10**9)
    request = urllib.request.Request(svc.url + "/v1/traces", data=body.SerializeToString(), method="POST",
                                     headers={"Content-Type": "application/x-protobuf"})
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(request, timeout=60)  # the service dies before it answers
    assert svc.proc.wait(timeout=60) == -signal.SIGKILL

    svc.env = {k: v for k, v in svc.env.items() if k != CRASH_HOOK_ENV}
    svc.env["TOKENPROOF_ROLLUP_REPAIR_HOURS"] = "0"  # first look at what the crash left behind
    svc.start()
    left = call("GET", "/api/v1/status", base_url=svc.url)
    assert left["spans"] == 40 and (left["llm_calls"], left["rollup_calls"]) != (40, 40)
    svc.stop()

    del svc.env["TOKENPROOF_ROLLUP_REPAIR_HOURS"]
    svc.start()
    repaired = call("GET", "/api/v1/status", base_url=svc.url)
    assert (repaired["spans"], repaired["llm_calls"], repaired["rollup_calls"]) == (40, 40, 40)
    cost = call("GET", "/api/v1/cost", params={"since": "1d", "by": "feature"}, base_url=svc.url)
    assert sum(row["calls"] for row in cost["rows"]) == 40
    more = genai_request(10, seed=502, service="crash-app").SerializeToString()  # the view is back
    urllib.request.urlopen(urllib.request.Request(svc.url + "/v1/traces", data=more, method="POST",
                                                  headers={"Content-Type": "application/x-protobuf"}), timeout=60)
    after = call("GET", "/api/v1/status", base_url=svc.url)
    assert (after["spans"], after["llm_calls"], after["rollup_calls"]) == (50, 50, 50)
