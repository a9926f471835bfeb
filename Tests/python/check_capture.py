#!/usr/bin/env python3
"""Checks a capture file written by `dapq-probe capture` without any of our code: with h5py, with
xarray (engine h5netcdf), and by recomputing decode/importance (and decode/attention) with NumPy from the
stored post-RoPE queries and keys; the answer evidence too: decode/copy_source (the generated tokens aligned
onto the prompt, longest run first) from the token ids, decode/retrieval_score from the stored queries and keys.
Run by Tests/ProbeTests/CaptureTests.swift and AnswerEvidenceTests.swift in .cache/venv-test.

usage: check_capture.py FILE.h5 [--values] [--attention] [--span START:END]
  --span  expect prompt/answer_span to mark exactly these prompt positions (END exclusive)
Exit status 0 and a final line "capture OK" when every check passes; otherwise a message and status 1.
"""
import argparse

import h5py
import numpy as np
import xarray as xr

from checks import COMMON_ROOT_ATTRIBUTES, check, fail

def expected_layout(a, values, attention):
    """path -> (dimension names, shape, dtype) as docs/schema.md and README.md document them."""
    L, H, G, d = a["n_layers"], a["n_heads"], a["n_kv_heads"], a["d_head"]
    n, S, w = a["n_prompt"], a["n_decode"], a["n_window"]
    layout = {
        "tokens/prompt": (("position",), (n,), np.int32),
        "tokens/generated": (("step",), (S,), np.int32),
        "prompt/rot_k": (("layer", "kv_head", "position", "d_head"), (L, G, n, d), np.float32),
        "prompt/rot_q_window": (("layer", "head", "window", "d_head"), (L, H, w, d), np.float32),
        "decode/rot_q": (("layer", "head", "step", "d_head"), (L, H, S, d), np.float32),
        "decode/rot_k": (("layer", "kv_head", "step", "d_head"), (L, G, S, d), np.float32),
        "decode/importance": (("layer", "kv_head", "position"), (L, G, n), np.float32),
        "decode/copy_source": (("step",), (S,), np.int32),
        "decode/retrieval_score": (("layer", "head"), (L, H), np.float32),
    }
    if values:
        layout["prompt/v"] = (("layer", "kv_head", "position", "d_head"), (L, G, n, d), np.float32)
    if attention:
        layout["decode/attention"] = (("layer", "head", "step", "position"), (L, H, S, n), np.float32)
    return layout


def check_h5py(path, values, attention, span):
    with h5py.File(path, "r") as f:
        a = dict(f.attrs)
        for name in COMMON_ROOT_ATTRIBUTES:
            check(name in a, f"root attribute {name!r} missing")
        for name in ["schema", "tool_version", "created", "model_path", "model_sha256", "architecture",
                     "rope_layout", "command_line", "numerics", "kv_type"]:
            check(isinstance(a[name], str), f"root attribute {name!r} is not a string: {a[name]!r}")
        check(a["schema"] == "dapq-probe/capture", f"schema is {a['schema']!r}")
        check(int(a["schema_version"]) == 2, "schema_version is not 2")
        check(int(a["complete"]) == 1, "complete is not 1")
        check(len(a["model_sha256"]) == 64, "model_sha256 is not 64 hex digits")
        check(a["rope_layout"] in ("gguf_adjacent_pairs", "neox_halves"), f"rope_layout {a['rope_layout']!r}")
        a = {k: (int(v) if isinstance(v, (np.integer, int)) else v) for k, v in a.items()}
        check(a["n_decode"] >= 1, "no decoding steps")

        layout = expected_layout(a, values, attention)
        if span is not None:
            layout["prompt/answer_span"] = (("position",), (a["n_prompt"],), np.uint8)
        else:
            check("prompt/answer_span" not in f, "prompt/answer_span present though no span was given")
        if not values:
            check("prompt/v" not in f, "prompt/v present without --values")
        if not attention:
            check("decode/attention" not in f, "decode/attention present without --attention")
        for path_, (dims, shape, dtype) in layout.items():
            check(path_ in f, f"dataset {path_} missing")
            ds = f[path_]
            check(ds.shape == shape, f"{path_}: shape {ds.shape}, expected {shape}")
            check(ds.dtype == dtype, f"{path_}: dtype {ds.dtype}, expected {np.dtype(dtype)}")
            check(ds.attrs.get("description"), f"{path_}: no description attribute")
            if ds.dtype == np.float32:
                check(ds.compression == "gzip" and ds.chunks is not None, f"{path_}: not chunked + gzip")
            for axis, name in enumerate(dims):
                check(ds.dims[axis].label == name, f"{path_}: axis {axis} label {ds.dims[axis].label!r}, expected {name!r}")
                check(len(ds.dims[axis]) == 1 and ds.dims[axis][0].name == "/" + name,
                      f"{path_}: axis {axis} has no dimension scale /{name}")
        for name in ["text/prompt", "text/generated"]:
            check(name in f and f[name].shape == (), f"{name} missing or not a scalar")
            check(f[name].attrs.get("description"), f"{name}: no description attribute")

        n, S, w = a["n_prompt"], a["n_decode"], a["n_window"]
        check(np.array_equal(f["position"][:], np.arange(n)), "/position is not 0..n-1")
        check(np.array_equal(f["step"][:], np.arange(S)), "/step is not 0..S-1")
        check(np.array_equal(f["window"][:], np.arange(n - w, n)), "/window is not the last w prompt positions")

        # Every dataset of at least one dimension carries dimension scales (or is one).
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.ndim >= 1 and not obj.is_scale:
                for axis in range(obj.ndim):
                    check(len(obj.dims[axis]) == 1, f"{name}: axis {axis} has no dimension scale")
            if isinstance(obj, h5py.Dataset):
                check(obj.attrs.get("description"), f"{name}: no description attribute")
        f.visititems(visit)

        tensors = {p: f[p][...] for p in layout}
        if span is not None:
            mask = np.zeros(n, dtype=np.uint8)
            mask[span[0]:span[1]] = 1
            check(np.array_equal(tensors["prompt/answer_span"], mask), f"prompt/answer_span is not exactly {span[0]}:{span[1]}")
            check(list(a["answer_span"]) == list(span), f"root answer_span {a['answer_span']}, expected {span}")
        print(f"h5py: {len(layout)} tensors with documented shapes and dimension names "
              f"(n={n}, S={S}, w={w}, layers={a['n_layers']})")
        return a, tensors, layout


