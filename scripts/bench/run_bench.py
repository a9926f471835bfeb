#!/usr/bin/env python3
"""The forward-pass benchmark (issue 9): ours (`dapq-probe bench-forward`) against llama.cpp (llama-cpp-python)
and PyTorch (transformers loading the same GGUF, float32), same GGUF, same token ids, same thread count.

For each configuration every implementation runs in its own fresh process, interleaved (round r runs the
implementations in an order rotated by r: A B C, B C A, C A B, ...), for --rounds rounds; each process times
--repeats prefill+decode runs. A figure is the median of all the timed runs of an implementation (rounds x
repeats pooled): tokens/s = tokens / median(seconds). Peak RSS is the largest over the rounds.

Standard library only (runs with the system python3); the peers run with their venvs' interpreters.
See scripts/bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("DAPQ_PROBE_CACHE") or os.path.join(ROOT, ".cache")
GiB = 1 << 30
MiB = 1 << 20
RSS_TARGET_BYTES = 1 * GiB
MIN_IDS = 4200

OURS, LLAMA, TORCH = "ours", "llama.cpp", "pytorch"
IMPLS = (OURS, LLAMA, TORCH)
# Ours built for this very CPU (`--tuned-bin`, `make bench` builds it): the reference the plain build is held to.
TUNED = "ours-tuned"
TUNED_TARGET = 1 / 1.1


# ----------------------------------------------------------------------------------------------------------
# Configurations and figures

@dataclass(frozen=True)
class Config:
    name: str
    prompt: int
    decode: int


@dataclass(frozen=True)
class Figure:
    label: str
    config: str
    kind: str  # "prefill" or "decode"


DEFAULT_PROMPTS = "512+D,2048+D,4096"


def plan(quick: bool, decode_steps: int, prompts: str = DEFAULT_PROMPTS) -> tuple[list[Config], list[Figure]]:
    """By default prefill at 512/2048/4096 and decode after 512/2048 (`prompts` "512+D,2048+D,4096", D =
    decode_steps). The 512 and 2048 prefills are timed in the same processes as the decodes that follow them
    (separate timers); the 4096 prefill runs alone (no decode), so its peak RSS is the prefill's. Another
    `prompts` list ("N+M" or "N", comma-separated) measures other lengths, e.g. "512+32,8192"."""
    specs = []
    for item in prompts.split(","):
        n, _, m = item.strip().partition("+")
        try:
            specs.append((int(n), decode_steps if m == "D" else int(m or 0)))
        except ValueError:
            raise SystemExit(f"bench: --prompts: '{item}' is not N or N+M (M a number or D for --decode-steps)")
    if quick:
        specs = specs[:1]
    configs = [Config(f"prompt {n}" + (" + decode" if m else ""), n, m) for n, m in specs]
    figures = [Figure(f"prefill tokens/s @ {c.prompt}", c.name, "prefill") for c in configs]
    figures += [Figure(f"decode tokens/s after {c.prompt} ({c.decode} steps)", c.name, "decode")
                for c in configs if c.decode > 0]
    return configs, figures


def catalogue_path(model: str) -> str:
    """A catalogue name (scripts/models.tsv) as its cached GGUF in .cache/models; anything else as a path."""
    if os.path.exists(model):
        return os.path.abspath(model)
    with open(os.path.join(ROOT, "scripts", "models.tsv"), encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if not line.startswith("#") and len(cols) > 1 and cols[0] == model:
                return os.path.join(CACHE, "models", cols[1])
    return os.path.abspath(model)


def is_issue9_model(path: str) -> bool:
    """Issue 9's targets (ratios and the 1 GiB resident-memory bound) are stated for SmolLM2-135M."""
    return "smollm2-135m" in os.path.basename(path).lower()


# ----------------------------------------------------------------------------------------------------------
# Small helpers

def run_text(cmd: list[str], timeout: float = 120, env=None) -> tuple[int, str, str]:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        return p.returncode, p.stdout, p.stderr
    except (OSError, subprocess.TimeoutExpired) as e:
        return -1, "", str(e)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def median(v):
    return statistics.median(v) if v else None


def fmt(x, digits=1):
    if x is None:
        return "—"
    if isinstance(x, float) and x != x:
        return "nan"
    return f"{x:,.{digits}f}"


def ratio(a, b):
    return a / b if a and b else None


def md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------------
# Implementations

@dataclass
class Impl:
    name: str
    argv: list[str] | None  # command prefix; None when skipped
    skip_reason: str | None = None
    env: dict | None = None


def python_ok(py: str, modules: str) -> tuple[bool, str]:
    if not os.path.exists(py):
        return False, f"{py} does not exist"
    rc, _, err = run_text([py, "-c", f"import {modules}"], timeout=300)
    return (True, "") if rc == 0 else (False, f"`{py} -c 'import {modules}'` failed: {err.strip().splitlines()[-1:]}")


