#!/usr/bin/env python3
"""Checks an ablation file written by `dapq-probe ablate` without any of our code: reads it with h5py and
xarray (engine h5netcdf), and recomputes with NumPy, from the stored tensors only (the ablation file's query
rows and keys, the capture files' prompt keys, true decoding queries and importance):
  - every variant's importance P (float64 softmax over the keys each row sees, restricted to the prompt);
  - every metric: top_k_recall, mass_recall [layer, kv_head, k], overlap [layer, kv_head], query_cosine
    [layer, head], against the capture's T = decode/importance;
  - the answer-level metrics where the capture has prompt/answer_span: span_recall [layer, kv_head, k],
    span_recall_layer_min [layer, k], span_recall_retrieval [k], with the retrieval heads recomputed from the
    captures' decode/retrieval_score (pooled, weighted by copying steps) and the file's retrieval_threshold;
  - the summary table (per prompt and across prompts, with the 95% t-intervals), read with pandas and xarray
    into str and int64 columns, and, for several captures, the aggregated root arrays;
  - no group attribute named like a dimension (the variants' `pseudo_content` / `pseudo_position`).
Every stored number must match to 1e-5. Run by Tests/ProbeTests/AblationTests.swift in .cache/venv-test.

usage: check_ablation.py ABLATION.h5 [--capture CAPTURE.h5 ...]
  --capture  capture files in the order of the ablation's prompts (default: the paths the file records)
Exit status 0 and a final line "ablation OK" when every check passes; otherwise a message and status 1.
"""
import argparse
import math

import h5py
import numpy as np
import pandas as pd
import xarray as xr

from checks import COMMON_ROOT_ATTRIBUTES, check, fail

TOLERANCE = 1e-5
ROOT_ATTRIBUTES = COMMON_ROOT_ATTRIBUTES + ["pseudo_count", "k_values", "n_prompts"]
METRICS = ["top_k_recall", "mass_recall", "overlap", "query_cosine"]
SPAN_METRICS = ["span_recall", "span_recall_layer_min", "span_recall_retrieval"]
# Student t 0.975 quantiles for 1..30 degrees of freedom; beyond, the Cornish-Fisher expansion (as the tool).
T_TABLE = [12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157,
           2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
           2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831,
           2.048407, 2.045230, 2.042272]


def close(name, stored, expected, tolerance=TOLERANCE):
    stored = np.asarray(stored, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    check(stored.shape == expected.shape, f"{name}: shape {stored.shape}, recomputed {expected.shape}")
    both_nan = np.isnan(stored) & np.isnan(expected)
    diff = np.where(both_nan, 0.0, np.abs(stored - expected))
    worst = float(np.nanmax(diff)) if diff.size else 0.0
    check(not np.isnan(diff).any() and worst <= tolerance,
          f"{name}: differs from the NumPy recomputation by {worst} (tolerance {tolerance})")
    return worst


def t975(df):
    if df <= len(T_TABLE):
        return T_TABLE[df - 1]
    z, v = 1.959964, float(df)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v * v)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3))


def mean_ci(values):
    values = np.asarray(values, dtype=np.float64)
    m = values.mean(axis=0)
    if values.shape[0] < 2:
        return m, np.full_like(m, np.nan)
    return m, t975(values.shape[0] - 1) * values.std(axis=0, ddof=1) / math.sqrt(values.shape[0])


def importance(rot_q, own_k, prompt_k, visible_prompt, visible_own):
    """P[l, g, j]: mean over rows and group heads of softmax(q.k/sqrt(d)) over the keys each row sees."""
    L, H, R, d = rot_q.shape
    G, n = prompt_k.shape[1], prompt_k.shape[2]
    gs = H // G
    mask = np.zeros((R, n + R), dtype=bool)
    for r in range(R):
        mask[r, :visible_prompt[r]] = True
        mask[r, n:n + visible_own[r]] = True
    out = np.zeros((L, G, n))
    for l in range(L):
        for g in range(G):
            keys = np.concatenate([prompt_k[l, g], own_k[l, g]]).astype(np.float64)
            q = rot_q[l, g * gs:(g + 1) * gs].astype(np.float64)
            s = np.where(mask, q @ keys.T / math.sqrt(d), -np.inf)
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            out[l, g] = s[..., :n].sum(axis=(0, 1)) / (R * gs)
    return out


