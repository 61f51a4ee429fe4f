"""Image sets for learned tokenizers, as float tensors (N, C, 16, 16) in [0, 1]."""

from __future__ import annotations

import numpy as np
import torch

from generative.discrete.data import glyphs, shapes
from generative.errors import unknown_choice

IMAGE_DATA = ("shapes", "shapes2", "glyphs", "digits")
CHANNELS = {"shapes": 3, "shapes2": 3, "glyphs": 1, "digits": 1}
DIGITS_HELDOUT = 297  # of scikit-learn's 1797 digits, the last 297 are held out


def load_images(name: str, n: int, seed: int, heldout: bool = False) -> torch.Tensor:
    """n images of a set (shapes2: the two-object variant). Held-out draws use another seed;
    scikit-learn's digits are a fixed set, upsampled 2x, split 1500 / 297 (n caps the count).
    Note that shapes has only 1024 distinct clean images: held-out draws repeat training ones."""
    if name not in IMAGE_DATA:
        raise unknown_choice("image data set", name, IMAGE_DATA)
    seed = seed + 1_000_003 if heldout else seed
    if name in ("shapes", "shapes2"):
        x = shapes.to_float(shapes.make_shapes(n, seed, two_objects=name == "shapes2").images)
    elif name == "glyphs":
        x = shapes.to_float(glyphs.make_glyphs(n, seed, max_value=99).images)
    else:
        d, _ = glyphs.sklearn_digits()
        d = d[-DIGITS_HELDOUT:] if heldout else d[:-DIGITS_HELDOUT]
        d = d[np.random.default_rng(seed).permutation(len(d))[:n]]
        x = d.repeat(2, 1).repeat(2, 2)[:, None]  # (N, 1, 16, 16)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