def make_impls(a) -> dict[str, Impl]:
    impls = {OURS: Impl(OURS, [a.bin, "bench-forward"])}
    if a.tuned_bin:
        impls[TUNED] = (Impl(TUNED, [a.tuned_bin, "bench-forward"]) if os.path.exists(a.tuned_bin) else
                        Impl(TUNED, None, f"{a.tuned_bin} does not exist (make bench builds it)"))
    if a.skip_llamacpp:
        impls[LLAMA] = Impl(LLAMA, None, "skipped (--skip-llamacpp)")
    else:
        ok, why = python_ok(a.llama_python, "llama_cpp, numpy")
        impls[LLAMA] = (Impl(LLAMA, [a.llama_python, os.path.join(HERE, "peer_llamacpp.py")]) if ok else
                        Impl(LLAMA, None, f"no usable llama-cpp-python venv: {why} (make bench creates it)"))
    if a.skip_torch:
        impls[TORCH] = Impl(TORCH, None, "skipped (--skip-torch)")
    else:
        ok, why = python_ok(a.torch_python, "torch, transformers, gguf, numpy, accelerate")
        impls[TORCH] = (Impl(TORCH, [a.torch_python, os.path.join(HERE, "peer_torch.py")],
                             env={"TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"})
                        if ok else
                        Impl(TORCH, None, f"no usable PyTorch venv: {why} (make bench creates it; see "
                                          f"scripts/bench/README.md)"))
    for im in impls.values():
        if im.skip_reason:
            log(f"bench: {im.name}: {im.skip_reason}")
    return impls


# ----------------------------------------------------------------------------------------------------------
# Inputs: the ids file and the model's sizes

def make_ids(a, path: str) -> dict:
    """Concatenates whole essays (sorted by file name) until the tokenization by our tokenizer has at least
    max(MIN_IDS, longest prompt + decode) ids; writes them space-separated."""
    need = max(MIN_IDS, a.max_tokens)
    essays_dir = a.corpus
    names = sorted(f for f in os.listdir(essays_dir) if f.endswith(".txt"))
    if not names:
        sys.exit(f"bench: no essays in {essays_dir} (run `bash scripts/setup.sh`)")
    text, used, ids = "", [], []
    chars_per_round = 6 * need  # about 4-5 characters per token; tokenize once, add essays if short
    i = 0
    while len(ids) < need:
        while i < len(names) and len(text) < chars_per_round:
            with open(os.path.join(essays_dir, names[i]), encoding="utf-8", errors="replace") as f:
                text += f.read().strip() + "\n\n"
            used.append(names[i])
            i += 1
        rc, out, err = run_text([a.bin, "tokenize", "--model", a.model, "--text", text], timeout=600)
        if rc != 0:
            sys.exit(f"bench: `dapq-probe tokenize` failed: {err.strip()[-2000:]}")
        ids = [int(t) for t in out.split()]
        if len(ids) < need:
            if i >= len(names):
                sys.exit(f"bench: the whole corpus gives only {len(ids)} ids, need {need}")
            chars_per_round += 3 * need
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="ascii") as f:
        f.write(" ".join(map(str, ids)) + "\n")
    return {"path": path, "count": len(ids), "chars": len(text), "essays": used, "sha256": sha256(path)}


TENSOR_RE = re.compile(r"^\s+(\S+) (\S+) \[([\d, ]+)\] (\d+) bytes\s*$")
ARCH_RE = re.compile(r"(\d+) layers, d_model (\d+), d_ff (\d+), heads (\d+), KV heads (\d+), d_head (\d+)"
                     r".*vocabulary (\d+)")


def model_sizes(a) -> dict:
    """Shapes and byte sizes from `dapq-probe info` (the GGUF's tensor table). See README: Formulas."""
    rc, out, err = run_text([a.bin, "info", "--model", a.model], timeout=300)
    if rc != 0:
        rc, out, err = run_text([a.bin, "info"], timeout=300)
    m = ARCH_RE.search(out)
    tensors = []
    for line in out.splitlines():
        t = TENSOR_RE.match(line)
        if t:
            shape = [int(x) for x in t.group(3).split(",")]
            tensors.append((t.group(1), t.group(2), shape, int(t.group(4))))
    declared = re.search(r"^tensors \((\d+)\):", out, re.M)
    if not m or not tensors or (declared and int(declared.group(1)) != len(tensors)):
        log(f"bench: could not read the tensor table from `dapq-probe info` (rc {rc}); no GFLOP/s or GB/s figures")
        return {}
    L, d, dff, nh, nkv, dh, vocab = (int(x) for x in m.groups())
    prod = math.prod
    names = {n for n, _, _, _ in tensors}
    layer_matmul = sum(prod(s) for n, _, s, _ in tensors if n.startswith("blk.") and len(s) == 2)
    out_name = "output.weight" if "output.weight" in names else "token_embd.weight"
    out_params = next(prod(s) for n, _, s, _ in tensors if n == out_name)
    total_bytes = sum(b for *_, b in tensors)
    embd_bytes = next(b for n, _, _, b in tensors if n == "token_embd.weight")
    out_bytes = next(b for n, _, _, b in tensors if n == out_name)
    # Bytes of weights one decoding step reads: every tensor but the embedding table, plus the output matrix
    # (the embedding table itself when tied); the one embedding row looked up is negligible and not counted.
    step_bytes = total_bytes - embd_bytes + out_bytes
    return {"layers": L, "d_model": d, "d_ff": dff, "heads": nh, "kv_heads": nkv, "d_head": dh, "vocab": vocab,
            "layer_matmul_params": layer_matmul, "output_params": out_params, "output_tensor": out_name,
            "tied": out_name == "token_embd.weight", "tensor_bytes": total_bytes, "decode_step_weight_bytes": step_bytes,
            "types": sorted({ty for _, ty, _, _ in tensors})}


