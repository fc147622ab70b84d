#!/usr/bin/env bash
# One command: set up, then run the main job on the embedded default (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/tokenproof demo "$@"