def ranking(x):
    return np.argsort(-x, kind="stable")


def metrics(T, P, k_values, rot_q, true_q, cosine_rows):
    """top_k_recall, mass_recall [L, G, K], overlap [L, G], query_cosine [L, H] from the float32 arrays."""
    L, G, n = T.shape
    K = len(k_values)
    top, mass, over = np.zeros((L, G, K)), np.zeros((L, G, K)), np.zeros((L, G))
    for l in range(L):
        for g in range(G):
            t, p = T[l, g].astype(np.float64), P[l, g].astype(np.float64)
            rt, rp = ranking(T[l, g]), ranking(P[l, g])
            for i, k in enumerate(k_values):
                k = min(int(k), n)
                top[l, g, i] = len(set(rt[:k].tolist()) & set(rp[:k].tolist())) / k
                best = t[rt[:k]].sum()
                mass[l, g, i] = t[rp[:k]].sum() / best if best > 0 else 0.0
            over[l, g] = np.minimum(t / t.sum(), p / p.sum()).sum()
    c = int(cosine_rows)
    if c > 0:
        a = rot_q[:, :, :c].astype(np.float64)
        b = true_q[:, :, :c].astype(np.float64)
        cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
        cosine = cos.mean(axis=-1)
    else:
        cosine = np.full(rot_q.shape[:2], np.nan)
    return {"top_k_recall": top, "mass_recall": mass, "overlap": over, "query_cosine": cosine}


def span_metrics(P, span, k_values, retrieval_kv_heads):
    """span_recall [L, G, K], its minimum over KV heads [L, K] and its mean over the retrieval KV heads [K]."""
    L, G, n = P.shape
    size = int(span.sum())
    recall = np.zeros((L, G, len(k_values)))
    for l in range(L):
        for g in range(G):
            r = ranking(P[l, g])
            for i, k in enumerate(k_values):
                recall[l, g, i] = span[r[:min(int(k), n)]].sum() / size if size else np.nan
    heads = retrieval_kv_heads.astype(bool)
    retrieval = recall[heads].mean(axis=0) if heads.any() else np.full(len(k_values), np.nan)
    return {"span_recall": recall, "span_recall_layer_min": recall.min(axis=1), "span_recall_retrieval": retrieval}