def prefill_flops(ms: dict, n: int) -> float:
    """2 x multiply-adds of a causal prefill of n tokens that produces the last position's logits only:
    n x (all per-layer weight matrices) + L x heads x d_head x n(n+1) (QK^T and AV over the causal triangle:
    position p attends to p+1 keys) + the output projection once."""
    macs = (n * ms["layer_matmul_params"] + ms["layers"] * ms["heads"] * ms["d_head"] * n * (n + 1)
            + ms["output_params"])
    return 2.0 * macs


def kv_bytes_per_step(ms: dict, context: float, elem: int) -> float:
    return 2.0 * ms["layers"] * ms["kv_heads"] * ms["d_head"] * context * elem


# ----------------------------------------------------------------------------------------------------------
# Runs

@dataclass
class RunResult:
    impl: str
    config: str
    round: int
    ok: bool
    wall: float
    data: dict = field(default_factory=dict)
    error: str = ""
    load: float | None = None  # 1-minute load average when the process started


def run_one(im: Impl, cfg: Config, rnd: int, a) -> RunResult:
    cmd = im.argv + ["--model", a.model, "--ids", a.ids_path, "--prompt-tokens", str(cfg.prompt),
                     "--decode-tokens", str(cfg.decode), "--repeats", str(a.repeats), "--threads", str(a.threads)]
    env = dict(os.environ, **(im.env or {}))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    t = time.perf_counter()
    r = _run_one(cmd, env, im, cfg, rnd, a, t)
    r.load = load
    return r


def _run_one(cmd, env, im: Impl, cfg: Config, rnd: int, a, t: float) -> RunResult:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return RunResult(im.name, cfg.name, rnd, False, time.perf_counter() - t, error=f"timed out after {a.timeout} s")
    wall = time.perf_counter() - t
    line = next((l for l in reversed(p.stdout.splitlines()) if l.lstrip().startswith("{")), None)
    if p.returncode != 0 or line is None:
        tail = (p.stderr.strip() or p.stdout.strip())[-1500:]
        return RunResult(im.name, cfg.name, rnd, False, wall, error=f"exit {p.returncode}: {tail}")
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        return RunResult(im.name, cfg.name, rnd, False, wall, error=f"bad JSON line ({e}): {line[:300]}")
    bad = [k for k in ("prefill_seconds", "decode_seconds", "peak_rss_bytes") if k not in data]
    if bad or data.get("prompt_tokens") != cfg.prompt or data.get("decode_tokens") != cfg.decode:
        return RunResult(im.name, cfg.name, rnd, False, wall, data, f"unexpected JSON (missing {bad}): {line[:300]}")
    return RunResult(im.name, cfg.name, rnd, True, wall, data)


def summarize(results: list[RunResult], impl: str, cfg: Config) -> dict:
    rs = [r for r in results if r.impl == impl and r.config == cfg.name and r.ok]
    if not rs:
        return {}
    pre = [s for r in rs for s in r.data["prefill_seconds"]]
    dec = [s for r in rs for s in r.data["decode_seconds"]]
    out = {"runs": len(rs), "samples": len(pre),
           "prefill_tps": cfg.prompt / median(pre) if pre and median(pre) > 0 else None,
           "prefill_tps_range": (cfg.prompt / max(pre), cfg.prompt / min(pre)) if pre and min(pre) > 0 else None,
           "peak_rss_max": max(r.data["peak_rss_bytes"] for r in rs),
           "peak_rss_median": median([r.data["peak_rss_bytes"] for r in rs])}
    if cfg.decode > 0 and dec and median(dec) > 0:
        out["decode_tps"] = cfg.decode / median(dec)
        out["decode_tps_range"] = (cfg.decode / max(dec), cfg.decode / min(dec))
    return out


# ----------------------------------------------------------------------------------------------------------
# Limits: bench-kernels and limits.py

def kernel_lines(a) -> tuple[list[dict], str]:
    rc, out, _ = run_text([a.bin, "--help"], timeout=60)
    if "bench-kernels" not in out:
        return [], "`dapq-probe bench-kernels` does not exist in this build"
    rc, out, err = run_text([a.bin, "bench-kernels", "--threads", str(a.threads), "--json"], timeout=a.timeout)
    lines = []
    for l in out.splitlines():
        if l.lstrip().startswith("{"):
            try:
                lines.append(json.loads(l))
            except json.JSONDecodeError:
                pass
    note = "" if rc == 0 else f"`dapq-probe bench-kernels` exited {rc}: {err.strip()[-500:]}"
    return lines, note


