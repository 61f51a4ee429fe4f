"""2D toy data sets, user point files, and per-axis standardization.

Every sampler starts from N(0, I), so the data must live on the same scale: we standardize
per axis with the training set's mean and std (gotcha #1), and keep both so samples can be
mapped back into the data's own units.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import make_circles, make_moons

from generative.continuous.image_data import IMAGE_SETS, is_image_spec, load_images
from generative.errors import UserError, unknown_choice


@dataclass
class PointData:
    """Points (N, D) with optional integer mode labels (N,)."""

    x: np.ndarray
    labels: np.ndarray | None = None
    num_classes: int = 0


# region: toy-datasets
def moons(n, rng, noise=0.03):
    """Two interleaved half circles; label 0 is the upper moon."""
    x, y = make_moons(n, noise=noise, random_state=rng.integers(2**31))
    return PointData(x.astype(np.float32), y.astype(np.int64), 2)


def eight_gaussians(n, rng, radius=2.0, std=0.1):
    """Eight small Gaussians evenly spaced on a circle; label = which Gaussian."""
    k = rng.integers(0, 8, size=n)
    angle = 2 * math.pi * k / 8
    centers = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x = centers + std * rng.standard_normal((n, 2))
    return PointData(x.astype(np.float32), k.astype(np.int64), 8)


def checkerboard(n, rng):
    """Uniform on the dark squares of a 4x4 board spanning [-2, 2]^2; label = square index."""
    cells = np.array([(i, j) for i in range(4) for j in range(4) if (i + j) % 2 == 0])
    k = rng.integers(0, len(cells), size=n)
    x = cells[k] - 2.0 + rng.random((n, 2))
    return PointData(x.astype(np.float32), k.astype(np.int64), len(cells))


def spirals(n, rng, noise=0.05):
    """Two interleaved Archimedean spirals; label = arm."""
    arm = rng.integers(0, 2, size=n)
    r = np.sqrt(rng.random(n)) * 3 * math.pi  # sqrt: uniform density along the arm
    theta = r + math.pi * arm
    x = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1) / math.pi
    x = x + noise * rng.standard_normal((n, 2))
    return PointData(x.astype(np.float32), arm.astype(np.int64), 2)


def rings(n, rng, noise=0.03):
    """Two concentric circles (radii 1 and 0.5); label 0 is the outer ring."""
    x, y = make_circles(n, noise=noise, factor=0.5, random_state=rng.integers(2**31))
    return PointData(x.astype(np.float32), y.astype(np.int64), 2)


# endregion

TOY = {
    "moons": moons,
    "8gaussians": eight_gaussians,
    "checkerboard": checkerboard,
    "spirals": spirals,
    "rings": rings,
}


def make_toy(name: str, n: int, seed: int, **kwargs) -> PointData:
    """Draw n points of a named toy set with a seeded generator."""
    if name not in TOY:
        raise unknown_choice("data set", name, TOY)
    return TOY[name](n, np.random.default_rng(seed), **kwargs)


def load_points(path) -> np.ndarray:
    """Read an N x D float array from .npy or .csv; errors name the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file (give a data set name or a .csv/.npy file)")
    if path.suffix == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except Exception as exc:  # numpy raises several types for a bad file
            raise UserError(f"{path}: not a readable .npy array ({exc})") from None
        if x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
            raise UserError(
                f"{path}: expected a 2-D numeric array (N x D), got {x.dtype} {x.shape}"
            )
        bad = np.argwhere(~np.isfinite(x))
        if len(bad):
            raise UserError(f"{path}: row {bad[0][0]} holds NaN or inf; remove or fix that row")
        x = x.astype(np.float32)
    elif path.suffix == ".csv":
        x = _read_csv(path)
    else:
        raise UserError(f"{path}: unsupported file type '{path.suffix}'; use .csv or .npy")
    if len(x) < 2:
        raise UserError(f"{path}: needs at least 2 rows of points, found {len(x)}")
    return x


def _read_csv(path: Path) -> np.ndarray:
    rows, width = [], None
    with open(path, newline="") as f:
        for lineno, row in enumerate(csv.reader(f), start=1):
            if not row or all(not c.strip() for c in row):
                continue
            try:
                values = [float(c) for c in row]
            except ValueError:
                if not rows and lineno == 1:  # a header line
                    continue
                raise UserError(f"{path}, line {lineno}: non-numeric cell in {row}") from None
            if not all(math.isfinite(v) for v in values):
                raise UserError(f"{path}, line {lineno}: NaN or inf in {row}")
            if width is None:
                width = len(values)
            elif len(values) != width:
                raise UserError(
                    f"{path}, line {lineno}: {len(values)} columns where earlier rows have {width}"
                )
            rows.append(values)
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), width or 0)


# region: standardize
@dataclass
class Standardizer:
    """Per-axis affine map to zero mean, unit std; fitted on the training set only."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        std = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(std > 0, std, 1.0))

    @classmethod
    def identity(cls, dim: int) -> Standardizer:
        return cls(np.zeros(dim), np.ones(dim))

    def encode(self, x):
        return ((x - self.mean) / self.std).astype(np.float32)

    def decode(self, z):
        return (z * self.std + self.mean).astype(np.float32)

    def to_json(self):
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_json(cls, d):
        return cls(np.asarray(d["mean"], np.float64), np.asarray(d["std"], np.float64))


# endregion


@dataclass
class Split:
    """Training points, held-out reference points, and the standardizer fitted on training."""

    train: PointData
    heldout: PointData | None
    standardizer: Standardizer


HELDOUT_FRACTION = 0.2  # a user's file keeps this share back for evaluation
MIN_POINTS = 10  # fewer trains on too few points to mean anything


def load_dataset(spec: str, n_train: int = 8000, seed: int = 0, noise=None) -> Split:
    """A named toy set (fresh draws are the reference), a user file, or images (a named set or a
    PNG folder); files and images are split 80/20 with a fixed seed."""
    if is_image_spec(spec):  # already in [-1, 1]: the identity map, one scalar for every pixel
        x, labels, k = load_images(spec)
        perm = np.random.default_rng(0).permutation(len(x))  # fixed: every run sees one split
        n_held = max(1, int(round(HELDOUT_FRACTION * len(x))))
        held, train = perm[:n_held], perm[n_held:]

        def part(i):
            return PointData(x[i], None if labels is None else labels[i], k)

        return Split(part(train), part(held), Standardizer.identity(1))
    if spec in TOY:
        kwargs = {} if noise is None else {"noise": noise}
        train = make_toy(spec, n_train, seed, **kwargs)
        return Split(train, None, Standardizer.fit(train.x))
    if not Path(spec).exists():
        raise unknown_choice("data set (and no such file)", spec, {**TOY, **IMAGE_SETS})
    x = load_points(spec)
    if len(x) < MIN_POINTS:
        raise UserError(
            f"{spec}: {len(x)} points; a data file needs at least {MIN_POINTS} (20% are held out)"
        )
    if np.ptp(x, axis=0).max() == 0:
        raise UserError(f"{spec}: every row is the same point; there is no distribution to learn")
    perm = np.random.default_rng(0).permutation(len(x))  # fixed: evaluate finds the same split
    n_held = max(1, int(round(HELDOUT_FRACTION * len(x))))
    held, train = x[perm[:n_held]], x[perm[n_held:]]
    return Split(PointData(train), PointData(held), Standardizer.fit(train))
