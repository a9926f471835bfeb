#!/usr/bin/env python3
"""PyTorch peer of `dapq-probe bench-forward` (run with the .cache/venv-torch interpreter).

Same options and same JSON line as ours, with "impl": "pytorch": Hugging Face `transformers` loads the SAME
GGUF file (`from_pretrained(dir, gguf_file=name, dtype=float32)`: transformers dequantizes every GGUF tensor
to a float32 torch tensor at load, so the forward pass is plain float32 PyTorch (MKL/oneDNN GEMMs, SDPA
attention); the tokenizer is not loaded, the ids come from the file.
  prefill = one `model(input_ids[1, N], use_cache=True)` under torch.inference_mode(), timed.
            NOTE: a Hugging Face causal LM computes the logits of ALL N positions (N x 49152 output
            projection) unless `logits_to_keep=1` (older releases: `num_logits_to_keep`) is passed. We pass
            it whenever the installed transformers accepts it, so the peer does only the work we do (the
            last position's logits); the JSON line records which ("logits_to_keep").
  decode  = M steps feeding the argmax token of the last logits with the returned KV cache
            (`cache=` in transformers >= 5, `past_key_values=` before), one token at a time.
  Each repeat starts with a fresh cache (none passed to the prefill); loading happens once, untimed.
torch.set_num_threads(T) sets the intra-op threads (OpenMP/MKL); inter-op threads are left alone.
"""

from __future__ import annotations

import inspect
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon  # noqa: E402


def extra(p):
    p.add_argument("--all-logits", action="store_true",
                   help="do not pass logits_to_keep=1 (the Hugging Face default: logits of every position)")


def main() -> None:
    args = benchcommon.parse_args(__doc__.splitlines()[0], extra)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the GGUF is a local file; never reach for the hub
    os.environ.setdefault("TQDM_DISABLE", "1")  # the per-tensor dequantization progress bars
    import torch
    import transformers
    transformers.utils.logging.disable_progress_bar()  # the per-tensor dequantization bars
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    prompt = benchcommon.load_prompt(args.ids, args.prompt_tokens)
    directory, name = os.path.split(os.path.abspath(args.model))

    # transformers >= 4.56 renamed torch_dtype to dtype (the old name warns).
    load_kw = {"gguf_file": name}
    fp_params = inspect.signature(transformers.PreTrainedModel.from_pretrained).parameters
    load_kw["dtype" if "dtype" in fp_params or _accepts_dtype(transformers) else "torch_dtype"] = torch.float32
    t = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(directory, **load_kw)
    load_seconds = time.perf_counter() - t
    model.eval()
    loaded = benchcommon.rss_after_load()

    fwd = inspect.signature(model.forward).parameters
    cache_kw = "cache" if "cache" in fwd else "past_key_values"
    keep_kw = None
    if not args.all_logits:
        keep_kw = next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in fwd), None)
    keep = {keep_kw: 1} if keep_kw else {}

    def cache_of(out):
        c = getattr(out, "cache", None)
        return c if c is not None else out.past_key_values

    prefill, decode = [], []
    with torch.inference_mode():
        ids = torch.tensor([prompt], dtype=torch.long)
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            out = model(input_ids=ids, use_cache=True, **keep)
            t1 = time.perf_counter()
            cache = cache_of(out)
            logits = out.logits
            for _ in range(args.decode_tokens):
                nxt = logits[0, -1].argmax().view(1, 1)
                out = model(input_ids=nxt, use_cache=True, **{cache_kw: cache})
                cache = cache_of(out)
                logits = out.logits
            t2 = time.perf_counter()
            prefill.append(t1 - t0)
            decode.append(t2 - t1)
            seen = cache.get_seq_length() if hasattr(cache, "get_seq_length") else None
            if seen is not None and seen != args.prompt_tokens + args.decode_tokens:
                sys.exit(f"the cache holds {seen} positions, expected {args.prompt_tokens + args.decode_tokens}")
            del out, cache, logits

    benchcommon.emit(
        "pytorch", args, prefill, decode,
        version={"torch": torch.__version__, "transformers": transformers.__version__},
        config={
            "logits_to_keep": f"{keep_kw}=1" if keep_kw else "none (all positions)",
            "attn_implementation": getattr(model.config, "_attn_implementation", "?"),
            "dtype": str(next(model.parameters()).dtype),
            "intra_op_threads": torch.get_num_threads(),
            "load_seconds": load_seconds,
            **loaded,
        },
    )


def _accepts_dtype(transformers) -> bool:
    try:
        major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
        return (major, minor) >= (4, 56)
    except ValueError:
        return False


if __name__ == "__main__":
    main()
