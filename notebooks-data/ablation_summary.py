#!/usr/bin/env python3
"""Small CSV tables from an ablation file written by `dapq-probe ablate` (h5py and NumPy only).

  --out FILE.csv        the headline table: for each subset of prompts (all, niah*, instruction*, and each prompt
                        alone) and each variant, the mean over layers and KV heads at the headline budget (each
                        prompt's k nearest 3% of n) of attention-mass recall, top-k recall, overlap and query
                        cosine, averaged over the subset's prompts with 95% t-interval half-widths; the answer-
                        level span recall (all KV heads, retrieval KV heads, mean of the layer minima) averaged
                        over the subset's prompts that have an answer span (span_prompts; empty when none); plus
                        the 'all' rows at every fixed budget k.
  --by-layer FILE.csv   per layer: mass recall at the headline budget averaged over KV heads and prompts, for each
                        position (averaged over contents), each content (averaged over positions) and the references.
  --retrieval FILE.csv  per layer and query head: the pooled retrieval score and whether its KV head counts as a
                        retrieval head (above the run's retrieval_threshold), strongest first.
Lines starting with '#' hold the command that made the file (read with pandas.read_csv(path, comment="#")).

usage: ablation_summary.py ABLATION.h5 --out FILE.csv [--by-layer FILE.csv] [--retrieval FILE.csv] [--command TEXT]
"""
import argparse
import csv
import fnmatch
import math
import os

import h5py
import numpy as np
from h5input import summary_rows

METRICS = ["mass_recall", "top_k_recall", "overlap", "query_cosine"]
SPAN_METRICS = ["span_recall", "span_recall_retrieval", "span_recall_layer_min"]
T_TABLE = [12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157,
           2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
           2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831,
           2.048407, 2.045230, 2.042272]


