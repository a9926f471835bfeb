#!/usr/bin/env python3
"""Needle-in-a-haystack and RULER results: plots of an eval file written by `dapq-probe niah` / `ruler`
(h5py + matplotlib only, none of our code).

Reads the cell table `cells/` (1-D datasets of equal length: task, length, depth, sample, policy, budget,
score, ...; budget 0 is the full cache) and draws into --out:
  - <TASK>_heatmap_b<BUDGET>.png: the classic NIAH heat map as the common needle-in-a-haystack plots draw it,
    needle depth (y, 0% at the top) x context length (x), colour = score (0 red .. 1 green), one panel per
    policy at --budget, the full-cache panel first; each cell is the mean over the rows that share it and is
    annotated with its score to two decimals.
  - <EVAL>_score_vs_budget.png (EVAL: the eval file's name without .h5): score versus budget, one line per
    policy (mean over each task's whole grid: lengths x depths for NIAH, lengths x samples for RULER), one
    panel per task, the full-cache score as a dashed horizontal line.
--out defaults to the folder of the eval file, so the plots land beside their data.

usage: plot_eval.py EVAL.h5 [--out DIR] [--budget 64] [--heatmap-task niah]
"""
import argparse
import os
import sys

from h5input import open_input
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLUMNS = ["task", "length", "depth", "sample", "policy", "budget", "score"]


