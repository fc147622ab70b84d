"""Webhook delivery to a local HTTP receiver: Standard Webhooks signatures, retries, Slack payloads."""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tokenproof import settings
from tokenproof.analytics.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Target,
    WebhookWorker,
    parse_retry_after,
    retry_delay,
    verify,
)

SECRET = "s3cret"
ALERT = {"id": "a1", "kind": "spend_spike", "status": "open", "severity": "warning",
         "explanation": "spend $42.00/h, 3.0x the usual Tuesday 14:00 for feature=summarize"}


class Receiver:
    """A loopback HTTP server answering the scripted status codes in order, recording requests."""

    def __init__(self, statuses, headers=None):
        self.statuses = list(statuses)
        self.extra_headers = list(headers or [])
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body, "at": time.monotonic()})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                extra = receiver.extra_headers.pop(0) if receiver.extra_headers else {}
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver_factory():
    made = []

    def make(statuses=(), headers=None):
        made.append(Receiver(statuses, headers))
        return made[-1]

    yield make
    for r in made:
        r.close()


def test_signed_json_delivery_retried_after_a_500(receiver_factory):
    receiver = receiver_factory([500])
    outcomes = []
    worker = WebhookWorker([Target(receiver.url)], SECRET, record=outcomes.append, backoff_s=0.05).start()
    try:
        assert worker.submit(ALERT)
        assert worker.wait_idle(30)
    finally:
        worker.stop()
    assert [o["outcome"] for o in outcomes] == ["retrying", "delivered"]
    assert outcomes[0]["http_status"] == 500 and outcomes[1]["attempt"] == 2
    assert len(receiver.requests) == 2
    first, last = receiver.requests
    assert json.loads(last["body"]) == {"type": "tokenproof.alert", "alert": ALERT}
    # Standard Webhooks: the receiver verifies with the standardwebhooks package, nothing of ours
    assert Webhook(SECRET.encode()).verify(last["body"], last["headers"]) == {"type": "tokenproof.alert", "alert": ALERT}
    assert first["headers"]["webhook-id"] == last["headers"]["webhook-id"]  # same message id on a retry
    assert last["headers"]["webhook-signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError):
        Webhook(b"wrong").verify(last["body"], last["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET.encode()).verify(last["body"] + b" ", last["headers"])
    assert TIMESTAMP_HEADER not in last["headers"] and SIGNATURE_HEADER not in last["headers"]


def test_whsec_secret_is_used_as_the_standard_defines(receiver_factory):
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    receiver = receiver_factory()
    worker = WebhookWorker([Target(receiver.url)], secret).start()
    try:
        worker.submit(ALERT)
        assert worker.wait_idle(30)
    finally:
        worker.stop()
    request = receiver.requests[0]
    assert Webhook(secret).verify(request["body"], request["headers"])["alert"] == ALERT


def test_retry_after_is_honoured(receiver_factory):
    receiver = receiver_factory([503], headers=[{"Retry-After": "1"}])
    outcomes = []
    worker = WebhookWorker([Target(receiver.url)], SECRET, record=outcomes.append, backoff_s=0.01).start()
    try:
        worker.submit(ALERT)
        assert worker.wait_idle(30)
    finally:
        worker.stop()
    assert [o["outcome"] for o in outcomes] == ["retrying", "delivered"]
    first, second = (r["at"] for r in receiver.requests)
    assert second - first >= 1.0  # the receiver asked for 1 s; the backoff alone would wait ~10 ms


def test_retry_delays_are_jittered_exponential_and_never_shorter_than_retry_after():
    rng = random.Random(7)
    delays = [retry_delay(3, 2.0, None, rng) for _ in range(200)]
    assert all(4.0 <= d <= 8.0 for d in delays)  # base 2 * 2**2 = 8: equal jitter in [4, 8]
    assert len({round(d, 6) for d in delays}) > 150  # spread, so receivers are not hit in lockstep
    assert retry_delay(1, 2.0, 30.0, rng) == 30.0
    assert retry_delay(1, 2.0, 10**9, rng) == 3600.0  # a absurd Retry-After is capped
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(formatdate(1000.0 + 60, usegmt=True), now=1000.0) == pytest.approx(60.0)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_previous_signature_scheme_only_behind_its_setting(receiver_factory, monkeypatch):
    monkeypatch.setenv("TOKENPROOF_WEBHOOK_LEGACY_SIGNATURE", "true")
    monkeypatch.setenv("TOKENPROOF_WEBHOOK_SECRET", SECRET)
    receiver = receiver_factory()
    monkeypatch.setenv("TOKENPROOF_WEBHOOK_URLS", receiver.url)
    assert settings.get("webhook_legacy_signature") is True
    worker = WebhookWorker.from_settings().start()
    try:
        worker.submit(ALERT)
        assert worker.wait_idle(30)
    finally:
        worker.stop()
    headers, body = receiver.requests[0]["headers"], receiver.requests[0]["body"]
    assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert Webhook(SECRET.encode()).verify(body, headers)["alert"] == ALERT  # the standard headers too


def test_gives_up_after_max_attempts_and_slack_format(receiver_factory):
    failing = receiver_factory([500, 502, 503])
    slack = receiver_factory()
    outcomes = []
    worker = WebhookWorker([Target(failing.url), Target(slack.url, "slack")], SECRET, record=outcomes.append,
                           max_attempts=3, backoff_s=0.01).start()
    try:
        worker.submit(ALERT)
        assert worker.wait_idle(30)
    finally:
        worker.stop()
    by_url = {}
    for o in outcomes:
        by_url.setdefault(o["url"], []).append(o["outcome"])
    assert by_url[failing.url] == ["retrying", "retrying", "failed"]
    assert by_url[slack.url] == ["delivered"]
    payload = json.loads(slack.requests[0]["body"])
    assert "3.0x the usual Tuesday 14:00" in payload["text"]


def test_full_queue_drops_without_blocking():
    outcomes = []
    worker = WebhookWorker([Target("http://127.0.0.1:9/never")], record=outcomes.append, queue_size=1)
    # not started: the first notification waits in the queue, the second is dropped at once
    assert worker.submit(ALERT) is True
    assert worker.submit(ALERT) is False
    assert [o["outcome"] for o in outcomes] == ["dropped"]


def test_documented_verification_snippet_accepts_a_real_delivery(receiver_factory):
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    snippet = doc.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(snippet, namespace)  # the snippet as a reader would paste it
    receiver = receiver_factory()
    worker = WebhookWorker([Target(receiver.url)], namespace["SECRET"]).start()
    try:
        worker.submit(ALERT)
        assert worker.wait_idle(30)
    finally:
        worker.stop()
    request = receiver.requests[0]
    assert namespace["handle"](request["body"], request["headers"]) == ALERT
    with pytest.raises(PermissionError):
        namespace["handle"](request["body"] + b"x", request["headers"])


def test_json_webhooks_are_never_sent_unsigned_unless_the_operator_says_so(receiver_factory):
    """Without a secret a receiver cannot tell our alert from a forgery: nothing is sent (and the
    refusal is recorded) until a secret is set or unsigned delivery is chosen explicitly."""
    receiver, outcomes = receiver_factory(), []
    worker = WebhookWorker([Target(receiver.url)], "", record=outcomes.append, allow_unsigned=False).start()
    try:
        worker.submit(ALERT)
        assert worker.wait_idle(30)
    finally:
        worker.stop()
    assert receiver.requests == []
    assert [o["outcome"] for o in outcomes] == ["refused"] and "webhook_secret" in outcomes[0]["error"]
    worker = WebhookWorker([Target(receiver.url)], "", record=outcomes.append, allow_unsigned=True).start()
    try:
        worker.submit(ALERT)
        assert worker.wait_idle(30)
    finally:
        worker.stop()
    assert len(receiver.requests) == 1 and "webhook-signature" not in receiver.requests[0]["headers"]


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data", "http://[fe80::1]/hook",
                                 "http://0.0.0.0/hook", "file:///etc/passwd", "gopher://example.com/"])
def test_link_local_and_non_http_webhook_targets_are_refused_at_start_up(monkeypatch, url):
    from tokenproof import settings

    monkeypatch.setenv("TOKENPROOF_WEBHOOK_URLS", url)
    problems = settings.check(["webhook_urls"])
    assert problems and "webhook_urls" in problems[0]
