#!/usr/bin/env bash
# Regenerates the committed reference fixtures from llama.cpp (llama-cpp-python) and the gguf package,
# in a throwaway venv under .cache/ (git-ignored). Building llama-cpp-python takes several minutes once.
#   scripts/fixtures.sh [NAME ...]   catalogue models (default: smollm2-135m qwen2.5-coder-0.5b)
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
# Parity fixtures per catalogue model (scripts/models.tsv); default: the two that `make setup` fetches. The 1.5B
# model (`make models` first): scripts/fixtures.sh qwen2.5-coder-1.5b (about an hour on 2 cores).
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(smollm2-135m qwen2.5-coder-0.5b)
for name in "${names[@]}"; do
  file=$(awk -F'\t' -v n="$name" '!/^#/ && $1 == n { print $2 }' scripts/models.tsv)
  [ -n "$file" ] || { echo "fixtures: unknown model '$name'" >&2; exit 1; }
  bash scripts/fetch_models.sh "$name"
  "$VENV/bin/python" scripts/make_llama_fixtures.py --model "$CACHE/models/$file" --name "$name" --out Tests/Fixtures \
    --threads "${FIXTURE_THREADS:-4}"
  if [ "$name" = smollm2-135m ]; then
    "$VENV/bin/python" scripts/make_reference_fixtures.py --model "$CACHE/models/$file" --name "$name" --out Tests/Fixtures
  fi
done