def check_xarray(path, layout):
    groups = sorted({p.split("/")[0] for p in layout})
    for group in groups:
        with xr.open_dataset(path, engine="h5netcdf", group=group) as ds:
            for p, (dims, shape, _) in layout.items():
                if p.split("/")[0] != group:
                    continue
                var = ds[p.split("/")[1]]
                check(var.dims == dims, f"xarray {p}: dims {var.dims}, expected {dims}")
                check(var.shape == shape, f"xarray {p}: shape {var.shape}, expected {shape}")
    with xr.open_dataset(path, engine="h5netcdf") as root:
        for name in ["layer", "head", "kv_head", "position", "step", "window", "d_head"]:
            check(name in root.dims, f"xarray: root dimension {name!r} missing")
    print(f"xarray/h5netcdf: named dimensions in groups {groups}")


def recompute(a, t):
    """Importance [L, G, n] and attention [L, H, S, n] from the stored post-RoPE queries and keys (float64)."""
    L, H, G, d = a["n_layers"], a["n_heads"], a["n_kv_heads"], a["d_head"]
    n, S = a["n_prompt"], a["n_decode"]
    group = H // G
    q = t["decode/rot_q"].astype(np.float64)            # [L, H, S, d]
    kp = t["prompt/rot_k"].astype(np.float64)           # [L, G, n, d]
    kd = t["decode/rot_k"].astype(np.float64)           # [L, G, S, d]
    # Step s sees the prompt and steps 0..s (its own key included).
    visible = np.arange(n + S)[None, :] <= (n + np.arange(S))[:, None]   # [S, n+S]
    importance = np.zeros((L, G, n))
    attention = np.zeros((L, H, S, n))
    for l in range(L):
        for h in range(H):
            g = h // group
            keys = np.concatenate([kp[l, g], kd[l, g]], axis=0)          # [n+S, d]
            scores = q[l, h] @ keys.T / np.sqrt(d)                        # [S, n+S]
            scores = np.where(visible, scores, -np.inf)
            scores -= scores.max(axis=1, keepdims=True)
            p = np.exp(scores)
            p /= p.sum(axis=1, keepdims=True)
            attention[l, h] = p[:, :n]
            importance[l, g] += p[:, :n].mean(axis=0) / group
    return importance, attention


