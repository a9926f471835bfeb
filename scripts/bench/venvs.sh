#!/usr/bin/env bash
# Creates the two throwaway peer venvs of the benchmark when missing; a second run does nothing.
#   .cache/venv-llama  llama-cpp-python (+ numpy gguf jinja2), the same venv scripts/fixtures.sh builds
#   .cache/venv-torch  CPU-only torch from PyPI + transformers + gguf + numpy + accelerate
# A peer whose venv cannot be built is reported here and skipped by run_bench.py (with the reason); this
# script never fails `make bench` for it.
#   TORCH_SPEC    the torch requirement (default torch==2.13.0+cpu: the CPU-only wheel PyPI serves, ~183 MiB;
#                 the plain `torch` wheel of PyPI is the CUDA build, ~514 MiB plus ~2-3 GiB of nvidia-* wheels,
#                 and does not import without them)
#   TORCH_EXTRA   the other packages (default: transformers gguf numpy accelerate; transformers needs
#                 accelerate to load a GGUF file)
set -uo pipefail
cd "$(dirname "$0")/../.."
CACHE=${DAPQ_PROBE_CACHE:-$PWD/.cache}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0+cpu}
TORCH_EXTRA=${TORCH_EXTRA:-transformers gguf numpy accelerate}

VENV="$CACHE/venv-llama"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import llama_cpp, gguf, jinja2, numpy" 2>/dev/null; then
  echo "bench venvs: $VENV is ready"
else
  echo "bench venvs: building $VENV (llama-cpp-python compiles llama.cpp: several minutes once)"
  if ! { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q numpy gguf jinja2 &&
         CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$VENV/bin/pip" install -q llama-cpp-python; }; then
    echo "bench venvs: could not build $VENV; the llama.cpp peer will be skipped" >&2
  fi
fi

VENV="$CACHE/venv-torch"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import torch, transformers, gguf, numpy, accelerate" 2>/dev/null; then
  echo "bench venvs: $VENV is ready"
else
  echo "bench venvs: building $VENV ($TORCH_SPEC, $TORCH_EXTRA)"
  start=$(date +%s)
  # shellcheck disable=SC2086
  if python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "$TORCH_SPEC" $TORCH_EXTRA &&
     "$VENV/bin/python" -c "import torch, transformers, gguf, numpy, accelerate"; then
    echo "bench venvs: $VENV built in $(( $(date +%s) - start )) s ($(du -sh "$VENV" | cut -f1))"
  else
    echo "bench venvs: could not build $VENV with $TORCH_SPEC; the PyTorch peer will be skipped" >&2
  fi
fi
exit 0