def retrieval_heads(captures, threshold, n_heads, n_kv_heads):
    """The captures' retrieval scores pooled (weighted by copying steps) and the KV heads with a query head above
    the threshold."""
    total, weight = None, 0
    for path in captures:
        with h5py.File(path, "r") as c:
            if "decode/retrieval_score" not in c or int(c.attrs.get("copying_steps", 0)) == 0:
                continue
            w = int(c.attrs["copying_steps"])
            score = c["decode/retrieval_score"][...].astype(np.float64)
        total = w * score if total is None else total + w * score
        weight += w
    if total is None:
        return None, None, 0
    pooled = total / weight
    L = pooled.shape[0]
    kv = (pooled.reshape(L, n_kv_heads, n_heads // n_kv_heads) > threshold).any(axis=-1)
    return pooled, kv, weight


def check_unit(f, prefix, capture_path, k_values, report):
    """One prompt's variants (at the root, or under prompts/<i>/); returns its per-variant metric arrays."""
    unit = f[prefix] if prefix else f
    with h5py.File(capture_path, "r") as c:
        check(c.attrs["schema"] == "dapq-probe/capture", f"{capture_path}: not a capture")
        prompt_k = c["prompt/rot_k"][...]
        true_q = c["decode/rot_q"][...]
        true_k = c["decode/rot_k"][...]
        T = c["decode/importance"][...]
        n, S = int(c.attrs["n_prompt"]), int(c.attrs["n_decode"])
        span = c["prompt/answer_span"][...].astype(bool) if "prompt/answer_span" in c else None
    retrieval_kv_heads = f["retrieval_kv_heads"][...]
    report["spans"] += span is not None
    check(int(unit.attrs.get("n_prompt", f.attrs["n_prompt"])) == n, f"{prefix or '/'}: n_prompt differs from the capture's")
    variants = unit["variants"]
    check("truth" in variants and "window" in variants and "lookahead" in variants, f"{prefix or '/'}: a reference is missing")
    results = {}
    dimensions = {name for name, obj in f.items() if isinstance(obj, h5py.Dataset) and obj.is_scale}
    for name, group in variants.items():
        where = f"{prefix}variants/{name}"
        clashes = sorted(set(group.attrs) & dimensions)
        check(not clashes, f"{where}: attributes named like a dimension: {clashes}")
        check("pseudo_content" in group.attrs and "pseudo_position" in group.attrs, f"{where}: pseudo_content/pseudo_position missing")
        stored_p = group["importance"][...]
        check(stored_p.dtype == np.float32, f"{where}/importance is not float32")
        check(stored_p.shape[-1] >= n and np.isnan(stored_p[..., n:]).all(), f"{where}/importance: padding past n is not NaN")
        P = stored_p[..., :n]
        if name == "truth":
            check("rot_q" not in group, f"{where}: truth stores no queries (they are the capture's)")
            rot_q, own_k = true_q, true_k
            vp, vo = np.full(S, n), np.arange(1, S + 1)
        else:
            rot_q, own_k = group["rot_q"][...], group["rot_k"][...]
            vp, vo = group["visible_prompt"][...], group["visible_own"][...]
            R = rot_q.shape[2]
            check(group["tokens"].shape == (R,) and group["positions"].shape == (R,), f"{where}: tokens/positions shape")
            if group.attrs["kind"] == "pseudo":
                check((vp == n).all() and (vo == np.arange(1, R + 1)).all(), f"{where}: pseudo rows must see the prompt and themselves causally")
            if name == "window":
                check((group["positions"][...] == np.arange(n - R, n)).all(), f"{where}: window rows are not the last prompt positions")
                check((vp == group["positions"][...] + 1).all() and (vo == 0).all(), f"{where}: window rows must see the prompt causally")
        recomputed = importance(rot_q, own_k, prompt_k, vp, vo)
        worst = close(f"{where}/importance", P, recomputed, tolerance=1e-6)
        report["importance"] = max(report["importance"], worst)
        expected = metrics(T, P, k_values, rot_q, true_q, group.attrs["query_cosine_rows"])
        for metric in METRICS:
            ds = group[metric]
            dims = tuple(d.label for d in ds.dims)
            want = ("layer", "head") if metric == "query_cosine" else ("layer", "kv_head") if metric == "overlap" else ("layer", "kv_head", "k")
            check(dims == want, f"{where}/{metric}: dimensions {dims}, expected {want}")
            report["metrics"] = max(report["metrics"], close(f"{where}/{metric}", ds[...], expected[metric]))
        if span is None:
            for metric in SPAN_METRICS:
                check(metric not in group, f"{where}/{metric} present though the capture has no answer span")
        else:
            expected.update(span_metrics(P, span, k_values, retrieval_kv_heads))
            for metric, want in zip(SPAN_METRICS, [("layer", "kv_head", "k"), ("layer", "k"), ("k",)]):
                ds = group[metric]
                dims = tuple(d.label for d in ds.dims)
                check(dims == want, f"{where}/{metric}: dimensions {dims}, expected {want}")
                check(ds.attrs.get("description"), f"{where}/{metric}: no description")
                report["span"] = max(report["span"], close(f"{where}/{metric}", ds[...], expected[metric]))
        if name == "truth":
            check((group["top_k_recall"][...] == 1).all() and (group["mass_recall"][...] == 1).all(),
                  f"{where}: truth recall is not exactly 1")
            report["truth_vs_capture"] = max(report["truth_vs_capture"], float(np.abs(P - T).max()))
        results[name] = expected
    return results


SUMMARY_SPAN = {"span_recall": "span_recall", "span_recall_retrieval": "span_recall_retrieval",
                "span_recall_layer_min": "span_recall_layer_min"}


def span_summary(m, ki):
    """The summary's span columns of one prompt's variant at budget index ki (NaN without a span)."""
    if "span_recall" not in m:
        return {c: np.nan for c in SUMMARY_SPAN}
    return {"span_recall": m["span_recall"][..., ki].mean(), "span_recall_retrieval": m["span_recall_retrieval"][ki],
            "span_recall_layer_min": m["span_recall_layer_min"][:, ki].mean()}


SUMMARY_STRINGS = ["capture", "variant", "pseudo_content", "pseudo_position", "kind", "k_rule"]
SUMMARY_INTS = ["prompt_index", "k", "k_used", "n_prompts", "span_prompts"]


def summary_frame(f, path):
    """The summary as a pandas DataFrame straight from the file: one 1-D dataset per column under `summary/` over
    the dimension `summary_row`; string columns come out as str (h5py asstr), integer columns as int64. xarray
    (h5netcdf) reads the same group as a Dataset whose DataFrame has str columns without any decoding."""
    group = f["summary"]
    check(isinstance(group, h5py.Group), "summary is not a group of column datasets (schema 3)")
    frame = pd.DataFrame({name: column.asstr()[...] if h5py.check_string_dtype(column.dtype) else column[...]
                          for name, column in group.items()})
    for name, column in group.items():
        check(column.ndim == 1 and tuple(d.label for d in column.dims) == ("summary_row",),
              f"summary/{name}: not 1-D over summary_row")
    for column in SUMMARY_STRINGS:
        check(all(type(v) is str for v in frame[column]), f"summary/{column}: pandas does not read str")
    for column in SUMMARY_INTS:
        check(frame[column].dtype == np.int64, f"summary/{column}: {frame[column].dtype}, expected int64")
    with xr.open_dataset(path, engine="h5netcdf", group="summary") as ds:
        table = ds.to_dataframe()
        for column in SUMMARY_STRINGS:
            check(all(type(v) is str for v in table[column]), f"xarray summary/{column}: not str")
        check(len(table) == len(frame), "xarray and h5py read summary tables of different lengths")
    return frame


def check_summary(f, path, per_prompt, k_values, names):
    frame = summary_frame(f, path)
    for column in SUMMARY_STRINGS + SUMMARY_INTS + METRICS + [m + "_ci95" for m in METRICS] + list(SUMMARY_SPAN) + \
            [m + "_ci95" for m in SUMMARY_SPAN]:
        check(column in frame.columns, f"summary: column {column} missing")
    rows = frame.to_dict("records")

    def text(x):
        return x

    checked = 0
    for row in rows:
        variant, rule, pi = text(row["variant"]), text(row["k_rule"]), int(row["prompt_index"])
        k = int(row["k"])
        if pi >= 0:
            m, headline = per_prompt[pi][0][variant], per_prompt[pi][1]
            ki = headline if rule == "3%" else k_values.index(k)
            check(k == k_values[ki], f"summary: prompt {pi} {variant} {rule}: k {k}, expected {k_values[ki]}")
            expected = {"top_k_recall": m["top_k_recall"][..., ki].mean(), "mass_recall": m["mass_recall"][..., ki].mean(),
                        "overlap": m["overlap"].mean(), "query_cosine": m["query_cosine"].mean()}
            expected.update(span_summary(m, ki))
            for metric in METRICS + list(SUMMARY_SPAN):
                close(f"summary[{pi}, {variant}, {rule}, k={k}].{metric}", row[metric], expected[metric])
            check(int(row["span_prompts"]) == int("span_recall" in m), f"summary[{pi}, {variant}]: span_prompts")
        else:
            values = {metric: [] for metric in METRICS}
            for m, headline in per_prompt:
                ki = headline if rule == "3%" else k_values.index(k)
                values["top_k_recall"].append(m[variant]["top_k_recall"][..., ki].mean())
                values["mass_recall"].append(m[variant]["mass_recall"][..., ki].mean())
                values["overlap"].append(m[variant]["overlap"].mean())
                values["query_cosine"].append(m[variant]["query_cosine"].mean())
            check(int(row["n_prompts"]) == len(per_prompt), "summary: n_prompts of an 'all' row")
            for metric in METRICS:
                mean, ci = mean_ci(values[metric])
                close(f"summary[all, {variant}, {rule}, k={k}].{metric}", row[metric], mean)
                close(f"summary[all, {variant}, {rule}, k={k}].{metric}_ci95", row[metric + "_ci95"], ci)
            spans = [span_summary(m[variant], headline if rule == "3%" else k_values.index(k))
                     for m, headline in per_prompt if "span_recall" in m[variant]]
            check(int(row["span_prompts"]) == len(spans), f"summary[all, {variant}]: span_prompts {row['span_prompts']}, expected {len(spans)}")
            for metric in SUMMARY_SPAN:
                mean, ci = mean_ci([x[metric] for x in spans]) if spans else (np.nan, np.nan)
                close(f"summary[all, {variant}, {rule}, k={k}].{metric}", row[metric], mean)
                close(f"summary[all, {variant}, {rule}, k={k}].{metric}_ci95", row[metric + "_ci95"], ci)
        checked += 1
    expected_rows = len(names) * (len(k_values) + 1) * (len(per_prompt) + 1)
    check(checked == expected_rows, f"summary has {checked} rows, expected {expected_rows}")
    return checked


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ablation")
    parser.add_argument("--capture", action="append", default=None)
    args = parser.parse_args()

    with h5py.File(args.ablation, "r") as f:
        a = dict(f.attrs)
        for name in ROOT_ATTRIBUTES:
            check(name in a, f"root attribute {name!r} missing")
        check(a["schema"] == "dapq-probe/ablation", f"schema is {a['schema']!r}")
        check(int(a["complete"]) == 1, "complete is not 1")
        check(len(a["model_sha256"]) == 64, "model_sha256 is not 64 hex digits")
        k_values = [int(k) for k in np.atleast_1d(a["k_values"])]
        check(list(f["k"][...]) == k_values, "the k dimension differs from k_values")
        captures = [c.decode() if isinstance(c, bytes) else c for c in f["captures"][...]]
        if args.capture:
            check(len(args.capture) == len(captures), f"{len(args.capture)} captures given, the file has {len(captures)}")
            captures = args.capture
        m = int(a["n_prompts"])
        check(len(captures) == m, "captures and n_prompts disagree")
        report = {"importance": 0.0, "metrics": 0.0, "truth_vs_capture": 0.0, "span": 0.0, "spans": 0}
        # The retrieval heads, from the captures alone.
        L, H, G = f["retrieval_score"].shape[0], f["retrieval_score"].shape[1], f["retrieval_kv_heads"].shape[1]
        pooled, kv, weight = retrieval_heads(captures, float(a["retrieval_threshold"]), H, G)
        check(int(a["retrieval_copying_steps"]) == weight, f"retrieval_copying_steps {a['retrieval_copying_steps']}, recomputed {weight}")
        if pooled is None:
            check(np.isnan(f["retrieval_score"][...]).all() and not f["retrieval_kv_heads"][...].any(),
                  "retrieval_score/retrieval_kv_heads given though no capture copies")
        else:
            close("retrieval_score", f["retrieval_score"][...], pooled)
            check(np.array_equal(f["retrieval_kv_heads"][...].astype(bool), kv), "retrieval_kv_heads differ from the recomputation")
        for name in ["retrieval_score", "retrieval_kv_heads"]:
            check(tuple(d.label for d in f[name].dims) == ("layer", "head" if name == "retrieval_score" else "kv_head"),
                  f"{name}: dimension names")
        per_prompt = []
        for i, capture in enumerate(captures):
            prefix = "" if m == 1 else f"prompts/{i:03d}/"
            unit = f[prefix] if prefix else f
            headline = int(unit.attrs["headline_k_index"])
            n = int(unit.attrs.get("n_prompt", a["n_prompt"]))
            # The headline budget: the listed k (clipped to n) nearest 3% of n, the smaller on ties.
            target = min(n, max(1, math.floor(float(a["headline_fraction"]) * n + 0.5)))  # rounded half up, as budgets
            distances = [abs(min(k, n) - target) for k in k_values]
            best = min(range(len(k_values)), key=lambda j: (distances[j], min(k_values[j], n)))
            check(headline == best, f"{prefix or '/'}: headline_k_index {headline}, expected {best}")
            per_prompt.append((check_unit(f, prefix, capture, k_values, report), headline))
        names = list(per_prompt[0][0].keys())
        if m > 1:
            for name in names:
                for metric in METRICS:
                    mean, ci = mean_ci([p[0][name][metric] for p in per_prompt])
                    report["metrics"] = max(report["metrics"], close(f"variants/{name}/{metric}", f[f"variants/{name}/{metric}"][...], mean))
                    close(f"variants/{name}/{metric}_ci95", f[f"variants/{name}/{metric}_ci95"][...], ci)
                with_span = [p[0][name] for p in per_prompt if "span_recall" in p[0][name]]
                for metric in SPAN_METRICS:
                    if not with_span:
                        check(f"variants/{name}/{metric}" not in f, f"variants/{name}/{metric} present without spans")
                        continue
                    mean, ci = mean_ci([x[metric] for x in with_span])
                    report["span"] = max(report["span"], close(f"variants/{name}/{metric}", f[f"variants/{name}/{metric}"][...], mean))
                    close(f"variants/{name}/{metric}_ci95", f[f"variants/{name}/{metric}_ci95"][...], ci)
        rows = check_summary(f, args.ablation, per_prompt, k_values, names)
        dims = tuple(d.label for d in f[("" if m == 1 else "prompts/000/") + "variants/truth/importance"].dims)
        check(dims == ("layer", "kv_head", "position"), f"importance dimensions {dims}")

    # xarray through h5netcdf: named dimensions on a variant group.
    group = ("" if m == 1 else "prompts/000/") + f"variants/{names[0]}"
    ds = xr.open_dataset(args.ablation, engine="h5netcdf", group=group, phony_dims="access")
    check(ds["importance"].dims == ("layer", "kv_head", "position"), f"xarray importance dims {ds['importance'].dims}")
    check(ds["mass_recall"].dims == ("layer", "kv_head", "k"), f"xarray mass_recall dims {ds['mass_recall'].dims}")
    ds.close()

    print(f"importance: {len(names)} variants x {m} prompt(s) match the NumPy recomputation (max |diff| {report['importance']:.2e})")
    print(f"metrics: match the NumPy recomputation (max |diff| {report['metrics']:.2e})")
    print(f"truth: recall 1 exactly; importance vs the capture's decode/importance max |diff| {report['truth_vs_capture']:.2e}")
    print(f"span metrics: {report['spans']} prompt(s) with an answer span match the NumPy "
          f"recomputation (max |diff| {report['span']:.2e}); {int(kv.sum()) if kv is not None else 0} retrieval KV heads")
    print(f"summary: {rows} rows match")
    print("ablation OK")


if __name__ == "__main__":
    main()
