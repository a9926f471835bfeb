#!/usr/bin/env python3
"""Which attention measurement predicts answers? Joins ablation cells with evaluation cells of the same prompts,
policies and budgets, and reports per model how well each measurement ranks the answers (h5py, NumPy, csv only).

The join, one row per (prompt, policy, budget):
  - prompt: the ablation's `summary/capture` is a capture's file name; captures made from `niah`/`ruler
    --save-prompts DIR` prompts are named after their unit (`niah_L2000_d50.h5`, `niah_single_2_L2000_s7.h5`), which
    gives (task, length, depth or sample) of the evaluation rows.
  - policy: ablation variant `<content>_<position>` <-> `dapq[content=<content>,position=<position>]` (a bare `dapq`, or
    a cell that leaves a key out, takes the eval file's `pseudo_content`/`pseudo_position` settings; from a CSV, the
    defaults prefix+suffix and future); `window` <-> `snapkv`, `lookahead` <-> `laq`, `truth` <-> `oracle`.
  - budget: the ablation's k (k_rule `fixed`) equal to the evaluation's budget B.
  - model: an eval HDF5 joins the ablation files of the same model (`model_sha256`); a CSV, which names no model, joins
    every ablation file given.
Measurements (means over layers and KV heads, from the summary table): `mass_recall`, `top_k_recall`, `overlap`, and
every `span_recall*` column the file carries (span recall over all heads, over retrieval heads, the per-layer minimum;
written by newer ablation files, optional). From the eval file itself (schema 3), what the cut cache really held of the
answer's span: `kept_span_recall` and `kept_span_layer_min` (its `span_recall`, `span_recall_layer_min`), and with
`--retrieval-heads CSV` (`ablation_summary.py --retrieval` of the same model) `kept_span_retrieval` and
`kept_span_other`, the mean of its `span_recall_heads` over the retrieval KV heads and over the rest. Without
`--ablation` only these are reported, over every compressed cell of the eval files (every policy, no join).
Statistics per model and placement, over all joined cells and per budget: Spearman's rank correlation of each
measurement with the score, and ROC AUC of the measurement for exact answers (score == 1 against < 1; ties count
half), each with a 95% percentile bootstrap interval that resamples prompts (cells of one prompt stay together;
`--bootstrap` resamples, `--seed` seeds them). NaN where a statistic is undefined (a constant column, one class).

usage: predict_answers.py [--ablation A.h5 …] --eval E.h5|E.csv [E2 …] [--placement inside|outside|any]
                          [--retrieval-heads retrieval_heads.csv] [--out FILE.csv] [--joined FILE.csv]
                          [--bootstrap 1000] [--seed 0]
"""
import argparse
import csv
import json
import math
import os
import re
import sys

import h5py
import numpy as np
from eval_table import retrieval_kv_heads
from h5input import read_summary, summary_rows

REFERENCES = {"window": "snapkv", "lookahead": "laq", "truth": "oracle"}
BASE_METRICS = ["mass_recall", "top_k_recall", "overlap"]
# The eval file's own columns: what the cut cache held of the answer's span.
KEPT_METRICS = {"kept_span_recall": "span_recall", "kept_span_layer_min": "span_recall_layer_min"}
# ... and from its per-head `span_recall_heads`, over the retrieval KV heads and over the others (--retrieval-heads).
HEAD_METRICS = ["kept_span_retrieval", "kept_span_other"]
UNIT = re.compile(r"^(?P<task>.+?)_L(?P<length>\d+)_(?:d(?P<depth>\d+(?:\.\d+)?)|s(?P<sample>\d+))$")
DEFAULT_CELL = {"pseudo_content": "prefix+suffix", "pseudo_position": "future"}


