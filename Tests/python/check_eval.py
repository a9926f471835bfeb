"""Checks a `dapq-probe niah`/`ruler` file from outside our code (h5py + csv + NumPy): the schema, the CSV beside
it holding the same rows, every score recomputed from the stored answer and reference (NIAH: fraction of the
reference's words present; RULER: string_match_all after RULER's postprocessing), cache bytes against
entries x layers x KV heads x d_head x 2 x 4, the answer's span and its recall in range (1 for a whole cache), and
the grid's cells all present. Prints "eval OK" last."""
import csv
import json
import math
import re
import sys

import h5py
import numpy as np

from checks import COMMON_ROOT_ATTRIBUTES, check, fail, kv_value_bytes


def words(text):
    return set(w for w in re.split(r"[^a-z0-9]+", text.lower().replace("'", "").replace("\u2019", "")) if w)


def niah_score(answer, reference):
    ref = words(reference)
    return len(ref & words(answer)) / len(ref) if ref else 0.0


def ruler_score(prediction, references):
    prediction = re.sub(r"[\x00-\x1f]", "\n", prediction.strip()).strip()
    return sum(1.0 if r.lower() in prediction.lower() else 0.0 for r in references) / len(references)


def text(values):
    return [v.decode() if isinstance(v, bytes) else v for v in values]


