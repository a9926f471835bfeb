#!/usr/bin/env python3
"""Markdown tables of NIAH / RULER results: per policy (rows, in the files' order) and budget (columns), the mean
score and, from eval files of schema 3, the mean share of the answer's span the cut cache held (`span_recall`),
written as `score (span)`; with `--retrieval-heads` (an `ablation_summary.py --retrieval` CSV of the same model) also
that share over the retrieval KV heads alone, from the files' `span_recall_heads`: `score (span / retrieval-head
span)`; the full cache's score in the heading. One table per group of cells (`--by`, default
task, length and placement), as the README quotes them. Reads the HDF5 files only (h5py, NumPy).

usage: eval_table.py EVAL.h5 [EVAL2.h5 …] [--by task,length,placement] [--policies a,b,…] [--no-span] [--exact]
                    [--retrieval-heads retrieval_heads.csv]
  --by        columns that split the cells into tables (any of task, length, placement; "" for one table)
  --policies  the policies to show, in this order (default: every policy but full, as the files list them)
  --exact     also count exact answers (score 1) per cell: `score (span) [exact/total]`
"""
import argparse
import csv
import sys
from collections import OrderedDict

import numpy as np
from h5input import open_input

TEXT = ("task", "policy", "placement")
NUMBERS = ("length", "budget", "score", "span_recall")


def retrieval_kv_heads(path):
    """The (layer, kv_head) pairs an `ablation_summary.py --retrieval` CSV marks as retrieval KV heads."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    if not rows or "retrieval_kv_head" not in rows[0]:
        sys.exit(f"eval_table.py: {path}: not a retrieval-heads CSV (no retrieval_kv_head column)")
    return sorted({(int(r["layer"]), int(r["kv_head"])) for r in rows if r["retrieval_kv_head"] in ("1", "True", "true")})


def load(paths, heads=None):
    """Every file's cells as one dict of arrays (span_recall NaN where a file has none); with `heads`, the
    `retrieval_span` column: the mean of `span_recall_heads` over those (layer, kv_head) pairs."""
    columns = {name: [] for name in TEXT + NUMBERS + ("retrieval_span",)}
    for path in paths:
        with open_input(path, "dapq-probe/eval", "eval file") as f:
            cells = f["cells"]
            count = len(cells["task"])
            if heads and "span_recall_heads" in f:
                per_head = f["span_recall_heads"][()]
                if max(l for l, _ in heads) >= per_head.shape[1] or max(g for _, g in heads) >= per_head.shape[2]:
                    sys.exit(f"eval_table.py: {path}: the retrieval heads do not fit its {per_head.shape[1:]} layers x KV heads")
                columns["retrieval_span"] += list(np.mean([per_head[:, l, g] for l, g in heads], axis=0))
            else:
                columns["retrieval_span"] += [np.nan] * count
            for name in TEXT:
                if name == "placement" and name not in cells:
                    columns[name] += ["inside"] * count
                    continue
                columns[name] += [v.decode() if isinstance(v, bytes) else str(v) for v in cells[name][()]]
            for name in NUMBERS:
                columns[name] += list(cells[name][()]) if name in cells else [np.nan] * count
    return {name: np.array(values, dtype=object if name in TEXT else np.float64) for name, values in columns.items()}


def tables(cells, by, policies, span=True, exact=False):
    """The markdown text of one table per group."""
    groups = OrderedDict()
    for i in range(len(cells["task"])):
        key = tuple(cells[b][i] if b in TEXT else int(cells[b][i]) for b in by)
        groups.setdefault(key, []).append(i)
    out = []
    for key, rows in groups.items():
        rows = np.array(rows)
        policy = cells["policy"][rows]
        names = policies or list(OrderedDict.fromkeys(p for p in policy if p != "full"))
        budgets = sorted({int(b) for b, p in zip(cells["budget"][rows], policy) if p != "full"})
        full = cells["score"][rows][policy == "full"]
        title = ", ".join(f"{b} {k}" for b, k in zip(by, key)) or "all cells"
        prompts = len(full) if len(full) else "?"
        heading = f"**{title}** ({prompts} prompts; full cache {np.mean(full):.2f})" if len(full) else f"**{title}**"
        out.append(heading + "\n")
        out.append("| policy | " + " | ".join(f"B = {b}" for b in budgets) + " |")
        out.append("| --- |" + " --- |" * len(budgets))
        for name in names:
            fields = []
            for b in budgets:
                pick = rows[(policy == name) & (cells["budget"][rows] == b)]
                if len(pick) == 0:
                    fields.append("—")
                    continue
                score = cells["score"][pick]
                text = f"{np.mean(score):.2f}"
                recall, retrieval = cells["span_recall"][pick], cells["retrieval_span"][pick]
                if span and not np.all(np.isnan(recall)):
                    text += f" ({np.nanmean(recall):.2f}" + ("" if np.all(np.isnan(retrieval)) else f" / {np.nanmean(retrieval):.2f}") + ")"
                if exact:
                    text += f" [{int(np.sum(score == 1))}/{len(score)}]"
                fields.append(text)
            out.append(f"| `{name}` | " + " | ".join(fields) + " |")
        out.append("")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("eval", nargs="+")
    parser.add_argument("--by", default="task,length,placement")
    parser.add_argument("--policies", default="")
    parser.add_argument("--no-span", action="store_true")
    parser.add_argument("--exact", action="store_true")
    parser.add_argument("--retrieval-heads", help="retrieval_heads.csv of the same model (ablation_summary.py --retrieval)")
    args = parser.parse_args(argv)
    by = [b for b in args.by.split(",") if b]
    unknown = [b for b in by if b not in ("task", "length", "placement")]
    if unknown:
        sys.exit(f"eval_table.py: --by {','.join(unknown)}: not one of task, length, placement")
    policies = [p for p in _split_policies(args.policies)]
    heads = retrieval_kv_heads(args.retrieval_heads) if args.retrieval_heads else None
    text = tables(load(args.eval, heads), by, policies, span=not args.no_span, exact=args.exact)
    print(text)
    return text


def _split_policies(text):
    """Comma-separated policy names, commas inside a dapq cell's brackets kept."""
    parts, current, depth = [], "", 0
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [p for p in parts + [current] if p]


if __name__ == "__main__":
    main()
