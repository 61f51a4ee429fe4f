"""Figures: sample clouds with a few trajectories, and loss curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def scatter_panel(ax, samples, reference=None, trajectories=None, title=""):
    """Samples (blue) over reference data (grey), with trajectories from noise (thin lines)."""
    if reference is not None:
        ax.scatter(reference[:, 0], reference[:, 1], s=2, c="0.8", lw=0, label="data")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:blue", lw=0, label="samples")
    if trajectories is not None:  # (steps + 1, k, 2)
        for i in range(trajectories.shape[1]):
            path = trajectories[:, i]
            ax.plot(path[:, 0], path[:, 1], c="tab:orange", lw=0.7, alpha=0.8)
            ax.scatter(path[0, 0], path[0, 1], s=6, c="tab:red", zorder=3)
    ax.set_title(title, fontsize=9)
    ax.set_aspect("equal")
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_xticks([])
    ax.set_yticks([])


def grid_figure(panels, path, ncols=2, size=3.6):
    """panels: list of dicts with the keyword arguments of scatter_panel."""
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        scatter_panel(ax, **panel)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def loss_figure(curves: dict, path, title="training loss"):
    """curves: name -> list of (step, loss)."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for name, pts in curves.items():
        pts = np.asarray(pts)
        ax.plot(pts[:, 0], pts[:, 1], label=name, lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def image_grid(x, path, labels=None, ncols=10, title=""):
    """Images (N, C, H, W) in [-1, 1] as one mosaic, each tile marked with its label if given."""
    x = np.clip((np.asarray(x) + 1) / 2, 0, 1)
    n, c, h, w = x.shape
    nrows = int(np.ceil(n / ncols))
    pad = max(1, h // 8)
    mosaic = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c))
    for i in range(n):
        r, col = divmod(i, ncols)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        mosaic[top : top + h, left : left + w] = x[i].transpose(1, 2, 0)  # (H, W, C)
    fig, ax = plt.subplots(figsize=(0.5 * ncols + 0.5, 0.5 * nrows + 0.7))
    ax.imshow(mosaic[..., 0] if c == 1 else mosaic, cmap="gray", vmin=0, vmax=1)
    if labels is not None:
        for i, lab in enumerate(labels[:n]):
            r, col = divmod(i, ncols)
            ax.text(
                col * (w + pad) + pad,
                r * (h + pad) + pad,
                str(lab),
                color="tab:red",
                fontsize=6,
                va="top",
                ha="left",
            )
    ax.set_title(title, fontsize=8)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