def limits_lines(a, ms: dict) -> tuple[list[dict], str]:
    py = next((p for p in (a.torch_python, a.llama_python) if python_ok(p, "numpy")[0]), None)
    if py is None:
        return [], "no venv with NumPy for scripts/bench/limits.py"
    t = str(a.threads)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=t, OMP_NUM_THREADS=t, MKL_NUM_THREADS=t)
    cmd = [py, os.path.join(HERE, "limits.py"), "--threads", t]
    if ms:
        cmd += ["--d-model", str(ms["d_model"]), "--d-ff", str(ms["d_ff"]), "--d-kv", str(ms["kv_heads"] * ms["d_head"])]
    rc, out, err = run_text(cmd, timeout=a.timeout, env=env)
    lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return lines, ("" if rc == 0 else f"limits.py exited {rc}: {err.strip()[-500:]}") + f" (interpreter {py})"


MEASURED_KEYS = {"gflops", "gbps", "seconds", "time", "time_s", "ns", "ns_per_op", "iterations", "runs", "repeats"}


def best_of(first: list[dict], second: list[dict]) -> list[dict]:
    """Per kernel (a line's non-float fields: name, shape, ...), the line with the higher gflops (or gbps)."""
    def score(l):
        return num(l, "gflops") or num(l, "gbps") or 0.0
    by = {}
    for l in first + second:
        key = json.dumps({k: v for k, v in l.items() if not isinstance(v, float) and k not in MEASURED_KEYS},
                         sort_keys=True)
        if key not in by or score(l) > score(by[key]):
            by[key] = l
    return list(by.values())


def num(d: dict, key: str):
    v = d.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def best_limits(lines: list[dict]) -> tuple[dict | None, dict | None]:
    """Best GEMM line on the model's shapes (kernel name has 'gemm' but not 'gemv': OpenBLAS/NumPy/PyTorch
    float32 sgemm and our int8 kernel on the quantized weights, whichever is faster) and best copy line (name has
    'copy' or 'stream')."""
    def is_gemm(k):
        k = k.lower()
        return "gemm" in k and "gemv" not in k
    gemm = [l for l in lines if is_gemm(str(l.get("kernel", ""))) and num(l, "gflops")]
    copy = [l for l in lines if re.search(r"copy|stream", str(l.get("kernel", "")), re.I) and num(l, "gbps")]
    return (max(gemm, key=lambda l: num(l, "gflops")) if gemm else None,
            max(copy, key=lambda l: num(l, "gbps")) if copy else None)


# ----------------------------------------------------------------------------------------------------------
# Machine and versions