def text(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def strings(dataset):
    return np.array([text(v) for v in dataset[...]], dtype=object)


def load(path):
    """The cell table as a dict of equal-length arrays, and facts for titles."""
    with open_input(path, "dapq-probe/eval", "eval file", require_complete=False) as f:
        if "cells" not in f:
            raise SystemExit(f"{path}: no 'cells' group")
        group = f["cells"]
        missing = [c for c in COLUMNS if c not in group]
        if missing:
            raise SystemExit(f"{path}: cells/ lacks {', '.join(missing)}")
        cells = {}
        for name in COLUMNS:
            d = group[name]
            cells[name] = strings(d) if d.dtype.kind in "OSU" else d[...]
        sizes = {name: len(v) for name, v in cells.items()}
        if len(set(sizes.values())) != 1:
            raise SystemExit(f"{path}: cells/ datasets differ in length: {sizes}")
        if "complete" in f.attrs and int(f.attrs["complete"]) != 1:
            print(f"plot_eval: warning: {path} is not marked complete; plotting the cells it holds", file=sys.stderr)
        model = os.path.basename(text(f.attrs.get("model_path", "")))
    return cells, dict(model=model)


def ordered(values):
    """Distinct values in order of first appearance."""
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def policies_in(cells, mask):
    """(full-cache policy names, compressed policy names) among the rows of `mask`, in file order."""
    full = ordered(cells["policy"][mask & (cells["budget"] == 0)])
    compressed = ordered(cells["policy"][mask & (cells["budget"] != 0)])
    return full, compressed


def heatmap_figure(cells, facts, task, budget, out):
    is_task = cells["task"] == task
    if not is_task.any():
        print(f"plot_eval: no '{task}' cells; no heat map drawn")
        return None
    budgets = sorted(set(int(b) for b in cells["budget"][is_task] if b != 0))
    full, compressed = policies_in(cells, is_task)
    if compressed and budget not in budgets:
        raise SystemExit(f"budget {budget} is not in the file for '{task}' (budgets: {', '.join(map(str, budgets))})")
    panels = [(p, 0, "full cache" if p == "full" else f"{p} (full cache)") for p in full]
    panels += [(p, budget, f"{p} @ {budget}") for p in compressed]
    lengths = sorted(set(int(v) for v in cells["length"][is_task]))
    depths = sorted(set(float(v) for v in cells["depth"][is_task] if np.isfinite(v)))
    if not depths:
        print(f"plot_eval: '{task}' cells have no depths; no heat map drawn")
        return None

    columns = min(3, len(panels))
    rows = (len(panels) + columns - 1) // columns
    width = 0.62 * len(lengths) + 1.5
    height = 0.30 * len(depths) + 1.3
    fig, axes = plt.subplots(rows, columns, figsize=(columns * width + 1.0, rows * height + 0.6), squeeze=False,
                             layout="constrained")
    image = None
    for ax, (policy, b, title) in zip(axes.flat, panels):
        # rows = depths (0% at the top), columns = lengths
        grid = np.full((len(depths), len(lengths)), np.nan)
        chosen = is_task & (cells["policy"] == policy) & (cells["budget"] == b)
        for i, depth in enumerate(depths):
            for j, length in enumerate(lengths):
                m = chosen & (cells["length"] == length) & np.isclose(cells["depth"], depth)
                if m.any():
                    grid[i, j] = cells["score"][m].mean()
        image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto", origin="upper")
        ax.set_xticks(range(len(lengths)), [str(v) for v in lengths], fontsize=7)
        ax.set_yticks(range(len(depths)), [f"{d:g}" for d in depths], fontsize=7)
        ax.set_title(f"{title}: mean {np.nanmean(grid):.2f}" if np.isfinite(grid).any() else f"{title}: no cells",
                     fontsize=9)
        ax.set_xlabel("context length (tokens)", fontsize=8)
        ax.set_ylabel("needle depth (%)", fontsize=8)
        for i in range(len(depths)):
            for j in range(len(lengths)):
                if np.isfinite(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), fraction=0.02, pad=0.02, label="score")
    fig.suptitle(f"{task}: answer score by needle depth and context length, budget {budget} cache entries per "
                 f"(layer, KV head), greedy answers" + (f", {facts['model']}" if facts["model"] else ""), fontsize=10)
    path = os.path.join(out, f"{task}_heatmap_b{budget}.png")
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def curves_figure(cells, facts, out, file_name="score_vs_budget"):
    tasks = ordered(cells["task"])
    if not tasks:
        print("plot_eval: the file holds no cells; no curves drawn")
        return None
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks) + 1.6, 3.6), squeeze=False, layout="constrained")
    handles = {}
    all_compressed = ordered(cells["policy"][cells["budget"] != 0])
    colors = {p: plt.cm.tab10(i % 10) for i, p in enumerate(all_compressed)}
    markers = "osD^vP*Xh<>"
    for ax, task in zip(axes[0], tasks):
        is_task = cells["task"] == task
        full, compressed = policies_in(cells, is_task)
        budgets = sorted(set(int(b) for b in cells["budget"][is_task] if b != 0))
        for policy in compressed:
            xs, ys = [], []
            for b in budgets:
                m = is_task & (cells["policy"] == policy) & (cells["budget"] == b)
                if m.any():
                    xs.append(b)
                    ys.append(cells["score"][m].mean())
            emphasis = policy == "dapq"
            handles[policy], = ax.plot(xs, ys, marker=markers[all_compressed.index(policy) % len(markers)], color=colors[policy],
                    linewidth=2.4 if emphasis else 1.3, markersize=5, label=policy, zorder=3 if emphasis else 2)
        levels = []
        for k, policy in enumerate(full):
            level = cells["score"][is_task & (cells["policy"] == policy) & (cells["budget"] == 0)].mean()
            name = "full cache" if policy == "full" else f"{policy} (full cache)"
            handles[name] = ax.axhline(level, color="black", linestyle="--", linewidth=1.1, alpha=max(0.3, 0.8 - 0.2 * k),
                                       label=name)
            levels.append(f"{name} {level:.2f}")
        if budgets:
            ax.set_xscale("log", base=2)
            ax.set_xticks(budgets, [str(b) for b in budgets])
            ax.minorticks_off()
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("budget (cache entries per KV head)")
        ax.set_ylabel("score (mean over the grid)")
        ax.set_title(task + (f"\n{', '.join(levels)}" if levels else ""), fontsize=9)
        ax.grid(True, alpha=0.3)
    fig.legend(list(handles.values()), list(handles.keys()), loc="outside right center", fontsize=8)
    fig.suptitle("score versus budget" + (f" ({facts['model']})" if facts["model"] else ""), fontsize=10)
    path = os.path.join(out, f"{file_name}.png")
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("eval", help="eval HDF5 file (schema dapq-probe/eval)")
    parser.add_argument("--out", default=None, help="folder for the PNGs (default: the eval file's folder)")
    parser.add_argument("--budget", type=int, default=64, help="budget of the heat map panels (default 64)")
    parser.add_argument("--heatmap-task", default="niah", help="task drawn as a heat map (default niah)")
    args = parser.parse_args(argv)
    cells, facts = load(args.eval)
    if args.out is None:
        args.out = os.path.dirname(os.path.abspath(args.eval))
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.splitext(os.path.basename(args.eval))[0]
    curves = curves_figure(cells, facts, args.out, f"{stem}_score_vs_budget")
    for path in (heatmap_figure(cells, facts, args.heatmap_task, args.budget, args.out), curves):
        if path:
            print(path)


if __name__ == "__main__":
    main()
