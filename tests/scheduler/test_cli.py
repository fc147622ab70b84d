"""`tokenproof scheduler ...` against a running service: what an operator types and reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tokenproof.collector.testing import ServiceThread

from .conftest import TOKEN, seed_traffic


def _cli(url: str, *args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess:
    tokenproof = Path(sys.executable).with_name("tokenproof")
    auth = ["--token", token] if token else []
    return subprocess.run([str(tokenproof), "scheduler", "--service-url", url, *auth, *args],
                          capture_output=True, text=True, timeout=300, check=False)


def test_status_policy_pause_resume_events_and_run_from_the_command_line(store, endpoints):
    seed_traffic(store, per_feature=30)
    service = ServiceThread(store, api_token=TOKEN)
    try:
        changed = _cli(service.url, "policy", "--set", "features=marketing-quiz", "--set", "candidate_models=gpt-4o-mini",
                       "--set", "judge=claude-opus-4-1", "--set", "sample_rate=1", "--set", "batch_size=5",
                       "--set", "min_calls_per_day=1", "--set", "params.min_n=40", "--reason", "first policy")
        assert changed.returncode == 0, changed.stderr
        assert "policy version 1" in changed.stdout
        assert '["marketing-quiz"]' in changed.stdout and "(set through the API)" in changed.stdout
        refused = _cli(service.url, "policy", "--set", "sample_rate=7")
        assert refused.returncode == 1 and "sample_rate" in refused.stderr and "Traceback" not in refused.stderr
        assert _cli(service.url, "pause", "--reason", "quiet please", token=None).returncode == 1  # writes need it
        paused = _cli(service.url, "--actor", "ops-oncall", "pause", "--reason", "quiet please")
        assert paused.returncode == 0 and "scheduler paused" in paused.stdout
        assert "pass skipped: paused" in _cli(service.url, "run").stdout
        status = _cli(service.url, "status").stdout
        assert "scheduler: paused" in status and "ops-oncall: quiet please" in status
        assert _cli(service.url, "resume").returncode == 0
        ran = _cli(service.url, "run")
        assert ran.returncode == 0 and "marketing-quiz -> gpt-4o-mini: 5 comparisons" in ran.stdout
        status = _cli(service.url, "status").stdout
        assert "scheduler: running" in status and "budget day" in status and "groups admitted" in status
        assert "marketing-quiz" in status and "testing" in status
        events = _cli(service.url, "events", "--limit", "50").stdout
        for kind in ("batch_finished", "batch_started", "route_started", "admitted", "resumed", "paused",
                     "policy_changed", "refused"):
            assert kind in events, kind
    finally:
        service.stop()
