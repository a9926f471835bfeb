"""The retrieval-score heat map shared by plot_capture.py and plot_ablation.py: layers down, query heads across,
colour = the fraction of copying steps at which the head's strongest attention lies on the copied prompt token
(Wu et al. 2024); heads above the threshold are outlined and annotated."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402


def draw(scores, threshold, title, path):
    """Writes the PNG of `scores` [layer, head] to `path` (NaN cells stay blank)."""
    layers, heads = scores.shape
    fig, ax = plt.subplots(figsize=(2.5 + 0.45 * heads, 1.4 + 0.24 * layers), layout="constrained")
    image = ax.imshow(scores, aspect="auto", interpolation="nearest", cmap="magma", vmin=0, vmax=1)
    for layer, head in zip(*np.nonzero(np.nan_to_num(scores) > threshold)):
        ax.add_patch(Rectangle((head - 0.5, layer - 0.5), 1, 1, fill=False, edgecolor="cyan", linewidth=1.2))
        value = scores[layer, head]
        ax.text(head, layer, f"{value:.2f}", ha="center", va="center", fontsize=6,
                color="black" if value > 0.6 else "white")
    ax.set_xticks(range(heads))
    ax.set_yticks(range(layers))
    ax.tick_params(labelsize=6)
    ax.set_xlabel("query head")
    ax.set_ylabel("layer")
    above = int((np.nan_to_num(scores) > threshold).sum())
    ax.set_title(f"{title}\n{above} of {scores.size} heads above {threshold:g} (outlined)", fontsize=8)
    fig.colorbar(image, ax=ax, shrink=0.7, label="retrieval score")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
