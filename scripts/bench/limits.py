#!/usr/bin/env python3
"""Reference limits of this machine, measured from Python (a fallback and a cross-check for
`dapq-probe bench-kernels`): float32 GEMM rates on the model's prefill shapes and on a large square, with
NumPy's OpenBLAS and (when importable) PyTorch's MKL/oneDNN, and a STREAM-like copy bandwidth.

Prints JSON lines {"kernel", "gflops" | "gbps", "source", ...}, the same shape as bench-kernels' lines.
Threads: the caller sets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS before starting us; --threads
also sets torch's intra-op threads. Each figure is the best of several timed runs (a limit, not a typical value).
  sgemm:  GFLOP/s = 2*M*K*N / seconds of C[MxN] = A[MxK] @ B[KxN].
  copy:   GB/s = 2 * bytes / seconds (STREAM's convention: bytes read + bytes written, write-allocate traffic not
          counted), arrays of 256 MiB, far larger than the last-level cache.
  read:   GB/s = bytes / seconds of a dot product of a 256 MiB vector with itself (reads only).
"""

from __future__ import annotations

import argparse
import json
import time


def best_seconds(fn, min_time=0.3, max_runs=50, min_runs=3):
    fn()  # warm-up (thread pools, page faults, JIT'd kernels)
    best, total, runs = float("inf"), 0.0, 0
    while runs < min_runs or (total < min_time and runs < max_runs):
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best, total, runs = min(best, dt), total + dt, runs + 1
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--d-model", type=int, default=576)
    ap.add_argument("--d-ff", type=int, default=1536)
    ap.add_argument("--d-kv", type=int, default=192)
    a = ap.parse_args()
    import numpy as np

    try:
        import torch
        torch.set_num_threads(a.threads)
    except ImportError:
        torch = None

    shapes = [(m, k, n) for m in (512, 2048) for (k, n) in
              ((a.d_model, a.d_ff), (a.d_ff, a.d_model), (a.d_model, a.d_model), (a.d_model, a.d_kv))]
    shapes.append((2048, 2048, 2048))
    rng = np.random.default_rng(0)
    for m, k, n in shapes:
        A = rng.standard_normal((m, k), dtype=np.float32)
        B = rng.standard_normal((k, n), dtype=np.float32)
        C = np.empty((m, n), dtype=np.float32)
        flops = 2.0 * m * k * n
        s = best_seconds(lambda: np.matmul(A, B, out=C))
        print(json.dumps({"kernel": f"sgemm numpy-openblas {m}x{k}x{n}", "gflops": flops / s / 1e9,
                          "source": "limits.py", "m": m, "k": k, "n": n}), flush=True)
        if torch is not None:
            tA, tB, tC = torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(C)
            s = best_seconds(lambda: torch.mm(tA, tB, out=tC))
            print(json.dumps({"kernel": f"sgemm torch-{torch.__version__} {m}x{k}x{n}", "gflops": flops / s / 1e9,
                              "source": "limits.py", "m": m, "k": k, "n": n}), flush=True)

    nbytes = 256 << 20
    src = np.ones(nbytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    s = best_seconds(lambda: np.copyto(dst, src), min_time=1.0)
    print(json.dumps({"kernel": "copy numpy 256MiB (1 thread)", "gbps": 2 * nbytes / s / 1e9, "source": "limits.py"}),
          flush=True)
    if torch is not None:
        ts, td = torch.from_numpy(src), torch.from_numpy(dst)
        s = best_seconds(lambda: td.copy_(ts), min_time=1.0)
        print(json.dumps({"kernel": f"copy torch 256MiB ({a.threads} threads)", "gbps": 2 * nbytes / s / 1e9,
                          "source": "limits.py"}), flush=True)
    s = best_seconds(lambda: np.dot(src, src), min_time=1.0)
    print(json.dumps({"kernel": "read numpy-openblas sdot 256MiB", "gbps": nbytes / s / 1e9, "source": "limits.py"}),
          flush=True)


if __name__ == "__main__":
    main()
