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
