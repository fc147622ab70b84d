"""Shared test setup: tests never reach the internet and never use live credentials."""

from __future__ import annotations

import os

os.environ.setdefault("OPENAI_API_KEY", "sk-test-not-a-real-key")
os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-test-not-a-real-key")
# Our instrumentation re-raises its own bookkeeping errors under pytest (never in production).
os.environ.setdefault("TOKENPROOF_RAISE_INTERNAL_ERRORS", "true")
# Starlette's TestClient sends `Host: testserver`; the service answers only the hosts it is told.
os.environ.setdefault("TOKENPROOF_ALLOWED_HOSTS", "testserver")
# The service's proof scheduler would mine every test's store in the background; tests that are about
# it turn it on themselves.
os.environ.setdefault("TOKENPROOF_SCHEDULER_INTERVAL_SECONDS", "0")
