#!/usr/bin/env bash
# Regenerates the committed reference fixtures from llama.cpp (llama-cpp-python) and the gguf package,
# in a throwaway venv under .cache/ (git-ignored). Building llama-cpp-python takes several minutes once.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${DAPQ_PROBE_CACHE:-$PWD/.cache}
VENV="$CACHE/venv-llama"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import llama_cpp, gguf, jinja2" 2>/dev/null; then
  echo "fixtures: building the reference venv at $VENV (llama-cpp-python compiles llama.cpp)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q numpy gguf jinja2
  CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$VENV/bin/pip" install -q llama-cpp-python
fi
"$VENV/bin/python" scripts/make_dequant_fixtures.py --out Tests/Fixtures/dequant
"$VENV/bin/python" scripts/make_llama_fixtures.py --model "$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf" \
  --name smollm2-135m --out Tests/Fixtures
"$VENV/bin/python" scripts/make_reference_fixtures.py --model "$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf" --name smollm2-135m --out Tests/Fixtures
