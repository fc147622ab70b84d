"""The typed service client as the CLI uses it: one `--service-url` flag (and TOKENPROOF_SERVICE_URL)
on every command that talks to the service, and answers from a newer service still read."""

from __future__ import annotations

import argparse
import importlib
import socket
import subprocess
import sys

import pytest

from tokenproof.cli import COMMANDS
from tokenproof.client import CostReport, ServiceClient, ServiceError, Status

API_COMMANDS = ["status", "calls", "reprice", "cost", "alerts", "budgets", "export", "candidates", "shadow",
                "recommendations"]


def _parser(name: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"tokenproof {name}")
    importlib.import_module(COMMANDS[name][0]).configure(name, parser)
    return parser


@pytest.mark.parametrize("name", API_COMMANDS)
def test_every_service_command_takes_the_same_url_flag(name):
    parser = _parser(name)
    assert "--service-url" in parser.format_help()
    required = {"reprice": ["--since", "1d"], "export": ["focus", "--output", "x"],
                "shadow": ["--baseline", "a", "--candidate", "b"]}.get(name, [])
    args = parser.parse_args([*required, "--service-url", "http://127.0.0.1:1"])
    assert args.service_url == "http://127.0.0.1:1"
    assert args.token is None  # --token is there too (default: setting api_token)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_url_comes_from_the_environment_when_no_flag_is_given(monkeypatch):
    url = f"http://127.0.0.1:{_closed_port()}"
    env = {"TOKENPROOF_SERVICE_URL": url}
    import os

    for name in ("status", "cost", "recommendations"):
        done = subprocess.run([sys.executable, "-m", "tokenproof.cli", name], capture_output=True, text=True,
                              env={**os.environ, **env}, timeout=60)
        assert done.returncode == 1
        assert url in done.stderr and name in done.stderr
    with pytest.raises(ServiceError):
        ServiceClient(url).status()


def test_answers_with_fields_a_newer_service_added_still_read():
    status = Status.model_validate({"spans": 3, "llm_calls": 2, "schema_version": 7, "store": {"kind": "embedded",
                                    "data_dir": "/d"}, "queue_depth": 5})
    assert (status.spans, status.store_kind, status.store_location, status.extra("queue_depth")) == (3, "embedded",
                                                                                                     "/d", 5)
    assert status.as_dict()["queue_depth"] == 5 and "distinct_spans" not in status.as_dict()
    report = CostReport.model_validate({"group_by": ["feature"], "rows": [{"feature": "chat", "calls": 2,
                                                                           "cost_usd": 0.5}]})
    assert report.rows[0].dimension("feature") == "chat" and report.rows[0].cost_usd == 0.5
