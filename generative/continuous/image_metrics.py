"""The image metric, offline: Frechet distance in our own classifier's feature space beside the
real-versus-real floor, and the share of conditional samples classified as the requested label.

Protocol. The reference is the data's held-out split (n images the generator never saw). A model
is scored on n generated images against it; the floor is n *training* images against the same
reference, so the ratio FD / floor reads like the 2D protocol's W2 ratio: 1 means as close to
the held-out images as real images are. Medians over evaluation seeds (new samples, new floor
subsets). Frechet distance between Gaussians fitted to two feature sets (Heusel et al. 2017):
    FD = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from generative.continuous.data import load_dataset
from generative.continuous.judge import cached_classifier, predict
from generative.errors import UserError


# region: frechet
def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """FD between Gaussians fitted to two (N, F) feature sets; symmetric square roots only."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    w, v = np.linalg.eigh(s1)
    s1_half = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.linalg.eigvalsh(s1_half @ s2 @ s1_half)  # eigenvalues of a PSD matrix
    tr_sqrt = np.sqrt(np.clip(cross, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


# endregion


@dataclass
class ImageReport:
    """Medians over evaluation seeds; accuracy is None for unconditional samples."""

    fd: float
    floor: float
    ratio: float
    accuracy: float | None
    n: int
    classifier_accuracy: float
    seeds: int

    def line(self) -> str:
        acc = "" if self.accuracy is None else f", conditional accuracy {100 * self.accuracy:.1f}%"
        return (
            f"FD {self.fd:.2f} (floor {self.floor:.2f}, {self.ratio:.2f}x){acc}; n={self.n}, "
            f"{self.seeds} seed(s), judge {100 * self.classifier_accuracy:.1f}% on held-out"
        )

    def to_json(self) -> dict:
        return asdict(self)


class ImageReference:
    """Held-out images, their features, and the classifier (cached in cache_dir)."""

    def __init__(self, spec: str, cache_dir):
        self.split, self.cache_dir = load_dataset(spec), Path(cache_dir)
        train, held = self.split.train, self.split.heldout
        if train.x.ndim != 4:
            raise UserError(f"'{spec}' is not an image data set; the image metric needs images")
        if train.labels is None:
            raise UserError(
                f"'{spec}' has no labels (no class subfolders): the image metric trains a "
                "classifier on labelled images"
            )
        self.net, self.classifier_accuracy = cached_classifier(cache_dir, spec, train, held)
        self.held_features = predict(self.net, held.x)[0]
        self.n, self.num_classes = len(held.x), train.num_classes

    def floor(self, seed: int) -> float:
        """FD of n training images (a seeded subset) against the held-out set."""
        x = self.split.train.x
        pick = np.random.default_rng(seed).choice(len(x), min(self.n, len(x)), replace=False)
        return frechet_distance(predict(self.net, x[pick])[0], self.held_features)

    def score(self, x: np.ndarray, y: np.ndarray | None = None) -> tuple[float, float | None]:
        """(FD against the held-out set, share classified as y) for images in [-1, 1]."""
        feats, pred = predict(self.net, np.clip(x, -1, 1).astype(np.float32))
        acc = None if y is None else float((pred == y).mean())
        return frechet_distance(feats, self.held_features), acc


def balanced_labels(n: int, num_classes: int) -> np.ndarray:
    return np.arange(n) % num_classes


def evaluate_images(draw, ref: ImageReference, seeds: int = 3) -> ImageReport:
    """draw(seed, n) -> (images (n, C, H, W) in [-1, 1], requested labels or None)."""
    fds, floors, accs = [], [], []
    for seed in range(seeds):
        x, y = draw(seed, ref.n)
        fd, acc = ref.score(x, y)
        fds.append(fd)
        floors.append(ref.floor(seed))
        accs.append(acc)
    fd, floor = float(np.median(fds)), float(np.median(floors))
    acc = None if accs[0] is None else float(np.median(accs))
    return ImageReport(fd, floor, fd / floor, acc, ref.n, ref.classifier_accuracy, seeds)


def run_drawer(run, sampler=None, steps=None, guidance=1.0, conditional=None):
    """A draw(seed, n) for a trained image run: balanced labels when the run is conditional."""
    from generative.continuous.sampling import sample

    conditional = bool(run.num_classes) if conditional is None else conditional

    def draw(seed, n):
        y = balanced_labels(n, run.num_classes) if conditional else None
        yt = None if y is None else torch.from_numpy(y)
        res = sample(run.method, run.net, run.shape, n, sampler, steps, yt, guidance, seed)
        draw.nfe = res.nfe
        return res.x.numpy(), y

    draw.nfe = None
    return draw
