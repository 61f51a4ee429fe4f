"""The 2D metric protocol (fixed; see DESIGN.md): exact W2 in the training set's standardized
coordinates, beside the i.i.d. floor a perfect sampler would score, mass per mode and the share
of points far from the data. Medians over evaluation seeds."""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import ot

from generative.continuous.data import Split, load_dataset, make_toy

N_EVAL = 2000  # points per side of every W2
EVAL_SEEDS = 5
OFF_DATA = 0.25  # std-units: a sample farther than this from every reference point is off the data
POOL = 100_000  # size of the true-data pool the floor draws from
REFERENCE_SEED = 1_000_003  # reference draws use seeds REFERENCE_SEED + eval seed
# A folder (environment variable) where floors are kept by the content of their two point sets:
# the claims lab sets it, since all arms of all experiments share a few floors, each an exact OT
FLOOR_CACHE_ENV = "GENERATIVE_FLOOR_CACHE"


# region: w2
def w2(x: np.ndarray, y: np.ndarray) -> float:
    """Exact 2-Wasserstein distance between two equal-weight point clouds."""
    cost = ot.dist(x.astype(np.float64), y.astype(np.float64))  # squared Euclidean, (n, m)
    return float(np.sqrt(ot.emd2(ot.unif(len(x)), ot.unif(len(y)), cost, numItermax=10**7)))


# endregion


@dataclass
class Report2D:
    """Medians over evaluation seeds; mode_mass[i] is the share of samples nearest mode i."""

    w2: float
    floor: float
    ratio: float
    mode_mass: list[float]
    off_data: float
    n: int
    eval_seeds: int

    def line(self) -> str:
        mass = "/".join(f"{m:.2f}" for m in self.mode_mass) if self.mode_mass else "-"
        return (
            f"W2 {self.w2:.4f}  floor {self.floor:.4f}  ratio {self.ratio:.2f}x  "
            f"mode mass {mass}  off-data {100 * self.off_data:.1f}%"
        )

    def to_json(self):
        return asdict(self)


def floor_w2(floor_x: np.ndarray, ref_x: np.ndarray) -> float:
    """w2(floor_x, ref_x), kept in the folder $GENERATIVE_FLOOR_CACHE (when set) by the bytes
    of both point sets, so a cached value is only ever reused for the very same points."""
    folder = os.environ.get(FLOOR_CACHE_ENV)
    if not folder:
        return w2(floor_x, ref_x)
    h = hashlib.sha256()
    for a in (floor_x, ref_x):
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    path = Path(folder) / f"{h.hexdigest()[:24]}.txt"
    if path.exists():
        return float(path.read_text())
    value = w2(floor_x, ref_x)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # atomic: two workers may race on one floor
    tmp.write_text(repr(value))
    os.replace(tmp, path)
    return value


class Reference:
    """Where reference and floor points come from, all in standardized coordinates: fresh draws
    and a large pool for a named toy set, the held-out and training splits for a user's file."""

    def __init__(self, spec: str, split: Split | None = None, n: int = N_EVAL, noise=None):
        self.spec = spec
        self.kw = {} if noise is None else {"noise": noise}  # a toy set's noise, if not default
        self.split = split or load_dataset(spec, noise=noise)
        self.enc = self.split.standardizer.encode
        self.toy = self.split.heldout is None
        if self.toy:
            self.pool = self.enc(make_toy(spec, POOL, seed=REFERENCE_SEED - 1, **self.kw).x)
            self.n = n
        else:
            self.n = min(n, len(self.split.heldout.x))

    @classmethod
    def for_run(cls, cfg, n: int = N_EVAL) -> Reference:
        """The reference a trained run is scored against: its own training split's coordinates
        (cfg: the run's TrainConfig) and its toy set's noise."""
        split = load_dataset(cfg.data, cfg.n_train, cfg.seed, cfg.noise)
        return cls(cfg.data, split, n, cfg.noise)

    def reference(self, seed: int):
        """(points, labels or None) for one evaluation seed."""
        if self.toy:
            d = make_toy(self.spec, self.n, seed=REFERENCE_SEED + seed, **self.kw)
            return self.enc(d.x), d.labels
        held = self.split.heldout.x
        idx = np.random.default_rng(seed).choice(len(held), self.n, replace=False)
        return self.enc(held[idx]), None

    def floor_points(self, seed: int):
        """What a perfect sampler would hand in: i.i.d. true points."""
        rng = np.random.default_rng(REFERENCE_SEED + 7919 * (seed + 1))
        if self.toy:
            return self.pool[rng.choice(len(self.pool), self.n, replace=True)]
        train = self.enc(self.split.train.x)
        return train[rng.choice(len(train), self.n, replace=len(train) < self.n)]


# region: evaluate
def evaluate(samples_for_seed, ref: Reference, seeds: int = EVAL_SEEDS) -> Report2D:
    """samples_for_seed(seed) -> (n, D) standardized samples. Scores each evaluation seed against
    its own reference draw, and the floor against the same reference; reports medians."""
    w2s, floors, offs, masses = [], [], [], []
    for seed in range(seeds):
        ref_x, ref_y = ref.reference(seed)
        x = np.asarray(samples_for_seed(seed), dtype=np.float64)[: ref.n]
        w2s.append(w2(x, ref_x))
        floors.append(floor_w2(ref.floor_points(seed), ref_x))
        nearest = ot.dist(x, ref_x.astype(np.float64))  # (n, n) squared distances
        offs.append(float((nearest.min(axis=1) > OFF_DATA**2).mean()))
        if ref_y is not None:
            k = int(ref_y.max()) + 1
            masses.append(np.bincount(ref_y[nearest.argmin(axis=1)], minlength=k) / len(x))
    w, f = float(np.median(w2s)), float(np.median(floors))
    mass = np.median(np.stack(masses), axis=0).round(4).tolist() if masses else []
    return Report2D(w, f, w / f, mass, float(np.median(offs)), ref.n, seeds)


# endregion
