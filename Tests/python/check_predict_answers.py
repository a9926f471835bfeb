"""Checks notebooks-data/predict_answers.py on synthetic files of known correlation: an ablation file (summary table
as `dapq-probe ablate` writes it, one measurement a monotone function of the answers' scores, one reversed, one
constant, a span column) joined with eval files (HDF5 and CSV, one of another model, rows of another placement and
budget that must not join). Expected: Spearman 1 / AUC 1, -1 / 0, NaN for the constant; the join counts; the span
column optional. Prints "predict_answers OK" last.

usage: check_predict_answers.py WORKDIR"""
import csv
import json
import math
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "notebooks-data"))
import predict_answers  # noqa: E402

from checks import check, fail  # noqa: E402

DEPTHS = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]
BUDGETS = [64, 128]
# ablation variant, its content and position, the eval policy it joins (plain `dapq` resolves through the settings)
VARIANTS = [("suffix_far", "suffix", "far", "dapq[content=suffix,position=far]"),
            ("prefix+suffix_future", "prefix+suffix", "future", "dapq"),
            ("window", "", "", "snapkv"), ("lookahead", "", "", "laq"), ("truth", "", "", "oracle")]


def score_of(d, v, b):
    """A deterministic score in {0, 0.25, 0.5, 0.75, 1} with every value present."""
    return [0.0, 0.25, 0.5, 0.75, 1.0][(d // 10 + 2 * v + b // 64) % 5]


def mass_of(score):
    return 0.3 + 0.6 * score ** 2   # strictly increasing in the score


def write_ablation(path, sha, with_span):
    fields = [("prompt", h5py.string_dtype()), ("prompt_index", "i8"), ("variant", h5py.string_dtype()),
              ("content", h5py.string_dtype()), ("position", h5py.string_dtype()), ("kind", h5py.string_dtype()),
              ("k_rule", h5py.string_dtype()), ("k", "i8"), ("k_used", "i8"), ("n_prompts", "i8"),
              ("top_k_recall", "f8"), ("mass_recall", "f8"), ("overlap", "f8"), ("query_cosine", "f8"),
              ("top_k_recall_ci95", "f8"), ("mass_recall_ci95", "f8"), ("overlap_ci95", "f8"), ("query_cosine_ci95", "f8")]
    if with_span:
        fields += [("span_recall", "f8"), ("span_recall_ci95", "f8")]
    rows = []
    for pi, d in enumerate(DEPTHS):
        for vi, (variant, content, position, _) in enumerate(VARIANTS):
            for k in BUDGETS + [32]:
                s = score_of(d, vi, k)
                row = [f"niah_L2000_d{d}.h5", pi, variant, content, position, "pseudo" if content else "reference", "fixed",
                       k, k, 1, 1 - mass_of(s), mass_of(s), 0.5, 0.9, math.nan, math.nan, math.nan, math.nan]
                if with_span:
                    row += [s / 2, math.nan]
                rows.append(tuple(row))
                # the headline row (k_rule 3%) must not join: its numbers would spoil the correlation
                rows.append(tuple(row[:6] + ["3%"] + [k, k, 1, mass_of(s), 0.0, 0.7, 0.1] + row[14:]))
    rows.append(tuple([ "all", -1, "window", "", "", "reference", "fixed", 64, 64, 10, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0]
                      + ([0.0, 0.0] if with_span else [])))
    with h5py.File(path, "w") as f:
        f.attrs["schema"] = "dapq-probe/ablation"
        f.attrs["complete"] = 1
        f.attrs["model_sha256"] = sha
        f.attrs["model_path"] = f"/models/{sha}.gguf"
        f.create_dataset("summary", data=np.array(rows, dtype=np.dtype(fields)))


def eval_rows(scale=1.0, flip=False):
    """Eval cells: one per ablation cell at B = 64, 128 (the ablation's k = 32 rows find none), the full cache, and outside rows."""
    rows = []
    for d in DEPTHS:
        rows.append(dict(task="niah", length=2000, depth=float(d), sample=-1, policy="full", placement="inside", budget=0, score=1.0))
        for vi, (_, _, _, policy) in enumerate(VARIANTS):
            for b in BUDGETS:
                s = score_of(d, vi, b)
                rows.append(dict(task="niah", length=2000, depth=float(d), sample=-1, policy=policy, placement="inside",
                                 budget=b, score=(1 - s) if flip else s * scale))
                rows.append(dict(task="niah", length=2000, depth=float(d), sample=-1, policy=policy, placement="outside",
                                 budget=b, score=1 - s))
    return rows


def write_eval_h5(path, sha, rows, settings, with_span=False):
    grid = {"settings": settings, "policies": sorted({r["policy"] for r in rows})}
    with h5py.File(path, "w") as f:
        f.attrs["schema"] = "dapq-probe/eval"
        f.attrs["complete"] = 1
        f.attrs["model_sha256"] = sha
        f.attrs["grid"] = json.dumps(grid)
        for name in ("task", "policy", "placement"):
            f.create_dataset("cells/" + name, data=np.array([r[name] for r in rows], dtype=h5py.string_dtype()))
        for name in ("length", "sample", "budget"):
            f.create_dataset("cells/" + name, data=np.array([r[name] for r in rows], dtype="i4"))
        for name in ("depth", "score"):
            f.create_dataset("cells/" + name, data=np.array([r[name] for r in rows], dtype="f8"))
        if with_span:
            # What the cut cache kept of the span (schema 3): increasing in the score; its layer minimum decreasing.
            f.create_dataset("cells/span_recall", data=np.array([mass_of(r["score"]) for r in rows], dtype="f8"))
            f.create_dataset("cells/span_recall_layer_min", data=np.array([1 - r["score"] for r in rows], dtype="f8"))
            # Per (layer, KV head) [cell, 2, 2]: the retrieval head (0, 1) increasing in the score, the others decreasing.
            heads = np.array([[[1 - r["score"], mass_of(r["score"])], [1 - r["score"], 1 - r["score"]]] for r in rows], dtype="f8")
            f.create_dataset("span_recall_heads", data=heads)


def write_eval_csv(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["task", "length", "depth", "sample", "policy", "placement", "budget", "score"])
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "policy": "dapq[content=prefix+suffix,position=future]" if r["policy"] == "dapq" else r["policy"]})


