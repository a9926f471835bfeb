#!/usr/bin/env python3
"""llama.cpp peer of `dapq-probe bench-forward` (run with the llama-cpp-python venv's interpreter).

Same options and same JSON line as ours, with "impl": "llama.cpp":
  prefill = one `llm.eval(ids)` of the N prompt ids (positions 0..N-1) in ONE batch: n_batch = n_ubatch >= N,
            so llama-cpp-python's Python loop over n_batch chunks runs once and llama_decode does not split
            the batch into micro-batches; only the last position's logits are computed (logits_all=False).
  decode  = M single-token `llm.eval([argmax])` steps, greedy on the last logits, one token at a time.
  Each repeat starts from an empty KV cache (llm.reset() + llama_memory_clear); the model and the context
  are created once per process, outside the timings.

About n_ubatch > 512: 512 is only llama.cpp's default physical batch. llama.cpp accepts any
n_ubatch <= n_batch <= n_ctx (llama-cpp-python clamps n_batch to n_ctx and n_ubatch to n_batch); the CPU
backend then builds one graph for the whole prompt, and the compute buffer grows with n_ubatch (without
flash attention the KQ scores are n_ubatch x n_kv x n_head floats: ~600 MiB at 4096 tokens for this model,
which shows in peak RSS). With the default n_ubatch = 512 a 4096-token prompt would be 8 micro-batches
instead; `--ubatch 512` measures that for comparison. llama-cpp-python passes flash_attn=False
(LLAMA_FLASH_ATTN_TYPE_DISABLED) unless asked, whereas llama.cpp's own default is "auto"; we keep the
llama-cpp-python default (what a new user gets) and offer `--flash-attn`. The KV cache is llama.cpp's default
F16.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon  # noqa: E402


def extra(p):
    p.add_argument("--ubatch", type=int, default=0,
                   help="physical batch n_ubatch (default: the prompt length, i.e. the whole prompt in one batch)")
    p.add_argument("--flash-attn", action="store_true", help="enable flash attention (llama-cpp-python default: off)")
    p.add_argument("--verbose", action="store_true", help="llama.cpp's own log on stderr (context and buffer sizes)")


def main() -> None:
    args = benchcommon.parse_args(__doc__.splitlines()[0], extra)
    import numpy as np
    import llama_cpp
    from llama_cpp import Llama

    prompt = benchcommon.load_prompt(args.ids, args.prompt_tokens)
    n_ctx = args.prompt_tokens + args.decode_tokens
    n_batch = max(args.prompt_tokens, 1)
    n_ubatch = args.ubatch if args.ubatch > 0 else n_batch
    llm = Llama(
        model_path=args.model,
        n_ctx=n_ctx,
        n_batch=n_batch,
        n_ubatch=n_ubatch,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        n_gpu_layers=0,
        logits_all=False,
        flash_attn=args.flash_attn,
        verbose=args.verbose,
    )
    loaded = benchcommon.rss_after_load()
    # What the context really got (llama.cpp may round n_ctx up, llama-cpp-python clamps the batches).
    ctx = llm._ctx.ctx
    real = {
        "n_ctx": int(llama_cpp.llama_n_ctx(ctx)),
        "n_batch": int(llama_cpp.llama_n_batch(ctx)),
        "n_ubatch": int(llama_cpp.llama_n_ubatch(ctx)),
        "flash_attn": bool(args.flash_attn),
        "kv_type": "f16",
    }
    if real["n_batch"] < args.prompt_tokens:
        sys.exit(f"llama.cpp gave n_batch={real['n_batch']} < {args.prompt_tokens}: the prompt would not be one batch")
    n_vocab = llm.n_vocab()

    def last_argmax() -> int:
        ptr = llama_cpp.llama_get_logits_ith(ctx, -1)
        logits = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(n_vocab,))
        return int(np.argmax(logits))

    prefill, decode = [], []
    for _ in range(args.repeats):
        llm.reset()
        llm._ctx.kv_cache_clear()
        t0 = time.perf_counter()
        llm.eval(prompt)
        t1 = time.perf_counter()
        for _ in range(args.decode_tokens):
            llm.eval([last_argmax()])
        t2 = time.perf_counter()
        prefill.append(t1 - t0)
        decode.append(t2 - t1)
        if llm.n_tokens != n_ctx:
            sys.exit(f"llama.cpp evaluated {llm.n_tokens} tokens, expected {n_ctx}")

    benchcommon.emit("llama.cpp", args, prefill, decode,
                     version=getattr(llama_cpp, "__version__", "?"), config={**real, **loaded})


if __name__ == "__main__":
    main()
