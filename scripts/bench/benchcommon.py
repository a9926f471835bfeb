"""Shared by the peer benchmark scripts: the command-line contract of `dapq-probe bench-forward` and its
JSON line. Standard library only, so that every venv (llama-cpp-python's, torch's) can import it."""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys


def parse_args(description: str, extra=None) -> argparse.Namespace:
    """The same options as `dapq-probe bench-forward` (plus any peer-specific ones added by `extra`)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", required=True, help="path to the GGUF file")
    p.add_argument("--ids", required=True, help="a file of whitespace-separated token ids")
    p.add_argument("--prompt-tokens", type=int, default=512, help="prompt length (ids cut or repeated to it)")
    p.add_argument("--decode-tokens", type=int, default=64, help="greedy decoding steps after the prompt")
    p.add_argument("--repeats", type=int, default=3, help="timed runs in this process; the median is reported")
    p.add_argument("--threads", type=int, default=2, help="compute threads")
    if extra is not None:
        extra(p)
    a = p.parse_args()
    if a.prompt_tokens < 1 or a.decode_tokens < 0 or a.repeats < 1 or a.threads < 1:
        p.error("--prompt-tokens, --repeats and --threads must be >= 1 and --decode-tokens >= 0")
    return a


def load_prompt(path: str, n: int) -> list[int]:
    """The first `n` ids of the file, repeated cyclically when the file is shorter (as ours does)."""
    with open(path, encoding="utf-8") as f:
        ids = [int(t) for t in f.read().split()]
    if not ids:
        sys.exit(f"{path}: no token ids")
    return [ids[i % len(ids)] for i in range(n)]


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_after_load() -> dict:
    """Resident and peak-resident bytes right after loading (to tell a load-time peak from a run-time one)."""
    out = {"peak_rss_after_load_bytes": peak_rss_bytes()}
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["rss_after_load_bytes"] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


def emit(impl: str, args: argparse.Namespace, prefill: list[float], decode: list[float], **extra) -> None:
    """Prints the one JSON line, with the same fields as ours (extra, peer-specific ones after them)."""
    def rate(tokens: int, secs: list[float]) -> float | None:
        m = statistics.median(secs)
        return tokens / m if tokens > 0 and m > 0 else None

    line = {
        "impl": impl,
        "threads": args.threads,
        "prompt_tokens": args.prompt_tokens,
        "decode_tokens": args.decode_tokens,
        "prefill_tokens_per_s": rate(args.prompt_tokens, prefill),
        "decode_tokens_per_s": rate(args.decode_tokens, decode),
        "prefill_seconds": prefill,
        "decode_seconds": decode,
        "peak_rss_bytes": peak_rss_bytes(),
    }
    line.update(extra)
    print(json.dumps(line), flush=True)
