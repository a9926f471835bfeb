"""Compares two eval files cell for cell (everything but the timings): exit 0 and "same cells" when they agree.
Used by the cluster test: a merged sharded run against the unsharded run of the same grid."""
import sys

import h5py
import numpy as np

TIMINGS = {"prefill_ms", "score_ms", "decode_ms"}


def cells(path):
    with h5py.File(path, "r") as f:
        if int(f.attrs.get("complete", 0)) != 1:
            sys.exit(f"FAIL: {path} is not complete")
        return f.attrs["grid"], {name: f["cells/" + name][()] for name in f["cells"] if name not in TIMINGS}


def main(a, b):
    grid_a, ca = cells(a)
    grid_b, cb = cells(b)
    if grid_a != grid_b:
        sys.exit("FAIL: the files have different grids")
    if set(ca) != set(cb):
        sys.exit(f"FAIL: different columns: {sorted(set(ca) ^ set(cb))}")
    for name in sorted(ca):
        x, y = ca[name], cb[name]
        same = len(x) == len(y) and (np.array_equal(x, y, equal_nan=True) if x.dtype.kind == "f" else bool(np.all(x == y)))
        if not same:
            sys.exit(f"FAIL: column {name} differs")
    print(f"same cells: {len(ca['task'])} cells, {len(ca)} columns (timings excepted)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: compare_eval.py A.h5 B.h5")
    main(sys.argv[1], sys.argv[2])
