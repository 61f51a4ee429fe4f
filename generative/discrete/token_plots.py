"""Pictures of token samples: a grid of decoded images with the checker's verdict as a frame
(green valid, red not), and the unmasking rounds of a MaskGIT decode (grey = still masked)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _show(ax, img, frame=None):
    ax.imshow(img if img.shape[-1] == 3 else img[..., 0], cmap="gray", vmin=0, vmax=255)
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_color(frame or "white")
        s.set_linewidth(2)


def sample_grid(images: np.ndarray, valid, path, title: str = "", ncols: int = 8):
    """images uint8 (n, H, W, C); valid bool (n,) draws green or red frames."""
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 0.9, nrows * 0.9 + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            _show(ax, images[i], "tab:green" if valid[i] else "tab:red")
        else:
            ax.axis("off")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def masked_images(data, partial, mask_id: int) -> np.ndarray:
    """Decode partial token rows, painting masked 2x2 patches grey."""
    tokens = partial.clone()
    masked = tokens == mask_id
    tokens[masked] = 0
    imgs = data.decode(tokens).copy()
    g = int(np.sqrt(tokens.shape[1]))
    m = masked.reshape(-1, g, g).numpy().repeat(2, 1).repeat(2, 2)  # (B, H, W) patch -> pixels
    imgs[m] = 128
    return imgs


def trace_figure(data, result, mask_id: int, path, rows: int = 4):
    """One row per sample, one column per round: what is fixed after each round."""
    rounds = [masked_images(data, x[:rows], mask_id) for x in result.rounds]
    fig, axes = plt.subplots(
        rows, len(rounds), figsize=(len(rounds) * 0.9 + 0.2, rows * 0.9 + 0.3), squeeze=False
    )
    for j, imgs in enumerate(rounds):
        for i in range(rows):
            _show(axes[i, j], imgs[i])
        axes[0, j].set_title(f"round {j + 1}", fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
