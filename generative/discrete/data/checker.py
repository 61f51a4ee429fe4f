"""The exact checker for `shapes`: is an image a clean scene, and if so, what does it show?

There is no learned classifier. Every clean image is enumerated once (1024 single-object scenes;
for two objects, the 512 possible contents of each half, since the halves are independent) and
stored in a table keyed by its bytes. An image is valid if and only if it equals one of them
pixel for pixel, and then its attributes are read off the table: exact by construction, so real
data scores 100% and any pixel off by one value is rejected.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import numpy as np

from generative.discrete.data import shapes as S
from generative.errors import UserError

KEYS = ("shape", "colour", "quadrant", "jitter_y", "jitter_x")


@dataclass
class CheckResult:
    """valid: bool (N,); attributes: name -> int64 array, (N,) or (N, 2) for two objects,
    -1 where the image (or that half) is invalid."""

    valid: np.ndarray
    attributes: dict[str, np.ndarray]

    def matches(self, labels: dict, keys=("shape", "colour", "quadrant")) -> np.ndarray:
        """bool (N,): valid and showing exactly the requested attributes (conditional accuracy)."""
        ok = self.valid.copy()
        for k in keys:
            a, b = self.attributes[k], np.asarray(labels[k])
            ok &= (a == b).reshape(len(ok), -1).all(-1)
        return ok


def clean_scenes(quadrants=range(4)) -> tuple[np.ndarray, np.ndarray]:
    """Every clean single-object scene with its object in one of these quadrants: uint8 images
    (M, 16, 16, 3) and their labels (M, 5) in KEYS order (shape, colour, quadrant, jy, jx)."""
    labels = list(
        itertools.product(
            range(len(S.SHAPES)), range(len(S.COLOURS)), quadrants, range(S.JITTER), range(S.JITTER)
        )
    )
    images = np.zeros((len(labels), S.SIZE, S.SIZE, 3), dtype=np.uint8)
    for img, lab in zip(images, labels, strict=True):
        S.draw(img, *lab)
    return images, np.array(labels, dtype=np.int64)


@cache
def _table(half: int | None) -> dict[bytes, tuple]:
    """bytes of every clean image (half None) or every clean half (0 left, 1 right) -> labels."""
    images, labels = clean_scenes(range(4) if half is None else (half, half + 2))
    if half is not None:
        images = images[:, :, half * S.QUAD : (half + 1) * S.QUAD]
    return {
        np.ascontiguousarray(img).tobytes(): tuple(int(v) for v in lab)
        for img, lab in zip(images, labels, strict=True)
    }


def _lookup(images: np.ndarray, table: dict) -> tuple[np.ndarray, np.ndarray]:
    attrs = np.full((len(images), len(KEYS)), -1, dtype=np.int64)
    for i, img in enumerate(images):
        hit = table.get(np.ascontiguousarray(img).tobytes())
        if hit is not None:
            attrs[i] = hit
    return attrs[:, 0] >= 0, attrs


def check(images, two_objects: bool = False) -> CheckResult:
    """Validity and attributes of uint8 images (N, 16, 16, 3) against every clean scene."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (S.SIZE, S.SIZE, 3) or images.dtype != np.uint8:
        raise UserError(
            f"check expects uint8 images (N, {S.SIZE}, {S.SIZE}, 3), got {images.dtype} "
            f"{tuple(images.shape)}"
        )
    if not two_objects:
        valid, attrs = _lookup(images, _table(None))
        return CheckResult(valid, {k: attrs[:, j] for j, k in enumerate(KEYS)})
    halves = [_lookup(images[:, :, h * S.QUAD : (h + 1) * S.QUAD], _table(h)) for h in (0, 1)]
    valid = halves[0][0] & halves[1][0]
    attrs = np.stack([halves[0][1], halves[1][1]], axis=1)  # (N, 2, 5)
    return CheckResult(valid, {k: attrs[:, :, j] for j, k in enumerate(KEYS)})


def n_clean(two_objects: bool = False) -> int:
    """How many distinct clean images exist (1024, or 512 x 512 for two objects)."""
    return len(_table(None)) if not two_objects else len(_table(0)) * len(_table(1))
