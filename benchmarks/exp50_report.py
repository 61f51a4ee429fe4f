"""exp50's report: the example images lesson 15's widget shows, the derived fields and the
figure (see exp50_hybrid.py for the experiment)."""

from __future__ import annotations

from pathlib import Path

DRAW_BATCH = 100  # generative.unified.evaluate.draw_images' default batch


def palette_string(image) -> str:
    import numpy as np

    from generative.discrete.data.shapes import PALETTE

    px = image.reshape(-1, 3)
    idx = np.full(len(px), 9)
    idx[(px == 0).all(1)] = 0
    for k, colour in enumerate(PALETTE):
        idx[(px == colour).all(1)] = k + 1
    return "".join(map(str, idx))


def examples(model, w: float, seed: int, how: dict, pairs: int = 6) -> dict:
    """The first swap pairs' images for lesson 15's widget: each image as 256 characters, one a
    pixel in raster order (0 black, 1-4 the palette colours, 9 anything else), and whether each
    is near-valid and binds."""
    from generative.hybrid.captions import swap_pairs
    from generative.hybrid.evaluate import sample
    from generative.hybrid.score import NEAR, snap

    caps = swap_pairs(pairs, seed=20_000 + seed)
    images, _ = sample(model, caps, guidance=w, seed=seed, **how)
    s, a = snap(images), caps.attrs.numpy()
    bind = ((s.labels[:, :, 0] == a[:, [0, 2]]) & (s.labels[:, :, 1] == a[:, [1, 3]])).all(1)
    return {
        "captions": caps.text,
        "pixels": [palette_string(img) for img in images],
        "near_valid": (s.distance <= NEAR).all(1).tolist(),
        "binding": bind.tolist(),
    }


def derive(res: dict) -> dict:
    """Fields computed from the recorded ones (idempotent): network calls per image. A pipeline
    decodes all captions in one batch, so its `calls` are per image already; the unified model
    draws in batches of DRAW_BATCH and its `calls` add up over them."""
    import math

    for name, scores in res["table"].items():
        for s in scores.values():
            if not isinstance(s, dict):
                continue
            if "calls" not in s:
                continue
            unified_model = name in ("unified-chameleon", "unified-showo")  # not the encoder
            batches = math.ceil(s["n"] / DRAW_BATCH) if unified_model else 1
            s["calls_per_image"] = s["calls"] / batches
    return res


def figure(res: dict, path: Path):
    """Binding and swap-pair colour per arm (w = 1), the oracle encoder's and the exact
    posterior's levels, and the bag-of-words ceiling on swap pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(res["table"])
    bind = [res["table"][n]["1.0"]["binding"] for n in names]
    colour = [res["table"][n]["1.0"]["swap_colour"] for n in names]
    valid = [res["table"][n]["1.0"]["near_valid"] for n in names]
    x = range(len(names))
    fig, ax = plt.subplots(figsize=(13, 4.2))
    ax.bar([i - 0.27 for i in x], bind, 0.27, label="binding (both objects right)")
    ax.bar(x, colour, 0.27, label="colour on swap pairs")
    ax.bar([i + 0.27 for i in x], valid, 0.27, label="near-valid (within 2 pixels)")
    ax.axhline(0.5, color="k", ls="--", lw=1, label="bag-of-words ceiling on swap pairs")
    best = res["oracle_bound"][f"fixed T={res['budget']['rounds']}"]["near_valid"]
    ax.axhline(best, color="tab:green", ls=":", lw=1, label="exact posterior, same decoder")
    ax.set_xticks(list(x), names, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title("Two towers: which encoder lets the generator bind (guidance 1, median of seeds)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
