#!/usr/bin/env python3
"""Position versus content: plots of an ablation file written by `dapq-probe ablate` (h5py only, none of our code).

Draws two PNGs into --out:
  - ablation_grid.png: the content x position grid as heat maps, one panel per metric (attention-mass recall,
    top-k recall) at the headline budget (each prompt's k nearest 3% of n), averaged over layers, KV heads and
    prompts (the summary table's 'all' / '3%' rows), each cell annotated (with the 95% interval across prompts
    when there are several); the references (window, lookahead, truth) are listed under the panels.
  - ablation_layers.png: recall by layer at the headline budget (mean over KV heads and prompts): left, one
    line per position (averaged over contents); right, one line per content (averaged over positions); the
    window and lookahead references dashed in both.
  - ablation_retrieval.png (when a capture copies): the retrieval score per layer and query head, pooled over the
    prompts (root retrieval_score), heads above the run's retrieval_threshold outlined.

usage: plot_ablation.py ABLATION.h5 [--out DIR] [--metric mass_recall|top_k_recall]
"""
import argparse
import os
import sys

from h5input import open_input, summary_rows
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import retrieval_heatmap  # noqa: E402

METRIC_NAMES = {"mass_recall": "attention-mass recall", "top_k_recall": "top-k recall"}


def text(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def load(path):
    """Summary rows ('all', '3%'), per-variant by-layer curves at the headline budget, and run facts."""
    with open_input(path, "dapq-probe/ablation", "ablation file") as f:
        prompts = int(f.attrs["n_prompts"])
        contents = text(f.attrs["contents"]).split(",")
        positions = text(f.attrs["positions"]).split(",")
        headline = {}
        for row in summary_rows(f):
            if row["capture"] == "all" and row["k_rule"] == "3%":
                headline[row["variant"]] = row
        units = [""] if prompts == 1 else [f"prompts/{i:03d}/" for i in range(prompts)]
        curves = {}
        for unit in units:
            base = f[unit] if unit else f
            k_index = int(base.attrs["headline_k_index"])
            for name, group in base["variants"].items():
                for metric in METRIC_NAMES:
                    curve = group[metric][:, :, k_index].mean(axis=1)    # [layer]
                    curves.setdefault((name, metric), []).append(curve)
        curves = {key: np.mean(value, axis=0) for key, value in curves.items()}
        model = os.path.basename(text(f.attrs["model_path"]))
        n = np.atleast_1d(f.attrs["n_prompt"])
        facts = dict(prompts=prompts, model=model, window=int(f.attrs.get("pseudo_count", f.attrs.get("window"))), n_min=int(n.min()), n_max=int(n.max()))
    return headline, curves, contents, positions, facts


def grid_figure(headline, contents, positions, facts, out):
    fig, axes = plt.subplots(1, 2, figsize=(6 + 2.2 * len(positions), 1.6 + 0.62 * len(contents)), squeeze=False)
    for ax, metric in zip(axes[0], METRIC_NAMES):
        values = np.full((len(contents), len(positions)), np.nan)
        ci = np.full_like(values, np.nan)
        for i, c in enumerate(contents):
            for j, p in enumerate(positions):
                row = headline.get(f"{c}_{p}")
                if row is not None:
                    values[i, j] = row[metric]
                    ci[i, j] = row[metric + "_ci95"]
        image = ax.imshow(values, cmap="viridis", aspect="auto")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        ax.set_xticks(range(len(positions)), positions)
        ax.set_yticks(range(len(contents)), contents)
        ax.set_xlabel("position of the pseudo tokens")
        ax.set_ylabel("content")
        low, high = np.nanmin(values), np.nanmax(values)
        for i in range(len(contents)):
            for j in range(len(positions)):
                if np.isnan(values[i, j]):
                    continue
                label = f"{values[i, j]:.3f}" + (f"\n±{ci[i, j]:.3f}" if not np.isnan(ci[i, j]) else "")
                light = values[i, j] < (low + high) / 2
                ax.text(j, i, label, ha="center", va="center", fontsize=8, color="white" if light else "black")
        references = "   ".join(f"{name} {headline[name][metric]:.3f}" for name in ("window", "lookahead", "truth")
                                 if name in headline)
        ax.set_title(f"{METRIC_NAMES[metric]}\nreferences: {references}", fontsize=9)
    span = f"n {facts['n_min']}" if facts["n_min"] == facts["n_max"] else f"n {facts['n_min']}–{facts['n_max']}"
    fig.suptitle(f"Where versus what: pseudo queries against the true decoding queries ({facts['model']}, "
                 f"{facts['prompts']} prompt{'s' if facts['prompts'] != 1 else ''}, {span}, w {facts['window']}, "
                 f"k nearest 3% of n)", fontsize=10)
    fig.tight_layout()
    path = os.path.join(out, "ablation_grid.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def layers_figure(curves, contents, positions, facts, metric, out):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    layers = None
    for ax, (axis_name, groups) in zip(axes, [("position", positions), ("content", contents)]):
        for label in groups:
            names = [f"{c}_{label}" for c in contents] if axis_name == "position" else [f"{label}_{p}" for p in positions]
            lines = [curves[(name, metric)] for name in names if (name, metric) in curves]
            if not lines:
                continue
            curve = np.mean(lines, axis=0)
            layers = np.arange(len(curve))
            ax.plot(layers, curve, marker="o", markersize=3, label=f"{label} (mean over {'contents' if axis_name == 'position' else 'positions'})")
        for reference, style in (("window", "--"), ("lookahead", ":")):
            if (reference, metric) in curves:
                curve = curves[(reference, metric)]
                ax.plot(np.arange(len(curve)), curve, style, color="gray" if reference == "window" else "black", label=reference)
        ax.set_xlabel("layer")
        ax.set_title(f"by {axis_name}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel(f"{METRIC_NAMES[metric]}\n(k nearest 3% of n; mean over KV heads, prompts)")
    fig.suptitle(f"{METRIC_NAMES[metric]} by layer ({facts['model']}, {facts['prompts']} prompt{'s' if facts['prompts'] != 1 else ''})",
                 fontsize=10)
    fig.tight_layout()
    path = os.path.join(out, "ablation_layers.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ablation")
    parser.add_argument("--out", default="out/plots")
    parser.add_argument("--metric", choices=list(METRIC_NAMES), default="mass_recall", help="metric of the by-layer curves")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    headline, curves, contents, positions, facts = load(args.ablation)
    print(grid_figure(headline, contents, positions, facts, args.out))
    print(layers_figure(curves, contents, positions, facts, args.metric, args.out))
    with open_input(args.ablation, "dapq-probe/ablation", "ablation file") as f:
        if "retrieval_score" in f and int(f.attrs.get("retrieval_copying_steps", 0)) > 0:
            title = (f"retrieval score ({facts['model']}, pooled over {int(f.attrs['retrieval_prompts'])} prompts, "
                     f"{int(f.attrs['retrieval_copying_steps'])} copying steps)")
            print(retrieval_heatmap.draw(f["retrieval_score"][...], float(f.attrs["retrieval_threshold"]), title,
                                         os.path.join(args.out, "ablation_retrieval.png")))


if __name__ == "__main__":
    main()
