"""The main job, shortened: `tokenproof demo --no-dashboard` runs the whole loop to its summary.

The full run (the README's main command) pushes a proven canary and rolls it back; this short one
has too few captured prompts for the shadow runs to prove anything, so it shows the other side of
the promise: nothing unproven is pushed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_short_demo_runs_the_loop_to_its_summary(tmp_path):
    tokenproof = Path(sys.executable).with_name("tokenproof")
    env = dict(os.environ)
    out = subprocess.run([str(tokenproof), "demo", "--no-dashboard", "--calls", "240", "--history-days", "2",
                          "--prove-prompts", "0", "--canary-calls", "40", "--data-dir", str(tmp_path / "store")],
                         capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    assert "every model answer below is a real answer recorded" in text  # says what is recorded and replayed
    assert "list" in text and "prices" in text
    for step in ("1. local provider", "2. example app", "3. 2 days of history", "4. where the money goes",
                 "5. candidate routes", "6. push what is proven", "summary"):
        assert step in text, step
    # the service's scheduler, not a hand-typed shadow command, runs the judged comparisons
    assert "the proof scheduler" in text and "scheduler: running" in text
    assert "marketing-quiz: " in text and "math-tutor: " in text
    assert "SWITCH means:" in text  # every decision comes with what it means
    # nothing unproven moves: either a proven canary was pushed, or nothing was
    assert "pushed rt_" in text or "nothing is proven, so nothing is pushed" in text
    assert "demo finished in" in text
    assert "Traceback" not in out.stderr