def copy_source(generated, prompt, minimum_run=2):
    """Longest run first: run[s, p] = how many tokens from generated s and prompt p match with every generated
    token still unaligned; take the longest (earliest s, then latest p on ties), align it, repeat."""
    generated, prompt = np.asarray(generated), np.asarray(prompt)
    S, n = len(generated), len(prompt)
    source = np.full(S, -1)
    equal = generated[:, None] == prompt[None, :]
    while True:
        free = source < 0
        run = np.zeros((S + 1, n + 1), dtype=np.int64)
        for s in range(S - 1, -1, -1):
            run[s, :n] = np.where(equal[s] & free[s], run[s + 1, 1:] + 1, 0)
        length = run[:S, :n].max() if S and n else 0
        if length < minimum_run:
            return source
        steps, positions = np.nonzero(run[:S, :n] == length)
        s = steps.min()
        p = positions[steps == s].max()
        source[s:s + length] = np.arange(p, p + length)


def retrieval_score(a, t, source):
    """[L, H]: the fraction of copying tokens whose choosing query (the last prompt query for token 0, step s-1
    for token s) has its largest attention weight (softmax over every key it sees) on the copied position."""
    L, H, G, d = a["n_layers"], a["n_heads"], a["n_kv_heads"], a["d_head"]
    n, S = a["n_prompt"], a["n_decode"]
    group = H // G
    kp = t["prompt/rot_k"].astype(np.float64)
    kd = t["decode/rot_k"].astype(np.float64)
    hits = np.zeros((L, H))
    copying = int((source >= 0).sum())
    for s in np.nonzero(source >= 0)[0]:
        for l in range(L):
            for h in range(H):
                g = h // group
                if s == 0:
                    q, keys = t["prompt/rot_q_window"][l, h, -1], kp[l, g]
                else:
                    q, keys = t["decode/rot_q"][l, h, s - 1], np.concatenate([kp[l, g], kd[l, g, :s]])
                scores = keys @ q.astype(np.float64) / np.sqrt(d)
                p = np.exp(scores - scores.max())
                hits[l, h] += int(np.argmax(p / p.sum()) == source[s])
    return hits / copying if copying else np.full((L, H), np.nan), copying


def close(name, stored, expected, rtol=1e-5, atol=1e-30):
    stored = stored.astype(np.float64)
    bad = ~np.isclose(stored, expected, rtol=rtol, atol=atol)
    if bad.any():
        i = np.unravel_index(np.argmax(bad), bad.shape)
        fail(f"{name}: {bad.sum()} of {bad.size} values differ beyond rtol {rtol}; first at {i}: "
             f"stored {stored[i]!r}, recomputed {expected[i]!r}")
    err = np.max(np.abs(stored - expected) / np.maximum(np.abs(expected), 1e-30))
    print(f"{name}: matches the NumPy recomputation (max relative error {err:.2e}, rtol {rtol})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--values", action="store_true", help="expect prompt/v")
    parser.add_argument("--attention", action="store_true", help="expect decode/attention")
    parser.add_argument("--span", help="expect prompt/answer_span START:END")
    args = parser.parse_args()
    span = tuple(int(x) for x in args.span.split(":")) if args.span else None
    a, tensors, layout = check_h5py(args.file, args.values, args.attention, span)
    check_xarray(args.file, layout)
    importance, attention = recompute(a, tensors)
    close("decode/importance", tensors["decode/importance"], importance)
    if args.attention:
        close("decode/attention", tensors["decode/attention"], attention)
        check(np.allclose(tensors["decode/attention"].astype(np.float64).mean(axis=2).reshape(
            a["n_layers"], a["n_kv_heads"], -1, a["n_prompt"]).mean(axis=2), importance, rtol=1e-5, atol=1e-30),
            "decode/attention averaged over steps and group heads is not decode/importance")
    source = copy_source(tensors["tokens/generated"], tensors["tokens/prompt"])
    check(np.array_equal(tensors["decode/copy_source"], source),
          f"decode/copy_source {tensors['decode/copy_source'].tolist()}, recomputed {source.tolist()}")
    score, copying = retrieval_score(a, tensors, source)
    check(a["copying_steps"] == copying, f"copying_steps {a['copying_steps']}, recomputed {copying}")
    stored = tensors["decode/retrieval_score"].astype(np.float64)
    check(np.array_equal(np.isnan(stored), np.isnan(score)) and np.allclose(np.nan_to_num(stored), np.nan_to_num(score), atol=1e-6),
          f"decode/retrieval_score differs from the NumPy recomputation by {np.nanmax(np.abs(stored - score))}")
    print(f"decode/copy_source, decode/retrieval_score: match the NumPy recomputation ({copying} copying steps, "
          f"{int((score > 0.1).sum())} heads above 0.1)")
    total = tensors["decode/importance"].sum(axis=-1)
    check(np.all(total <= 1 + 1e-5) and np.all(total > 0), "importance sums outside (0, 1]")
    print("capture OK")


if __name__ == "__main__":
    main()
