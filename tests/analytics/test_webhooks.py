"""Webhook delivery to a local HTTP receiver: HMAC signature, retries after a 500, Slack payloads."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tokenproof.analytics.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, Target, WebhookWorker, verify

SECRET = "s3cret"
ALERT = {"id": "a1", "kind": "spend_spike", "status": "open", "severity": "warning",
         "explanation": "spend $42.00/h, 3.0x the usual Tuesday 14:00 for feature=summarize"}


class Receiver:
    """A loopback HTTP server answering the scripted status codes in order, recording requests."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
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

    def make(statuses=()):
        made.append(Receiver(statuses))
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
    last = receiver.requests[-1]
    assert json.loads(last["body"]) == {"type": "tokenproof.alert", "alert": ALERT}
    assert verify(SECRET, last["headers"][TIMESTAMP_HEADER], last["body"], last["headers"][SIGNATURE_HEADER])
    assert not verify("wrong", last["headers"][TIMESTAMP_HEADER], last["body"], last["headers"][SIGNATURE_HEADER])
    assert not verify(SECRET, last["headers"][TIMESTAMP_HEADER], last["body"] + b" ", last["headers"][SIGNATURE_HEADER])


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
