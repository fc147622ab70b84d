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
# the core with its test extra, and the dev kit (a distribution of its own in devkit/, not on PyPI)
.venv/bin/python -m pip install -q -e ".[test]" -e "./devkit[demo]"
# Libraries tested against the openai 2.x major (instructor, llama-index): a second set of packages
# in a folder of its own, reinstalled only when its pinned list changes.
LIBS=.venv/openai2-libs
if ! cmp -s tests/instrumentation/openai2-libs.txt "$LIBS/.requirements" 2>/dev/null; then
  rm -rf "$LIBS"
  if .venv/bin/python -m pip install -q --no-deps --target "$LIBS" -r tests/instrumentation/openai2-libs.txt; then
    cp tests/instrumentation/openai2-libs.txt "$LIBS/.requirements"
  else
    echo "setup: could not install the openai 2.x test libraries (their tests will be skipped)" >&2
  fi
fi
# The dashboard's browser tests drive Debian's chromium headless (never a browser downloaded by a tool).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 \
    || echo "setup: could not install chromium; the dashboard's browser tests will be skipped" >&2
fi