def text(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def unit_key(task, length, depth, sample):
    """(task, length, depth or None, sample or -1): the same for an ablation prompt and an evaluation row."""
    d = None if depth is None or (isinstance(depth, float) and math.isnan(depth)) or depth == "" else float(depth)
    return (task, int(length), d, -1 if d is not None else int(sample))


def prompt_unit(prompt):
    """The evaluation unit a capture's file name names, or None."""
    m = UNIT.match(os.path.splitext(os.path.basename(prompt))[0])
    if not m:
        return None
    return unit_key(m["task"], m["length"], m["depth"], m["sample"] if m["sample"] is not None else -1)


def cell_policy(policy, settings):
    """An evaluation policy as the name its ablation variant maps to: dapq cells made explicit."""
    if policy != "dapq" and not policy.startswith("dapq["):
        return policy
    keys = dict(part.split("=", 1) for part in policy[5:-1].split(",") if "=" in part) if policy.startswith("dapq[") else {}
    content = keys.get("content", settings.get("pseudo_content", DEFAULT_CELL["pseudo_content"]))
    position = keys.get("position", settings.get("pseudo_position", DEFAULT_CELL["pseudo_position"]))
    return f"dapq[content={content},position={position}]"


def variant_policy(variant, content, position):
    if variant in REFERENCES:
        return REFERENCES[variant]
    return f"dapq[content={content},position={position}]" if content and position else None


def read_ablation(path):
    """(model sha256, model name, {(unit, policy, k): {metric: value}}, metric names)."""
    with h5py.File(path, "r") as f:
        if text(f.attrs.get("schema", "")) != "dapq-probe/ablation" or int(f.attrs.get("complete", 0)) != 1:
            raise SystemExit(f"{path}: not a complete dapq-probe ablation file")
        table = summary_rows(f)
        names = list(read_summary(f))
        sha, model = text(f.attrs["model_sha256"]), os.path.basename(text(f.attrs["model_path"]))
    metrics = BASE_METRICS + [n for n in names if n.startswith("span_recall") and not n.endswith("_ci95")]
    cells, unnamed = {}, set()
    for r in table:
        if int(r["prompt_index"]) < 0 or text(r["k_rule"]) != "fixed":
            continue
        unit = prompt_unit(r["capture"])
        if unit is None:
            unnamed.add(r["capture"])
            continue
        policy = variant_policy(r["variant"], r["pseudo_content"], r["pseudo_position"])
        if policy is not None:
            cells[(unit, policy, int(r["k"]))] = {m: float(r[m]) for m in metrics}
    if unnamed:
        print(f"{path}: {len(unnamed)} prompts not named after an evaluation unit, left out (e.g. {sorted(unnamed)[0]})",
              file=sys.stderr)
    return sha, model, cells, metrics


def read_eval(path, heads=None):
    """(model sha256 or None, model file name or None, rows as dicts with unit, policy, placement, budget, score and
    the kept-span measurements where the file has them)."""
    if path.endswith(".csv"):
        with open(path, newline="") as handle:
            raw = list(csv.DictReader(line for line in handle if not line.startswith("#")))
        settings, sha, model = {}, None, None
        columns = {k: [r[k] for r in raw] for k in (raw[0].keys() if raw else [])}
    else:
        with h5py.File(path, "r") as f:
            if text(f.attrs.get("schema", "")) != "dapq-probe/eval" or int(f.attrs.get("complete", 0)) != 1:
                raise SystemExit(f"{path}: not a complete dapq-probe eval file")
            settings = json.loads(text(f.attrs["grid"])).get("settings", {})
            sha = text(f.attrs["model_sha256"])
            model = os.path.basename(text(f.attrs["model_path"])) if "model_path" in f.attrs else None
            columns = {name: [text(v) if isinstance(v, bytes) else v for v in f["cells/" + name][()]] for name in f["cells"]}
            if heads and "span_recall_heads" in f:
                per_head = f["span_recall_heads"][()]
                mask = np.zeros(per_head.shape[1:], dtype=bool)
                for layer, kv_head in heads:
                    if layer >= mask.shape[0] or kv_head >= mask.shape[1]:
                        raise SystemExit(f"{path}: retrieval head ({layer}, {kv_head}) outside its {mask.shape} layers x KV heads")
                    mask[layer, kv_head] = True
                columns["kept_span_retrieval"] = list(per_head[:, mask].mean(axis=1))
                columns["kept_span_other"] = list(per_head[:, ~mask].mean(axis=1)) if (~mask).any() else [float("nan")] * len(per_head)
    missing = [c for c in ("task", "length", "depth", "sample", "policy", "budget", "score") if c not in columns]
    if missing:
        raise SystemExit(f"{path}: no column {', '.join(missing)}")
    rows = []
    for i in range(len(columns["task"])):
        depth = columns["depth"][i]
        depth = None if depth in ("", None) or (isinstance(depth, float) and math.isnan(depth)) else float(depth)
        rows.append({"unit": unit_key(columns["task"][i], columns["length"][i], depth, columns["sample"][i]),
                     "policy": cell_policy(columns["policy"][i], settings),
                     "placement": columns["placement"][i] if "placement" in columns else "inside",
                     "budget": int(columns["budget"][i]), "score": float(columns["score"][i]),
                     **{name: number_or_nan(columns[column][i]) for name, column in KEPT_METRICS.items() if column in columns},
                     **{name: number_or_nan(columns[name][i]) for name in HEAD_METRICS if name in columns}})
    return sha, model, rows


def number_or_nan(value):
    return float("nan") if value in ("", None) else float(value)


def ranks(x):
    """Average ranks (1-based), ties sharing their mean rank."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x))
    sorted_x = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(x, y):
    rx, ry = ranks(x), ranks(y)
    if len(rx) < 2 or rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def auc(x, positive):
    """P(x of an exact answer > x of an inexact one), ties half: the Mann-Whitney form of the ROC AUC."""
    positive = np.asarray(positive, dtype=bool)
    p, q = int(positive.sum()), int((~positive).sum())
    if p == 0 or q == 0:
        return float("nan")
    r = ranks(x)
    return float((r[positive].sum() - p * (p + 1) / 2) / (p * q))


def interval(stat, values, groups, draws, rng):
    """95% percentile interval of `stat` over bootstrap resamples of the groups (prompts)."""
    ids = sorted(set(groups))
    members = {g: np.flatnonzero(np.asarray([h == g for h in groups])) for g in ids}
    estimates = []
    for _ in range(draws):
        pick = np.concatenate([members[ids[k]] for k in rng.integers(0, len(ids), len(ids))])
        s = stat(*(v[pick] for v in values))
        if not math.isnan(s):
            estimates.append(s)
    if len(estimates) < max(10, draws // 2):
        return float("nan"), float("nan")
    return float(np.percentile(estimates, 2.5)), float(np.percentile(estimates, 97.5))


def report(joined, metrics, draws, seed):
    """Rows of the result table: per model, placement, subset (all, each budget) and measurement."""
    out = []
    keys = sorted({(j["model"], j["placement"]) for j in joined})
    for model, placement in keys:
        cells = [j for j in joined if j["model"] == model and j["placement"] == placement]
        subsets = [("all", cells)] + [(f"budget={b}", [j for j in cells if j["budget"] == b])
                                      for b in sorted({j["budget"] for j in cells})]
        for subset, chosen in subsets:
            score = np.array([j["score"] for j in chosen])
            exact = score == 1
            groups = [j["unit"] for j in chosen]
            for metric in metrics:
                x = np.array([j.get(metric, float("nan")) for j in chosen])
                keep = ~np.isnan(x)
                if not keep.any():
                    continue
                xs, ys, es, gs = x[keep], score[keep], exact[keep], [g for g, k in zip(groups, keep) if k]
                rng = np.random.default_rng(seed)
                rho = spearman(xs, ys)
                rho_lo, rho_hi = interval(spearman, (xs, ys), gs, draws, rng)
                rng = np.random.default_rng(seed)
                area = auc(xs, es)
                auc_lo, auc_hi = interval(auc, (xs, es), gs, draws, rng)
                out.append({"model": model, "placement": placement, "subset": subset, "measurement": metric,
                            "cells": int(keep.sum()), "prompts": len(set(gs)), "exact": int(es.sum()),
                            "spearman": rho, "spearman_lo": rho_lo, "spearman_hi": rho_hi,
                            "auc": area, "auc_lo": auc_lo, "auc_hi": auc_hi})
    return out


def join(ablations, evals, placement):
    joined, metrics = [], []
    for sha, model, cells, names in ablations:
        metrics += [m for m in names if m not in metrics]
        for eval_sha, _, rows in evals:
            if eval_sha is not None and eval_sha != sha:
                continue
            for r in rows:
                if placement != "any" and r["placement"] != placement:
                    continue
                found = cells.get((r["unit"], r["policy"], r["budget"]))
                if found is not None:
                    joined.append({**r, "model": model, **found})
    metrics += [m for m in list(KEPT_METRICS) + HEAD_METRICS if any(m in j for j in joined)]
    return joined, metrics


def eval_cells(evals, placement):
    """Every compressed cell of the eval files (no join), with the kept-span measurements."""
    cells = [{**r, "model": model or "model"} for _, model, rows in evals for r in rows
             if r["policy"] != "full" and (placement == "any" or r["placement"] == placement)]
    return cells, [m for m in list(KEPT_METRICS) + HEAD_METRICS if any(m in c for c in cells)]


def number(v):
    return "" if isinstance(v, float) and math.isnan(v) else (f"{v:.4f}" if isinstance(v, float) else v)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ablation", nargs="+", default=[])
    parser.add_argument("--eval", nargs="+", required=True)
    parser.add_argument("--placement", default="inside", choices=["inside", "outside", "any"])
    parser.add_argument("--retrieval-heads", help="retrieval_heads.csv of the same model: kept span over those KV heads")
    parser.add_argument("--out", help="the result table (CSV)")
    parser.add_argument("--joined", help="the joined cells (CSV)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    ablations = [read_ablation(p) for p in args.ablation]
    heads = retrieval_kv_heads(args.retrieval_heads) if args.retrieval_heads else None
    evals = [read_eval(p, heads) for p in args.eval]
    joined, metrics = join(ablations, evals, args.placement) if ablations else eval_cells(evals, args.placement)
    if not joined:
        raise SystemExit("no evaluation cell matches an ablation cell (same prompt, policy, budget = k, model, placement)"
                         if ablations else "no compressed evaluation cell (placement?)")
    if not metrics:
        raise SystemExit("no measurement: give --ablation, or eval files with span columns (schema 3)")
    rows = report(joined, metrics, args.bootstrap, args.seed)
    columns = ["model", "placement", "subset", "measurement", "cells", "prompts", "exact", "spearman", "spearman_lo",
               "spearman_hi", "auc", "auc_lo", "auc_hi"]
    if args.out:
        with open(args.out, "w", newline="") as handle:
            handle.write("# notebooks-data/predict_answers.py " + " ".join(argv if argv is not None else sys.argv[1:]) + "\n")
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for r in rows:
                writer.writerow({k: number(v) for k, v in r.items()})
    if args.joined:
        with open(args.joined, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["model", "unit", "policy", "budget", "placement", "score"] + metrics)
            writer.writeheader()
            for j in joined:
                writer.writerow({**{k: number(j.get(k, float("nan"))) for k in metrics},
                                 "model": j["model"], "unit": "/".join("" if v is None else str(v) for v in j["unit"]),
                                 "policy": j["policy"], "budget": j["budget"], "placement": j["placement"], "score": j["score"]})
    print(f"{len(joined)} {'joined' if ablations else 'compressed'} cells")
    print(f"{'model':28} {'placement':9} {'subset':11} {'measurement':22} {'cells':>5}  {'Spearman [95%]':>24}  {'AUC exact [95%]':>24}")
    for r in rows:
        print(f"{r['model'][:28]:28} {r['placement']:9} {r['subset']:11} {r['measurement']:22} {r['cells']:5d}  "
              f"{r['spearman']:7.3f} [{r['spearman_lo']:6.3f}, {r['spearman_hi']:6.3f}]  "
              f"{r['auc']:7.3f} [{r['auc_lo']:6.3f}, {r['auc_hi']:6.3f}]")
    return rows


if __name__ == "__main__":
    main()