def text(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def mean_ci(values):
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return float(values.mean()), float("nan")
    df = len(values) - 1
    t = T_TABLE[df - 1] if df <= len(T_TABLE) else 1.959964 + (1.959964**3 + 1.959964) / (4 * df)
    return float(values.mean()), float(t * values.std(ddof=1) / math.sqrt(len(values)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ablation")
    parser.add_argument("--out", required=True)
    parser.add_argument("--by-layer")
    parser.add_argument("--retrieval")
    parser.add_argument("--command", default=None, help="the command to record (default: this script's command line)")
    args = parser.parse_args()
    command = args.command or "notebooks-data/ablation_summary.py " + " ".join(
        [args.ablation, "--out", args.out] + (["--by-layer", args.by_layer] if args.by_layer else [])
        + (["--retrieval", args.retrieval] if args.retrieval else []))

    with h5py.File(args.ablation, "r") as f:
        if text(f.attrs["schema"]) != "dapq-probe/ablation" or int(f.attrs["complete"]) != 1:
            raise SystemExit(f"{args.ablation}: not a complete ablation file")
        header = [f"# {command}",
                  f"# ablation command: {text(f.attrs['command_line'])}",
                  f"# model {os.path.basename(text(f.attrs['model_path']))} (sha256 {text(f.attrs['model_sha256'])[:16]}...), "
                  f"w {int(f.attrs.get('pseudo_count', f.attrs.get('window')))}, far offset {int(f.attrs['far_offset'])}, prefix count "
                  f"{int(f.attrs['prefix_count'])}, k values {[int(k) for k in np.atleast_1d(f.attrs['k_values'])]}, "
                  f"threads {int(f.attrs['threads'])}, tool {text(f.attrs['tool_version'])}"]
        rows = summary_rows(f)
        prompts = sorted({(int(r["prompt_index"]), r["capture"]) for r in rows if int(r["prompt_index"]) >= 0})
        names = [name for _, name in prompts]
        n_prompt = np.atleast_1d(f.attrs["n_prompt"])
        n_decode = np.atleast_1d(f.attrs["n_decode"])
        headline = {}   # (prompt name, variant) -> row at the prompt's headline budget
        variants = []
        for r in rows:
            if int(r["prompt_index"]) >= 0 and text(r["k_rule"]) == "3%":
                headline[(r["capture"], text(r["variant"]))] = r
                if text(r["variant"]) not in variants:
                    variants.append(text(r["variant"]))
        subsets = [("all", names)]
        for pattern in ("niah*", "instruction*"):
            chosen = [n for n in names if fnmatch.fnmatch(n, pattern)]
            if chosen and len(chosen) < len(names):
                subsets.append((pattern.rstrip("*"), chosen))
        subsets += [(n, [n]) for n in names]

        out_rows = []
        for subset, members in subsets:
            sizes = [int(n_prompt[names.index(m)]) for m in members]
            steps = [int(n_decode[names.index(m)]) for m in members]
            for variant in variants:
                picked = [headline[(m, variant)] for m in members]
                row = {"subset": subset, "prompts": len(members), "n_min": min(sizes), "n_max": max(sizes),
                       "steps_min": min(steps), "steps_max": max(steps), "variant": variant,
                       "content": picked[0]["pseudo_content"], "position": picked[0]["pseudo_position"],
                       "kind": text(picked[0]["kind"]), "k_rule": "3%",
                       "k": ";".join(sorted({str(int(p["k_used"])) for p in picked}, key=int))}
                for metric in METRICS:
                    m, ci = mean_ci([p[metric] for p in picked])
                    row[metric], row[metric + "_ci95"] = m, ci
                spans = [p for p in picked if "span_prompts" in p and int(p["span_prompts"]) > 0]
                row["span_prompts"] = len(spans)
                for metric in SPAN_METRICS:
                    m, ci = mean_ci([p[metric] for p in spans]) if spans else (float("nan"), float("nan"))
                    row[metric], row[metric + "_ci95"] = m, ci
                out_rows.append(row)
        for r in rows:
            if r["capture"] == "all" and text(r["k_rule"]) == "fixed":
                row = {"subset": "all", "prompts": int(r["n_prompts"]), "n_min": int(n_prompt.min()), "n_max": int(n_prompt.max()),
                       "steps_min": int(n_decode.min()), "steps_max": int(n_decode.max()), "variant": text(r["variant"]),
                       "content": r["pseudo_content"], "position": r["pseudo_position"], "kind": text(r["kind"]),
                       "k_rule": "fixed", "k": str(int(r["k"]))}
                for metric in METRICS:
                    row[metric], row[metric + "_ci95"] = float(r[metric]), float(r[metric + "_ci95"])
                has_span = "span_prompts" in r
                row["span_prompts"] = int(r["span_prompts"]) if has_span else 0
                for metric in SPAN_METRICS:
                    row[metric] = float(r[metric]) if has_span else float("nan")
                    row[metric + "_ci95"] = float(r[metric + "_ci95"]) if has_span else float("nan")
                out_rows.append(row)

        columns = ["subset", "prompts", "n_min", "n_max", "steps_min", "steps_max", "variant", "content", "position",
                   "kind", "k_rule", "k"] + [x for m in METRICS for x in (m, m + "_ci95")] + ["span_prompts"] + \
            [x for m in SPAN_METRICS for x in (m, m + "_ci95")]
        with open(args.out, "w", newline="") as handle:
            handle.write("\n".join(header) + "\n")
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for row in out_rows:
                writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) and not math.isnan(v) else ("" if isinstance(v, float) else v))
                                 for k, v in row.items()})
        print(f"{args.out}: {len(out_rows)} rows")

        if args.retrieval:
            if "retrieval_score" not in f:
                raise SystemExit(f"{args.ablation}: no retrieval_score (an ablation before schema 2)")
            scores = f["retrieval_score"][...]
            kv = f["retrieval_kv_heads"][...]
            threshold = float(f.attrs["retrieval_threshold"])
            group = scores.shape[1] // kv.shape[1]
            order = sorted(((layer, head) for layer in range(scores.shape[0]) for head in range(scores.shape[1])),
                           key=lambda lh: (-np.nan_to_num(scores[lh], nan=-1.0), lh))
            with open(args.retrieval, "w", newline="") as handle:
                handle.write("\n".join(header + [
                    f"# retrieval score per query head pooled over {int(f.attrs['retrieval_prompts'])} prompts "
                    f"({int(f.attrs['retrieval_copying_steps'])} copying steps); threshold {threshold}"]) + "\n")
                writer = csv.writer(handle)
                writer.writerow(["layer", "head", "kv_head", "retrieval_score", "above_threshold", "retrieval_kv_head"])
                for layer, head in order:
                    value = scores[layer, head]
                    writer.writerow([layer, head, head // group, "" if math.isnan(value) else f"{value:.4f}",
                                     int(np.nan_to_num(value) > threshold), int(kv[layer, head // group])])
            print(f"{args.retrieval}: {int((np.nan_to_num(scores) > threshold).sum())} heads above {threshold}, "
                  f"{int(kv.sum())} retrieval KV heads")

        if args.by_layer:
            contents = text(f.attrs["contents"]).split(",")
            positions = text(f.attrs["positions"]).split(",")
            units = [""] if len(names) == 1 else [f"prompts/{i:03d}/" for i in range(len(names))]
            curves = {}
            for unit in units:
                base = f[unit] if unit else f
                ki = int(base.attrs["headline_k_index"])
                for name, group in base["variants"].items():
                    curves.setdefault(name, []).append(group["mass_recall"][:, :, ki].mean(axis=1))
            curves = {k: np.mean(v, axis=0) for k, v in curves.items()}
            columns = ([f"position:{p}" for p in positions] + [f"content:{c}" for c in contents]
                       + [r for r in ("window", "lookahead") if r in curves])
            series = {}
            for p in positions:
                series[f"position:{p}"] = np.mean([curves[f"{c}_{p}"] for c in contents], axis=0)
            for c in contents:
                series[f"content:{c}"] = np.mean([curves[f"{c}_{p}"] for p in positions], axis=0)
            for r in ("window", "lookahead"):
                if r in curves:
                    series[r] = curves[r]
            layers = len(next(iter(series.values())))
            with open(args.by_layer, "w", newline="") as handle:
                handle.write("\n".join(header + ["# mass recall at each prompt's headline budget, mean over KV heads and prompts"]) + "\n")
                writer = csv.writer(handle)
                writer.writerow(["layer"] + columns + ["position_range", "content_range"])
                for layer in range(layers):
                    pos = [series[f"position:{p}"][layer] for p in positions]
                    con = [series[f"content:{c}"][layer] for c in contents]
                    writer.writerow([layer] + [f"{series[c][layer]:.4f}" for c in columns]
                                    + [f"{max(pos) - min(pos):.4f}", f"{max(con) - min(con):.4f}"])
            print(f"{args.by_layer}: {layers} layers")


if __name__ == "__main__":
    main()
