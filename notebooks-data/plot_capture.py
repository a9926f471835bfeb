#!/usr/bin/env python3
"""Where do the true decoding queries look? Heat maps of a capture's attention over the prompt, per layer.

Reads a capture written by `dapq-probe capture` (h5py only, none of our code) and draws one panel per layer:
  - with decode/attention (capture --attention): rows = decoding steps, columns = prompt positions, colour =
    the step's softmax weight on that prompt key, averaged over the query heads;
  - otherwise from decode/importance: rows = KV heads, columns = prompt positions, colour = T, the mean
    over steps and the heads of the group (docs/architecture.md).
Colour is log10 of the weight, floored at --floor (attention is heavy-tailed: a few sink tokens hold most
of it); --linear draws the raw weights instead. Row ticks are integers (KV head or step indices). A capture
made with --needle or --answer-span (prompt/answer_span) has the answer's source span marked in every panel:
two dashed cyan lines at its first and past its last position, and the span named in the title. The figure
is saved as one PNG. A capture with copying steps (decode/retrieval_score, schema 2) also gets
<name>_retrieval.png: the retrieval score per layer and query head, heads above --threshold outlined.

usage: plot_capture.py CAPTURE.h5 [--out DIR] [--source auto|attention|importance] [--linear] [--floor 1e-5]
                       [--threshold 0.1]
"""
import argparse
import os
import sys

from h5input import open_input
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import retrieval_heatmap  # noqa: E402


def load(path, source):
    """The per-layer matrices to draw, the row label, and a title."""
    with open_input(path, "dapq-probe/capture", "capture file") as f:
        n, steps = int(f.attrs["n_prompt"]), int(f.attrs["n_decode"])
        if source == "auto":
            source = "attention" if "decode/attention" in f else "importance"
        if source == "attention":
            if "decode/attention" not in f:
                raise SystemExit(f"{path}: no decode/attention (capture with --attention)")
            maps = f["decode/attention"][...].mean(axis=1)       # [layer, step, position]
            rows = "decoding step"
        else:
            maps = f["decode/importance"][...]                   # [layer, kv_head, position]
            rows = "KV head"
        span = answer_span(f)
        marked = f", answer span {span[0]}:{span[1]} (dashed)" if span else ""
        title = (f"{os.path.basename(path)}: {source} of {steps} true decoding queries over {n} prompt positions"
                 f" ({f.attrs['architecture']}, {int(f.attrs['n_layers'])} layers){marked}")
    return maps, rows, title, source, span


def answer_span(f):
    """[start, end) of prompt/answer_span (the positions where the mask is 1), or None without one."""
    if "prompt/answer_span" not in f:
        return None
    positions = np.flatnonzero(f["prompt/answer_span"][...])
    return (int(positions[0]), int(positions[-1]) + 1) if positions.size else None


def plot(maps, rows, title, linear, floor, span=None):
    layers = maps.shape[0]
    columns = min(6, layers)
    lines = (layers + columns - 1) // columns
    fig, axes = plt.subplots(lines, columns, figsize=(3.2 * columns, 2.2 * lines + 0.8), squeeze=False,
                             layout="constrained")
    values = maps if linear else np.log10(np.maximum(maps, floor))
    vmin, vmax = (0.0, float(maps.max())) if linear else (np.log10(floor), 0.0)
    image = None
    for layer in range(lines * columns):
        ax = axes[layer // columns][layer % columns]
        if layer >= layers:
            ax.axis("off")
            continue
        image = ax.imshow(values[layer], aspect="auto", interpolation="nearest", cmap="viridis", vmin=vmin, vmax=vmax)
        ax.set_title(f"layer {layer}", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=min(8, values.shape[1])))
        if span:
            for edge in (span[0] - 0.5, span[1] - 0.5):
                ax.axvline(edge, color="cyan", linestyle="--", linewidth=0.8)
        if layer % columns == 0:
            ax.set_ylabel(rows, fontsize=7)
        if layer // columns == lines - 1:
            ax.set_xlabel("prompt position", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.6, label="weight" if linear else f"log10 weight (floor {floor:g})")
    return fig


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture")
    parser.add_argument("--out", default="out/plots", help="folder for the PNG (created)")
    parser.add_argument("--source", choices=["auto", "attention", "importance"], default="auto",
                        help="decode/attention when stored (auto), or decode/importance")
    parser.add_argument("--linear", action="store_true", help="colour by the raw weight, not its log")
    parser.add_argument("--floor", type=float, default=1e-5, help="smallest weight shown on the log scale")
    parser.add_argument("--threshold", type=float, default=0.1, help="retrieval score above which a head is outlined")
    args = parser.parse_args()
    maps, rows, title, source, span = load(args.capture, args.source)
    fig = plot(maps, rows, title, args.linear, args.floor, span)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.splitext(os.path.basename(args.capture))[0]
    target = os.path.join(args.out, f"{stem}_{source}.png")
    fig.savefig(target, dpi=110)
    print(target)
    if span:
        print(f"answer span {span[0]}:{span[1]} marked")
    with open_input(args.capture, "dapq-probe/capture", "capture file") as f:
        copying = int(f.attrs.get("copying_steps", 0))
        if "decode/retrieval_score" in f and copying > 0:
            title = f"{os.path.basename(args.capture)}: retrieval score ({copying} copying steps)"
            print(retrieval_heatmap.draw(f["decode/retrieval_score"][...], args.threshold, title,
                                         os.path.join(args.out, f"{stem}_retrieval.png")))


if __name__ == "__main__":
    main()
