"""Probes of the command line: a malformed invocation prints one clear error line, never a traceback.

Each row is run in-process through ``tokenproof.cli.main`` (the code behind the ``tokenproof``
script): the exit status is non-zero, stderr names the command, and nothing escapes as an exception.
Service-bound commands point at a closed loopback port. ``prove --out`` to an unwritable place
fails before a single replay is sent.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tokenproof.cli import main

ROOT = Path(__file__).resolve().parents[2]
CLOSED = "http://127.0.0.1:9"

MALFORMED = [
    ["status", "--url", "notaurl"],
    ["status", "--url", "http://[::1"],
    ["status", "--url", "ftp://example.invalid"],
    ["calls", "--limit", "abc"],
    ["calls", "--url", CLOSED, "--limit", "0"],
    ["reprice", "--url", CLOSED, "--since", "garbage"],
    ["cost", "--url", CLOSED, "--since", "0001-01-01"],
    ["cost", "--url", CLOSED, "--by", "colour"],
    ["budgets", "--url", CLOSED, "set", "feature", "x", "Infinity"],
    ["export", "--url", CLOSED, "--format", "xml"],
    ["serve", "--port", "99999"],
    ["serve", "--port", "-1"],
    ["serve", "--port", "http"],
    ["serve", "--host", "0.0.0.0"],
    ["prove", "/nonexistent/requests.jsonl", "--candidate", "gpt-4o-mini"],
    ["verdict", "/nonexistent/verdicts.jsonl"],
    ["prices", "--overrides", "/nonexistent/overrides.toml", "gpt-4o"],
    ["no-such-command"],
]


@pytest.mark.parametrize("argv", MALFORMED, ids=" ".join)
def test_malformed_invocations_print_a_clear_error(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    err = capsys.readouterr().err
    assert code not in (0, None)
    assert "tokenproof" in err
    assert "Traceback" not in err


class _Counting(BaseHTTPRequestHandler):
    hits = 0

    def do_POST(self):
        _Counting.hits += 1
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_prove_to_an_unwritable_out_fails_before_any_replay(tmp_path, capsys):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    try:
        code = main(["prove", str(ROOT / "examples" / "proof_gsm8k_batch.jsonl"), "--candidate", "gpt-4o-mini",
                     "--base-url", f"http://127.0.0.1:{server.server_address[1]}/v1",
                     "--out", str(blocker / "report"), "--limit", "4"])
    finally:
        server.shutdown()
        server.server_close()
    assert code == 2
    assert "cannot write the report" in capsys.readouterr().err
    assert _Counting.hits == 0