def one_line(value):
    """The CSV's one-line form of a text: backslash, newline, carriage return and tab escaped as two characters."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def main(path, csv_path):
    with h5py.File(path, "r") as f:
        for name in COMMON_ROOT_ATTRIBUTES:
            check(name in f.attrs, f"root attribute {name} missing")
        check(f.attrs["schema"] == "dapq-probe/eval", "schema")
        check(int(f.attrs["complete"]) == 1, "complete")
        grid = json.loads(f.attrs["grid"])
        L, G, d = (int(f.attrs[k]) for k in ("n_layers", "n_kv_heads", "d_head"))
        value_bytes = kv_value_bytes(f.attrs)
        c = {name: f["cells/" + name][()] for name in f["cells"]}
        heads = f["span_recall_heads"][()]
        check(heads.shape == (len(c["task"]), L, G) and heads.dtype == np.float64, f"span_recall_heads shape {heads.shape}")
        check([d.label for d in f["span_recall_heads"].dims] == ["cell", "layer", "kv_head"], "span_recall_heads dims")
    for name in ("task", "policy", "placement", "answer", "reference"):
        c[name] = text(c[name])
    rows = len(c["task"])
    check(all(len(v) == rows for v in c.values()), "cells/ columns of equal length")
    check(c["budget"].dtype == np.int64 and c["entries"].dtype == np.int64, "cells/budget and cells/entries are not int64")
    ratios = grid.get("compressionRatios")
    ratio = c.get("compression_ratio", np.full(rows, np.nan))
    placement = grid["settings"].get("question_placement")
    check(placement in ("inside", "outside"), f"grid question_placement {placement!r}")
    check(all(p == placement for p in c["placement"]), "rows' placement differs from the grid's")
    for i in range(rows):
        task, answer, reference = c["task"][i], c["answer"][i], c["reference"][i]
        if task == "niah":
            expected = niah_score(answer, reference)
            check(not math.isnan(c["depth"][i]) and c["sample"][i] == -1, f"row {i}: NIAH depth/sample")
        else:
            expected = ruler_score(answer, reference.split(" | "))
            check(math.isnan(c["depth"][i]) and c["sample"][i] >= 0, f"row {i}: RULER depth/sample")
        check(abs(c["score"][i] - expected) < 1e-12, f"row {i}: score {c['score'][i]} != recomputed {expected} for {answer!r}")
        check(c["cache_bytes"][i] == c["entries"][i] * L * G * d * 2 * value_bytes, f"row {i}: cache_bytes")
        # The answer's span: inside the prompt, its recall a fraction, the layers' worst heads no better than the mean.
        # (-1 and NaN where the tokenizer could not place it.)
        start, end = int(c["span_start"][i]), int(c["span_end"][i])
        recall, worst = c["span_recall"][i], c["span_recall_layer_min"][i]
        if start == -1:
            check(end == -1 and math.isnan(recall) and math.isnan(worst) and np.isnan(heads[i]).all(), f"row {i}: no span, yet a recall")
        else:
            check(0 <= start < end <= c["prompt_tokens"][i], f"row {i}: span {start}:{end}")
            check(0 <= worst <= recall + 1e-12 and recall <= 1, f"row {i}: span recall {recall}, layer minimum {worst}")
            # The two summaries recomputed from the per-head values.
            check(abs(heads[i].mean() - recall) < 1e-6 and abs(heads[i].min(axis=1).mean() - worst) < 1e-6,
                  f"row {i}: span recall {recall} / {worst} against the per-head mean {heads[i].mean()} / {heads[i].min(axis=1).mean()}")
            if c["entries"][i] >= c["prompt_tokens"][i]:
                check(recall == 1 and worst == 1, f"row {i}: a cache holding the whole prompt keeps the whole span")
        if c["policy"][i] == "full":
            check(c["budget"][i] == 0 and c["entries"][i] == c["prompt_tokens"][i], f"row {i}: full keeps the prompt")
        else:
            check(c["entries"][i] == min(c["budget"][i], c["prompt_tokens"][i]), f"row {i}: entries {c['entries'][i]}")
            if ratios:
                # kvpress's ratio R keeps (1 - R) n entries, rounded half up (at least 1).
                expected_budget = max(1, math.floor((1 - ratio[i]) * c["prompt_tokens"][i] + 0.5))
                check(c["budget"][i] == expected_budget, f"row {i}: budget {c['budget'][i]} for ratio {ratio[i]}, expected {expected_budget}")
    # The CSV beside it holds the same rows in the same order.
    with open(csv_path, newline="") as handle:
        table = list(csv.DictReader(handle))
    check(len(table) == rows, f"CSV has {len(table)} rows, HDF5 {rows}")
    for i, r in enumerate(table):
        check(r["task"] == c["task"][i] and r["policy"] == c["policy"][i], f"CSV row {i}")
        check(r["answer"] == one_line(c["answer"][i]) and "\n" not in r["answer"], f"CSV row {i}: answer not the one-line form")
        check(r["placement"] == c["placement"][i], f"CSV row {i} placement")
        check(int(r["budget"]) == c["budget"][i] and int(r["cache_bytes"]) == c["cache_bytes"][i], f"CSV row {i} numbers")
        check(abs(float(r["score"]) - c["score"][i]) < 1e-12, f"CSV row {i} score")
        check(int(r["span_start"] or -1) == c["span_start"][i], f"CSV row {i} span")
        check(r["span_recall"] == "" if math.isnan(c["span_recall"][i]) else abs(float(r["span_recall"]) - c["span_recall"][i]) < 1e-5,
              f"CSV row {i} span recall")
    # Every cell of the grid is there exactly once (a whole, unsharded file).
    cells = {(c["task"][i], int(c["length"][i]), None if math.isnan(c["depth"][i]) else float(c["depth"][i]), int(c["sample"][i]),
              c["policy"][i], int(c["budget"][i]) if c["policy"][i] == "full" or not ratios else float(ratio[i]))
             for i in range(rows)}
    check(len(cells) == rows, "no cell twice")
    expected_cells = set()
    for task in grid["tasks"]:
        for length in grid["lengths"]:
            points = [(float(dp), -1) for dp in grid["depths"]] if task == "niah" else [(None, s) for s in range(grid["samples"])]
            for depth, sample in points:
                for policy in grid["policies"]:
                    for budget in ([0] if policy == "full" else ratios or grid["budgets"]):
                        expected_cells.add((task, length, depth, sample, policy, budget))
    check(cells == expected_cells, f"cells differ from the grid: missing {sorted(expected_cells - cells)[:3]}, extra {sorted(cells - expected_cells)[:3]}")
    print(f"{rows} cells")
    print("eval OK")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail("usage: check_eval.py FILE.h5 FILE.csv")
    main(sys.argv[1], sys.argv[2])
