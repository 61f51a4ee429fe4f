"""Figures for Part B: a 2D codebook (codes, Voronoi cells, counts) and image grids."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

LIM = 2.6  # standardized 2D data lies within about +-2


@torch.no_grad()
def codebook_panel(ax, res, title: str = "", n_grid: int = 200):
    """Cells (which code each point of the plane goes to), held-out data, and every code's
    decoded position, sized by its held-out count; codes never hit are red crosses."""
    model = res.model.eval()
    g = np.linspace(-LIM, LIM, n_grid, dtype=np.float32)
    plane = torch.from_numpy(np.stack(np.meshgrid(g, g), -1).reshape(-1, 2))
    cells = model.quantizer(model.encoder(plane)).indices.reshape(n_grid, n_grid).numpy()
    rng = np.random.default_rng(0)
    colours = rng.random((model.quantizer.num_codes, 3)) * 0.5 + 0.5  # light, random per code
    ax.imshow(
        colours[cells], origin="lower", extent=(-LIM, LIM, -LIM, LIM), interpolation="nearest"
    )
    h = res.heldout[:1500]
    ax.scatter(h[:, 0], h[:, 1], s=1, c="0.35", lw=0)
    pos, counts = model.code_positions(), res.counts
    used = counts > 0
    size = 4 + 60 * counts / max(counts.max(), 1)
    ax.scatter(pos[used, 0], pos[used, 1], s=size[used], c="k", lw=0, zorder=3)
    ax.scatter(pos[~used, 0], pos[~used, 1], s=14, c="tab:red", marker="x", lw=1, zorder=3)
    s = res.stats
    ax.set_title(
        f"{title}\nusage {100 * s['usage']:.0f}%, perplexity {s['perplexity']:.1f}"
        f"/{s['num_codes']}, MSE {s['recon_mse']:.3f}",
        fontsize=8,
    )
    ax.set_xlim(-LIM, LIM)
    ax.set_ylim(-LIM, LIM)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    model.train()


def codebook_figure(results: dict, path, ncols: int = 3, size: float = 3.2):
    """One codebook panel per labelled result."""
    n = len(results)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False
    )
    for ax, (label, res) in zip(axes.flat, results.items(), strict=False):
        codebook_panel(ax, res, label)
    for ax in axes.flat[n:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def image_rows(rows: dict, path, scale: float = 0.7):
    """rows: label -> float images (N, C, H, W) in [0, 1]; one row of N images per label."""
    labels = list(rows)
    n = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(
        len(labels), n, figsize=(scale * n + 1.2, scale * len(labels) + 0.2), squeeze=False
    )
    for r, label in enumerate(labels):
        imgs = np.clip(np.asarray(rows[label]), 0, 1)
        for c in range(n):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(imgs):
                img = imgs[c].transpose(1, 2, 0)
                ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    fig.tight_layout(pad=0.2)
    fig.savefig(path, dpi=120)
    plt.close(fig)
