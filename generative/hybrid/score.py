"""Scoring generated two-object scenes against their captions, with a checker that snaps.

Each half of an image (16 x 8 pixels) is compared with every clean half (512 per side, the
enumeration of discrete/data/checker.py) and snapped to the nearest by the number of pixels that
differ. A half is strictly valid at distance 0 and near-valid within NEAR pixels; its attributes
are read off the clean half it snapped to, whatever the distance (so binding can be read even
where validity is low, as a judge would). Against the caption's five slots:

    shape, colour       per object, as snapped
    relation            the snapped rows in the stated relation
    binding             both objects' (shape, colour) pairs right, as snapped
    all                 binding and the relation right
    near_binding        binding on a near-valid image (the strict reading)
    pair_both           (swap-pair test sets) both captions of a pair have binding
    swap_colour         colour accuracy over the objects of swap-pair captions: a bag of words
                        gives both captions of a pair the same features, so at most 50%
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from generative.discrete.data import shapes as S
from generative.discrete.data.checker import clean_scenes
from generative.hybrid.captions import relation

NEAR = 2  # pixels


@dataclass
class Snapped:
    """distance (N, 2): pixels off the nearest clean half; labels (N, 2, 5) of that half
    (shape, colour, quadrant, jitter_y, jitter_x)."""

    distance: np.ndarray
    labels: np.ndarray

    @property
    def strict(self) -> np.ndarray:
        return (self.distance == 0).all(1)

    @property
    def near(self) -> np.ndarray:
        return (self.distance <= NEAR).all(1)


@cache
def _clean_halves(half: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = clean_scenes((half, half + 2))
    cols = slice(half * S.QUAD, (half + 1) * S.QUAD)
    return images[:, :, cols].reshape(len(images), -1, 3), labels  # (512, 128, 3), (512, 5)


def snap(images: np.ndarray, chunk: int = 256) -> Snapped:
    """Nearest clean half of each half of uint8 images (N, 16, 16, 3)."""
    images = np.asarray(images)
    dist = np.zeros((len(images), 2), dtype=np.int64)
    labels = np.zeros((len(images), 2, 5), dtype=np.int64)
    for h in (0, 1):
        clean, lab = _clean_halves(h)
        half = images[:, :, h * S.QUAD : (h + 1) * S.QUAD].reshape(len(images), -1, 3)
        for i in range(0, len(images), chunk):
            part = half[i : i + chunk]
            off = (part[:, None] != clean[None]).any(-1).sum(-1)  # (n, 512) pixels that differ
            best = off.argmin(1)
            dist[i : i + chunk, h] = off[np.arange(len(part)), best]
            labels[i : i + chunk, h] = lab[best]
    return Snapped(dist, labels)


def score(images: np.ndarray, attrs: np.ndarray, pairs: bool = False) -> dict:
    """Rates over the batch (see the module docstring); attrs (N, 5) the captions' slots. With
    pairs=True rows 2i and 2i+1 are a swap pair."""
    s = snap(images)
    attrs = np.asarray(attrs)
    near = s.near
    shape_ok = s.labels[:, :, 0] == attrs[:, [0, 2]]  # (N, 2)
    colour_ok = s.labels[:, :, 1] == attrs[:, [1, 3]]
    rows = s.labels[:, :, 2] // 2  # quadrant -> row
    relation_ok = np.array([relation(r) for r in rows]) == attrs[:, 4]
    binding = (shape_ok & colour_ok).all(1)
    out = {
        "n": len(images),
        "strict_valid": float(s.strict.mean()),
        "near_valid": float(near.mean()),
        "shape": float(shape_ok.mean()),
        "colour": float(colour_ok.mean()),
        "relation": float(relation_ok.mean()),
        "binding": float(binding.mean()),
        "all": float((binding & relation_ok).mean()),
        "near_binding": float((binding & near).mean()),
    }
    if pairs:
        out["pair_both"] = float(binding.reshape(-1, 2).all(1).mean())
        out["swap_colour"] = out["colour"]
    return out