def pick(rows, model, measurement, subset="all", placement="inside"):
    found = [r for r in rows if r["model"] == model and r["measurement"] == measurement and r["subset"] == subset
             and r["placement"] == placement]
    check(len(found) == 1, f"one row for {model} {measurement} {subset}, got {len(found)}")
    return found[0]


def close(a, b):
    return abs(a - b) < 1e-12


def main(work):
    a, b = os.path.join(work, "ablation_a.h5"), os.path.join(work, "ablation_b.h5")
    write_ablation(a, "aaa", with_span=True)
    write_ablation(b, "bbb", with_span=False)
    settings = {"pseudo_content": "prefix+suffix", "pseudo_position": "future", "question_placement": "inside"}
    write_eval_h5(os.path.join(work, "eval_a.h5"), "aaa", eval_rows(), settings, with_span=True)
    # Another model's file with the scores reversed: it must not join ablation_a.
    write_eval_h5(os.path.join(work, "eval_other.h5"), "zzz", eval_rows(flip=True), settings)
    write_eval_csv(os.path.join(work, "eval_b.csv"), eval_rows())
    out = os.path.join(work, "predict.csv")
    rows = predict_answers.main(["--ablation", a, "--eval", os.path.join(work, "eval_a.h5"), os.path.join(work, "eval_other.h5"),
                                 "--out", out, "--joined", os.path.join(work, "joined.csv"), "--bootstrap", "200", "--seed", "1"])
    model = "aaa.gguf"
    cells = len(DEPTHS) * len(VARIANTS) * len(BUDGETS)
    mass = pick(rows, model, "mass_recall")
    check(mass["cells"] == cells and mass["prompts"] == len(DEPTHS), f"joined {mass['cells']} cells, expected {cells}")
    check(close(mass["spearman"], 1) and close(mass["auc"], 1), f"monotone: Spearman {mass['spearman']}, AUC {mass['auc']}")
    check(close(mass["spearman_lo"], 1) and close(mass["spearman_hi"], 1), "monotone: the interval is [1, 1]")
    top = pick(rows, model, "top_k_recall")
    check(close(top["spearman"], -1) and close(top["auc"], 0), f"reversed: Spearman {top['spearman']}, AUC {top['auc']}")
    overlap = pick(rows, model, "overlap")
    check(math.isnan(overlap["spearman"]) and close(overlap["auc"], 0.5), "constant: Spearman NaN, AUC 0.5 (all ties)")
    span = pick(rows, model, "span_recall")
    check(close(span["spearman"], 1), "span recall (linear in the score)")
    per_budget = pick(rows, model, "mass_recall", subset="budget=64")
    check(per_budget["cells"] == cells // 2 and close(per_budget["spearman"], 1), "per budget")
    check(mass["exact"] == sum(1 for d in DEPTHS for v in range(len(VARIANTS)) for k in BUDGETS if score_of(d, v, k) == 1), "exact count")
    check(all(r["model"] == model for r in rows), "the other model's eval file joined nothing")
    with open(out) as handle:
        table = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    check(len(table) == len(rows) and float(table[0]["spearman"]) == round(rows[0]["spearman"], 4), "the CSV holds the table")

    # The outside rows (reversed scores) when asked for; a CSV joins without span columns.
    outside = predict_answers.main(["--ablation", a, "--eval", os.path.join(work, "eval_a.h5"), "--placement", "outside",
                                    "--bootstrap", "50"])
    check(close(pick(outside, model, "mass_recall", placement="outside")["spearman"], -1), "outside placement")
    from_csv = predict_answers.main(["--ablation", b, "--eval", os.path.join(work, "eval_b.csv"), "--bootstrap", "50"])
    m = pick(from_csv, "bbb.gguf", "mass_recall")
    check(m["cells"] == cells and close(m["spearman"], 1), "CSV eval joins, the dapq cell resolved to its name")
    check(not any(r["measurement"].startswith("span") for r in from_csv), "no span columns in a file without them")
    kept = pick(rows, model, "kept_span_recall")
    check(kept["cells"] == cells and close(kept["spearman"], 1), "the eval file's own span recall joins beside the ablation's")
    check(close(pick(rows, model, "kept_span_layer_min")["spearman"], -1), "its layer minimum (reversed here)")
    check(not any(r["measurement"].startswith("kept") for r in from_csv), "no kept-span rows from a file without the columns")

    # Without an ablation: every compressed cell of the eval file, the kept-span measurements only.
    alone = predict_answers.main(["--eval", os.path.join(work, "eval_a.h5"), "--bootstrap", "50"])
    check({r["measurement"] for r in alone} == {"kept_span_recall", "kept_span_layer_min"}, "eval alone: the kept-span rows")
    every = pick(alone, "model", "kept_span_recall")
    check(every["cells"] == cells and close(every["spearman"], 1), f"eval alone: {every['cells']} compressed cells, full left out")
    # --retrieval-heads: the kept span over the marked KV head and over the rest, from span_recall_heads.
    heads_csv = os.path.join(work, "retrieval_heads.csv")
    with open(heads_csv, "w") as handle:
        handle.write("# synthetic\nlayer,head,kv_head,retrieval_score,above_threshold,retrieval_kv_head\n0,1,1,0.5,1,1\n1,0,0,0.0,0,0\n")
    by_heads = predict_answers.main(["--eval", os.path.join(work, "eval_a.h5"), "--retrieval-heads", heads_csv, "--bootstrap", "50"])
    check(close(pick(by_heads, "model", "kept_span_retrieval")["spearman"], 1), "retrieval KV heads: increasing")
    check(close(pick(by_heads, "model", "kept_span_other")["spearman"], -1), "the other KV heads: decreasing")
    print("predict_answers OK")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: check_predict_answers.py WORKDIR")
    main(sys.argv[1])
