#!/usr/bin/env bash
# All set-up on a fresh machine with Python 3.11: a virtualenv in .venv with tokenproof and the
# test/demo dependencies installed from the package registries. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
.venv/bin/python -m pip install -q -e ".[test]"
# The dashboard's browser tests drive Debian's chromium headless (never a browser downloaded by a tool).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 \
    || echo "setup: could not install chromium; the dashboard's browser tests will be skipped" >&2
fi