def machine() -> dict:
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    rc, out, _ = run_text(["lscpu"])
    for key in ("Model name", "Vendor ID", "Hypervisor vendor", "L2 cache", "L3 cache", "Thread(s) per core",
                "Core(s) per socket"):
        m = re.search(rf"^{re.escape(key)}:\s*(.+)$", out, re.M)
        if m:
            info[key] = m.group(1).strip()
    flags = set((re.search(r"^Flags:\s*(.+)$", out, re.M) or [None, ""])[1].split())
    info["simd"] = ", ".join(f for f in ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
                                         "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags) or "?"
    info["AVX2"] = "avx2" in flags
    info["AVX-512"] = "avx512f" in flags
    try:
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
        info["memory"] = f"{kb / (1 << 20):.1f} GiB"
    except (OSError, AttributeError):
        pass
    return info


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def versions(a, impls: dict[str, Impl]) -> dict:
    v = {}
    rc, out, _ = run_text([a.bin, "--version"])
    v["dapq-probe"] = out.strip() or "?"
    rc, out, _ = run_text(["git", "-C", ROOT, "describe", "--always", "--dirty", "--abbrev=12"])
    v["git"] = out.strip() or "?"
    rc, out, _ = run_text(["swift", "--version"])
    v["swift"] = (out.strip().splitlines() or ["?"])[0]
    probes = {LLAMA: (a.llama_python, "import llama_cpp, numpy; print('llama-cpp-python', llama_cpp.__version__);"
                                      "print('numpy (llama venv)', numpy.__version__)"),
              TORCH: (a.torch_python, "import torch, transformers, gguf, numpy, accelerate; "
                                      "print('torch', torch.__version__); print('transformers', transformers.__version__);"
                                      "print('gguf', getattr(gguf, '__version__', None) or __import__('importlib.metadata')"
                                      ".metadata.version('gguf')); print('accelerate', accelerate.__version__);"
                                      "print('numpy (torch venv)', numpy.__version__)")}
    for name, (py, code) in probes.items():
        if impls[name].argv is None:
            continue
        rc, out, _ = run_text([py, "-c", code], timeout=300)
        for line in out.splitlines():
            k, _, val = line.rpartition(" ")
            v[k] = val
    return v


# ----------------------------------------------------------------------------------------------------------
# Report

def report(a, meta: dict, impls, configs, figures, results, summ, ms, klines, knote, llines, lnote) -> str:
    R = []
    w = R.append
    title = "Forward-pass benchmark" + (" (quick smoke run)" if a.quick else "")
    w(f"# {title}\n")
    w(f"- date: {meta['date']} (UTC); wall time {meta['wall_min']:.1f} min")
    w(f"- command: `{meta['command']}`")
    mc = meta["machine"]
    w(f"- machine: {mc.get('Model name', '?')} ({mc.get('Vendor ID', '?')}"
      f"{', ' + mc['Hypervisor vendor'] + ' guest' if 'Hypervisor vendor' in mc else ''}), nproc {mc['nproc']}, "
      f"{mc.get('Core(s) per socket', '?')} cores x {mc.get('Thread(s) per core', '?')} thread(s), "
      f"L2 {mc.get('L2 cache', '?')}, L3 {mc.get('L3 cache', '?')}, memory {mc.get('memory', '?')}, Linux {mc['kernel']}")
    w(f"- SIMD: AVX2 {'yes' if mc['AVX2'] else 'no'}, AVX-512 {'yes' if mc['AVX-512'] else 'no'} ({mc['simd']})")
    w(f"- load average (1/5/15 min) at start: {meta['load_start']}; at end: {meta['load_end']} "
      f"(other work on the machine makes every figure noisier)")
    w(f"- threads: {a.threads} for every implementation; rounds: {a.rounds} (interleaved, order rotated each round); "
      f"timed repeats per process: {a.repeats}; figure = median over rounds x repeats")
    w(f"- model: `{os.path.relpath(a.model, ROOT) if a.model.startswith(ROOT) else a.model}` "
      f"(SHA-256 `{meta['model_sha256']}`, {meta['model_bytes']:,} bytes)")
    ids = meta["ids"]
    w(f"- token ids: {ids['count']} ids (SHA-256 `{ids['sha256']}`) from {len(ids['essays'])} Paul Graham essays "
      f"({', '.join(ids['essays'][:6])}{', …' if len(ids['essays']) > 6 else ''}) tokenized by `dapq-probe tokenize`; "
      f"every implementation gets the first N of the same ids")
    w("- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    envs = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                        "OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ}
    w(f"- environment: {', '.join(f'{k}={v}' for k, v in envs.items()) or 'no BLAS/OpenMP variables set'}")
    loads = [r.load for r in results if r.load is not None]
    busy = max(loads, default=0.0)
    if busy > 1.5 * a.threads or busy > (os.cpu_count() or 1):
        w(f"\n**WARNING: the machine was busy during this run (1-minute load average up to {busy:.1f} on "
          f"{os.cpu_count()} CPUs, {a.threads} threads benchmarked).** Every figure is then noisy, and so are the "
          "ratios: the three runtimes wait for their worker threads differently (spinning at barriers in ggml's "
          "thread pool and OpenMP, a short spin then a sleep in ours), so contention does not slow them equally. "
          "Rerun on an idle machine before drawing conclusions.")
    w("")
    w("## Implementations\n")
    w(f"- **ours**: `{os.path.relpath(a.bin, ROOT) if a.bin.startswith(ROOT) else a.bin} bench-forward` "
      "(release build): prefill = one batch forward of N ids producing the last position's logits; decode = M "
      "greedy steps, one token each; fresh cache per repeat.")
    for name, im in impls.items():
        if name == OURS:
            continue
        if im.argv is None:
            w(f"- **{name}**: not measured: {im.skip_reason}")
            continue
        cfgs = [r.data.get("config", {}) for r in results if r.impl == name and r.ok]
        c = cfgs[-1] if cfgs else {}
        if name == LLAMA:
            ub = sorted({(x.get("n_ubatch"), x.get("n_ctx")) for x in cfgs})
            w(f"- **llama.cpp**: llama-cpp-python `Llama(n_threads=n_threads_batch={a.threads}, n_batch=n_ubatch=N, "
              f"n_ctx>=N+M, flash_attn={c.get('flash_attn', False)}, logits_all=False)`, KV cache "
              f"{c.get('kv_type', 'f16')}; prefill = `llm.eval(ids)` (one batch, one micro-batch), decode = M "
              f"`llm.eval([argmax])`; `llm.reset()` + KV clear per repeat. (n_ubatch, n_ctx) granted: "
              f"{', '.join(f'({u}, {n})' for u, n in ub) or '?'} (llama.cpp rounds n_ctx up to a multiple of 256).")
        else:
            w(f"- **pytorch**: transformers `AutoModelForCausalLM.from_pretrained(dir, gguf_file=…, dtype=float32)` "
              f"(the GGUF dequantized to float32 at load), `torch.set_num_threads({a.threads})`, "
              f"`torch.inference_mode()`, attention `{c.get('attn_implementation', '?')}`; prefill = "
              f"`model(ids, use_cache=True, {c.get('logits_to_keep', '?')})`; decode = M steps feeding the argmax with "
              f"the returned cache. Model load (untimed): {fmt(median([x.get('load_seconds') for x in cfgs if x.get('load_seconds')]), 1)} s median.")
    w("")

    # Limits
    w("## The machine's limits\n")
    gemm, copy = best_limits(klines + llines)
    if klines:
        w("`dapq-probe bench-kernels --threads %d --json` (per kernel the better of a run before and one after "
          "the measurements):\n" % a.threads)
        w("```")
        w("\n".join(json.dumps(l) for l in klines))
        w("```")
    else:
        w(f"`dapq-probe bench-kernels`: {knote or 'no output'}.")
    if knote and klines:
        w(f"\nnote: {knote}")
    w("")
    if llines:
        w(f"`scripts/bench/limits.py` (NumPy/OpenBLAS and PyTorch references; per kernel the best of several runs, before and after the measurements{lnote}):\n")
        w(md_table(["kernel", "GFLOP/s", "GB/s"],
                   [[str(l["kernel"]), fmt(num(l, "gflops")), fmt(num(l, "gbps"))] for l in llines]))
    elif lnote:
        w(f"`scripts/bench/limits.py`: {lnote}")
    w("")
    peak_gf = num(gemm, "gflops") if gemm else None
    peak_bw = num(copy, "gbps") if copy else None
    w(f"- best GEMM measured (float32 sgemm, or our int8 kernel where faster): {fmt(peak_gf)} GFLOP/s "
      f"({(gemm['kernel'] + ' ' + str(gemm.get('shape', ''))).strip() if gemm else 'none measured'})")
    w(f"- best copy bandwidth measured: {fmt(peak_bw)} GB/s ({copy['kernel'] if copy else 'none measured'})")
    w("")

    # Achieved
    if ms:
        w("## Achieved rates\n")
        w(f"Model: {ms['layers']} layers, d_model {ms['d_model']}, d_ff {ms['d_ff']}, heads {ms['heads']} "
          f"(KV {ms['kv_heads']}), d_head {ms['d_head']}, vocabulary {ms['vocab']}; per-layer weight matrices "
          f"{ms['layer_matmul_params']:,} params, output projection {ms['output_params']:,} params "
          f"({ms['output_tensor']}{', tied' if ms['tied'] else ''}); weight bytes read per decoding step "
          f"{ms['decode_step_weight_bytes']:,} (GGUF types {', '.join(ms['types'])}).\n")
        w("Prefill GFLOP/s = 2 × (N × per-layer weight params + layers × heads × d_head × N(N+1) + output params) "
          "× tokens/s ÷ N  (causal attention counted as the triangle, logits for the last position only). Decode "
          "GB/s = weight bytes per step × decode tokens/s (the KV cache read is not counted; the column with KV adds "
          "2 × layers × KV heads × d_head × mean context × element size: f32 for PyTorch, f16 for ours and llama.cpp). "
          "Fractions are of the best GEMM and copy figures above. PyTorch really reads float32 weights (about 4.5× "
          "the GGUF bytes); its GB/s here is on the same GGUF-byte basis, for comparison only.\n")
        rows = []
        for f in figures:
            cfg = next(c for c in configs if c.name == f.config)
            for name in IMPLS:
                s = summ.get((name, cfg.name), {})
                if f.kind == "prefill" and s.get("prefill_tps"):
                    gf = prefill_flops(ms, cfg.prompt) * s["prefill_tps"] / cfg.prompt / 1e9
                    rows.append([f.label, name, f"{fmt(gf)} GFLOP/s", fmt(ratio(gf, peak_gf), 3), "", ""])
                elif f.kind == "decode" and s.get("decode_tps"):
                    gb = ms["decode_step_weight_bytes"] * s["decode_tps"] / 1e9
                    ctx = cfg.prompt + (cfg.decode + 1) / 2
                    kv = kv_bytes_per_step(ms, ctx, 4 if name == TORCH else 2) * s["decode_tps"] / 1e9
                    rows.append([f.label, name, f"{fmt(gb, 2)} GB/s", fmt(ratio(gb, peak_bw), 3),
                                 f"{fmt(gb + kv, 2)} GB/s", fmt(ratio(gb + kv, peak_bw), 3)])
        w(md_table(["figure", "impl", "achieved", "fraction of limit", "with KV read", "fraction"], rows))
        w("")

    # Memory
    w("## Peak resident memory\n")
    w("Peak RSS of each process (`VmHWM` for ours, `ru_maxrss` for the peers: both include loading), the largest "
      "over the rounds, MiB. The PyTorch line also includes the float32 copy of the weights made at load.\n")
    rows = []
    for cfg in configs:
        rows.append([f"{cfg.name} ({cfg.prompt}+{cfg.decode})"] +
                    [fmt((summ.get((n, cfg.name), {}).get("peak_rss_max") or 0) / MiB or None, 0) for n in IMPLS])
    w(md_table(["configuration", "ours", "llama.cpp", "pytorch"], rows))
    w("")
    big = next((c for c in configs if c.prompt == 4096 and c.decode == 0), None) if is_issue9_model(a.model) else None
    if big is not None:
        s = summ.get((OURS, big.name), {})
        if s.get("peak_rss_max"):
            ok = s["peak_rss_max"] < RSS_TARGET_BYTES
            w(f"**Ours during the 4096-token prefill: {fmt(s['peak_rss_max'] / MiB, 0)} MiB peak RSS — "
              f"{'under' if ok else 'OVER'} the 1 GiB target.**\n")
        else:
            w("**Ours during the 4096-token prefill: not measured (the run failed).**\n")

    # Failures and raw runs
    failed = [r for r in results if not r.ok]
    if failed:
        w("## Failed runs\n")
        for r in failed:
            w(f"- {r.impl}, {r.config}, round {r.round}: {r.error}")
        w("")
    w("## Every run\n")
    rows = []
    for r in results:
        d = r.data
        pre = d.get("prefill_tokens_per_s")
        dec = d.get("decode_tokens_per_s") if d.get("decode_tokens") else None
        rows.append([r.config, str(r.round), r.impl, "ok" if r.ok else "FAILED", fmt(pre), fmt(dec),
                     fmt(d.get("peak_rss_bytes", 0) / MiB or None, 0), fmt(r.wall, 1), fmt(r.load, 2)])
    w(md_table(["configuration", "round", "impl", "status", "prefill tok/s (process median)",
                "decode tok/s (process median)", "peak RSS MiB", "process wall s", "load avg at start"], rows))
    w("")

    if TUNED in impls and impls[TUNED].argv is not None:
        w("## The plain build against a CPU-tuned build\n")
        w(f"`ours` is the plain `swift build -c release` binary (`make build`: no CPU flags; its SIMD kernels choose "
          f"their instruction set at run time); `{TUNED}` (`{os.path.relpath(a.tuned_bin, ROOT) if a.tuned_bin.startswith(ROOT) else a.tuned_bin}`) "
          "is the same code built for this CPU (`-Xswiftc -target-cpu -Xswiftc native -Xcc -march=native`). "
          f"Target: plain / tuned ≥ {TUNED_TARGET:.2f} (within 1.1×) for every figure.\n")
        rows = []
        for f in figures:
            plain = summ.get((OURS, f.config), {}).get(f"{f.kind}_tps")
            tuned = summ.get((TUNED, f.config), {}).get(f"{f.kind}_tps")
            r = ratio(plain, tuned)
            rows.append([f.label, fmt(plain), fmt(tuned), fmt(r, 2),
                         "—" if r is None else ("met" if r >= TUNED_TARGET else "NOT met")])
        w(md_table(["figure", "ours (plain build)", "ours (tuned build)", "plain / tuned", "target"], rows))
        w("")

    # The ratios, last
    w("## Results: ours against the peers\n")
    w(f"Tokens per second, median over {a.rounds} round(s) × {a.repeats} repeat(s) (min–max of the single runs in "
      f"brackets); ratios > 1 mean ours is faster. {a.threads} threads, same GGUF, same ids.\n")
    rows, verdicts = [], []
    for f in figures:
        vals, ranges = {}, {}
        for name in IMPLS:
            s = summ.get((name, f.config), {})
            vals[name] = s.get(f"{f.kind}_tps")
            ranges[name] = s.get(f"{f.kind}_tps_range")
        peers = [vals[n] for n in (LLAMA, TORCH) if vals[n]]
        best = max(peers) if peers else None
        cell = lambda n: (f"{fmt(vals[n])} [{fmt(ranges[n][0])}–{fmt(ranges[n][1])}]"  # noqa: E731
                          if vals[n] and ranges[n] else fmt(vals[n]))
        r_best = ratio(vals[OURS], best)
        rows.append([f.label, cell(OURS), cell(LLAMA), cell(TORCH), fmt(ratio(vals[OURS], vals[LLAMA]), 2),
                     fmt(ratio(vals[OURS], vals[TORCH]), 2), fmt(r_best, 2)])
        if r_best is not None:
            verdicts.append(f"- {f.label}: ours / best peer = {r_best:.2f} → "
                            f"{'target met' if r_best >= 1.0 else 'target NOT met'}")
        else:
            verdicts.append(f"- {f.label}: no ratio (a figure is missing)")
    w(md_table(["figure", "ours", "llama.cpp", "pytorch", "ours/llama.cpp", "ours/pytorch", "ours/best peer"], rows))
    w("")
    if is_issue9_model(a.model):
        w("Targets (issue 9): ours / best peer ≥ 1.0 for every figure; ours < 1 GiB peak RSS in the 4096 prefill.\n")
    else:
        w("(Issue 9's targets are stated for SmolLM2-135M; for this model the verdicts below apply the same "
          "ratio ≥ 1.0 for comparison.)\n")
    if big is not None:
        rss = summ.get((OURS, big.name), {}).get("peak_rss_max")
        verdicts.append(f"- ours' peak RSS in the 4096-token prefill: {fmt(rss / MiB, 0)} MiB → "
                        f"{'target met' if rss < RSS_TARGET_BYTES else 'target NOT met'} (< 1024 MiB)" if rss else
                        "- ours' peak RSS in the 4096-token prefill: not measured")
    w("\n".join(verdicts))
    if any(im.argv is None for im in impls.values()):
        w("\n(The best peer is the best of the peers measured; skipped peers: "
          + ", ".join(f"{n}: {im.skip_reason}" for n, im in impls.items() if im.argv is None) + ")")
    if a.quick:
        w("\nQuick smoke run: one configuration, one round — not a measurement for the record.")
    return "\n".join(R) + "\n"


# ----------------------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3; 1 with --quick)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs inside each process")
    ap.add_argument("--decode-steps", type=int, default=64, help="greedy decoding steps after the 512/2048 prompts")
    ap.add_argument("--quick", action="store_true", help="smoke test: only the first prompt (512 + decode), one round")
    ap.add_argument("--prompts", default=DEFAULT_PROMPTS,
                    help="configurations, N or N+M (M decoding steps, D = --decode-steps), comma-separated "
                         f"(default {DEFAULT_PROMPTS})")
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--skip-llamacpp", action="store_true")
    ap.add_argument("--skip-limits", action="store_true", help="skip bench-kernels and limits.py")
    ap.add_argument("--model", default="smollm2-135m", help="catalogue name (scripts/models.tsv) or GGUF path")
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build", "release", "dapq-probe"))
    ap.add_argument("--tuned-bin", default=None,
                    help="also measure this binary: ours built for this CPU (make bench: .build-tuned/release/dapq-probe)")
    ap.add_argument("--corpus", default=os.path.join(CACHE, "corpus", "PaulGrahamEssays"))
    ap.add_argument("--llama-python", default=os.path.join(CACHE, "venv-llama", "bin", "python"))
    ap.add_argument("--torch-python", default=os.path.join(CACHE, "venv-torch", "bin", "python"))
    ap.add_argument("--timeout", type=float, default=1800, help="seconds allowed to one process")
    ap.add_argument("--out", default=None,
                    help="the report (default notebooks-data/bench.md; with --quick .cache/bench/bench-quick.md)")
    a = ap.parse_args()
    if a.rounds is None:
        a.rounds = 1 if a.quick else 3
    if a.threads < 1 or a.rounds < 1 or a.repeats < 1 or a.decode_steps < 0:
        ap.error("--threads, --rounds and --repeats must be >= 1, --decode-steps >= 0")
    a.model, a.bin = catalogue_path(a.model), os.path.abspath(a.bin)
    a.tuned_bin = os.path.abspath(a.tuned_bin) if a.tuned_bin else None
    if a.out is None:
        a.out = (os.path.join(CACHE, "bench", "bench-quick.md") if a.quick
                 else os.path.join(ROOT, "notebooks-data", "bench.md"))
    for path, what in ((a.bin, "our release binary (make build)"), (a.model, "the model (make setup; make models for the Qwen models)")):
        if not os.path.exists(path):
            sys.exit(f"bench: {path} is missing: {what}")

    t_start = time.time()
    configs, figures = plan(a.quick, a.decode_steps, a.prompts)
    a.max_tokens = max(c.prompt + c.decode for c in configs)
    meta = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "command": ("make bench → " if os.environ.get("MAKELEVEL") else "") +
                       shlex.join(["python3", os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)] + sys.argv[1:]),
            "machine": machine(), "load_start": loadavg(), "model_sha256": sha256(a.model),
            "model_bytes": os.path.getsize(a.model)}
    impls = make_impls(a)
    meta["versions"] = versions(a, impls)
    # Per model: each tokenizer gives its own ids of the same essays.
    a.ids_path = os.path.join(CACHE, "bench", f"ids-{os.path.splitext(os.path.basename(a.model))[0]}.txt")
    meta["ids"] = make_ids(a, a.ids_path)
    log(f"bench: {meta['ids']['count']} ids in {a.ids_path}")
    ms = model_sizes(a)

    klines, knote, llines, lnote = [], "", [], ""
    if not a.skip_limits:
        log("bench: measuring the machine's limits (bench-kernels, limits.py)")
        klines, knote = kernel_lines(a)
        llines, lnote = limits_lines(a, ms)

    active = [im for im in impls.values() if im.argv is not None]
    if active[0].name != OURS:
        sys.exit("bench: internal error: ours must be measured")
    results: list[RunResult] = []
    total = len(configs) * a.rounds * len(active)
    k = 0
    for cfg in configs:
        for rnd in range(a.rounds):
            order = active[rnd % len(active):] + active[:rnd % len(active)]
            for im in order:
                k += 1
                log(f"bench: [{k}/{total}] {cfg.name} ({cfg.prompt}+{cfg.decode}), round {rnd + 1}, {im.name} …")
                r = run_one(im, cfg, rnd + 1, a)
                results.append(r)
                if r.ok:
                    d = r.data
                    log(f"bench:     prefill {fmt(d.get('prefill_tokens_per_s'))} tok/s, decode "
                        f"{fmt(d.get('decode_tokens_per_s') if cfg.decode else None)} tok/s, peak RSS "
                        f"{fmt(d['peak_rss_bytes'] / MiB, 0)} MiB, {r.wall:.0f} s")
                else:
                    log(f"bench:     FAILED: {r.error[-600:]}")
    if not a.skip_limits:
        # Limits again after the runs: each kernel keeps its better figure (a limit is a best case, and a
        # quiet moment at either end of a long run is more likely than at one).
        log("bench: measuring the machine's limits again")
        k2, _ = kernel_lines(a)
        l2, _ = limits_lines(a, ms)
        klines, llines = best_of(klines, k2), best_of(llines, l2)
    summ = {(im.name, cfg.name): summarize(results, im.name, cfg) for im in impls.values() for cfg in configs}
    meta["load_end"] = loadavg()
    meta["wall_min"] = (time.time() - t_start) / 60

    text = report(a, meta, impls, configs, figures, results, summ, ms, klines, knote, llines, lnote)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(text)
    raw = os.path.splitext(a.out)[0] + ".json"
    with open(raw, "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "model": ms, "kernels": klines, "limits": llines,
                   "runs": [r.__dict__ for r in results]}, f, indent=1)
    print(text)
    log(f"bench: report written to {a.out} (raw runs: {raw})")
    ours_ok = any(r.ok for r in results if r.impl == OURS)
    sys.exit(0 if ours_ok else 1)


if __name__ == "__main__":
    main()
