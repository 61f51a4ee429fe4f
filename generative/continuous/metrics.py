"""The 2D metric protocol (fixed; see DESIGN.md): exact W2 in the training set's standardized
coordinates, beside the i.i.d. floor a perfect sampler would score, mass per mode and the share
of points far from the data. Medians over evaluation seeds.

Beside W2 (kept for continuity) it reports the divergence D: the energy distance and an MMD at the
noise's scale to a fixed reference (each zero in expectation only for the true distribution), as
their excess over a perfect sampler in units of its spread; the exact diagnostics of a toy set's
generator; and for each the band a perfect sampler (fresh true draws) lands in under the same
protocol. benchmarks/metric_noise.py measures both metrics' bands against the gaps they resolve."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import ot

from generative.continuous.data import Split, load_dataset, make_toy
from generative.continuous.divergences import (
    energy_distance,
    kernel_sum,
    mean_distance_within,
    mmd2,
)
from generative.continuous.report2d import Report2D, with_bands
from generative.continuous.toy_diagnostics import diagnose

N_EVAL = 2000  # points per side of every W2
EVAL_SEEDS = 5
OFF_DATA = 0.25  # std-units: a sample farther than this from every reference point is off the data
POOL = 100_000  # size of the true-data pool the floor draws from
REFERENCE_SEED = 1_000_003  # reference draws use seeds REFERENCE_SEED + eval seed
# A folder (environment variable) where floors are kept by the content of their two point sets:
# the claims lab sets it, since all arms of all experiments share a few floors, each an exact OT
FLOOR_CACHE_ENV = "GENERATIVE_FLOOR_CACHE"
ED_REF_DRAWS = 2  # the divergence's fixed reference: 2 reference draws of n (4000 points)
ED_REF_SEED = 10_000  # ... with evaluation seeds ED_REF_SEED + 0, 1 (never an evaluation seed)
BANDWIDTH = 0.05  # the MMD's Gaussian kernel, std units: the scale of moons' noise (0.035..0.06)
NULL_DRAWS = 60  # perfect-sampler draws behind each band (single seeds; medians by resampling)
NULL_SEED = 100_000  # ... floor_points(NULL_SEED + j), never a floor seed


# region: w2
def w2(x: np.ndarray, y: np.ndarray) -> float:
    """Exact 2-Wasserstein distance between two equal-weight point clouds."""
    cost = ot.dist(x.astype(np.float64), y.astype(np.float64))  # squared Euclidean, (n, m)
    return float(np.sqrt(ot.emd2(ot.unif(len(x)), ot.unif(len(y)), cost, numItermax=10**7)))


# endregion


# region: w2_per_mode
def w2_per_mode(x, x_mode, ref_x, ref_y) -> list[float]:
    """W2 within each mode after the mode split is matched: mode k's samples (x_mode == k) against
    the reference's mode-k points, each side weighted uniformly. The split itself is reported
    beside it (mode_mass), so the expensive part of W2 on moons, moving mass between moons, no
    longer hides how well each moon is drawn. NaN for a mode with no samples."""
    out = []
    for k in range(int(ref_y.max()) + 1):
        a, b = x[x_mode == k], ref_x[ref_y == k].astype(np.float64)
        out.append(w2(a, b) if len(a) and len(b) else float("nan"))
    return out


# endregion


_KEPT: dict = {}  # in this process: a reference's null band is computed once, whatever asks


def _kept(arrays, tag: str, compute):
    """compute(), kept in this process and as JSON in the folder $GENERATIVE_FLOOR_CACHE (when
    set) by the bytes of the arrays and a tag: a kept value is only reused for the same inputs."""
    h = hashlib.sha256(tag.encode())
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    key = h.hexdigest()[:24]
    folder = os.environ.get(FLOOR_CACHE_ENV)
    if key in _KEPT:
        return _KEPT[key]
    if not folder:
        _KEPT[key] = compute()
        return _KEPT[key]
    path = Path(folder) / f"{key}.json"
    if path.exists():
        return json.loads(path.read_text())
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # atomic: two workers may race on one entry
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)
    return value


def floor_w2(floor_x: np.ndarray, ref_x: np.ndarray) -> float:
    """w2(floor_x, ref_x), kept in $GENERATIVE_FLOOR_CACHE (when set) by both point sets."""
    return _kept([floor_x, ref_x], "", lambda: w2(floor_x, ref_x))


def floor_per_mode(floor_x: np.ndarray, ref_x: np.ndarray, ref_y: np.ndarray) -> list[float]:
    """w2_per_mode of a perfect sampler (floor_x, its modes by the same nearest-reference rule),
    kept like floor_w2."""

    def compute():
        d = ot.dist(floor_x.astype(np.float64), ref_x.astype(np.float64))
        return w2_per_mode(floor_x, ref_y[d.argmin(axis=1)], ref_x, ref_y)

    return _kept([floor_x, ref_x, ref_y], "per mode", compute)


def _code_tag() -> str:
    """The source of the scores a null band holds: a band kept by older code is never reused."""
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in ("metrics.py", "divergences.py", "toy_diagnostics.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


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
        self._ed, self._null = None, None  # computed on first use

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

    def divergence_reference(self):
        """The fixed reference (m, D) of the energy distance and the MMD, and their within terms
        E|Y - Y'| and E k(Y, Y'): for a toy set ED_REF_DRAWS reference draws (never an
        evaluation seed's), for a file its held-out split."""
        if self._ed is None:
            if self.toy:
                draws = [self.reference(ED_REF_SEED + j)[0] for j in range(ED_REF_DRAWS)]
                y = np.concatenate(draws).astype(np.float64)
            else:
                y = self.enc(self.split.heldout.x).astype(np.float64)
            m = len(y)

            def within():
                return [mean_distance_within(y), (kernel_sum(y, y, BANDWIDTH) - m) / (m * (m - 1))]

            self._ed = (y, *_kept([y], f"within {BANDWIDTH}", within))
        return self._ed

    def scores(self, x: np.ndarray) -> dict:
        """One seed's numbers beside W2: energy distance, MMD^2, and a toy set's diagnostics."""
        y, yy, kyy = self.divergence_reference()
        x = np.asarray(x, dtype=np.float64)
        out = {"energy": energy_distance(x, y, yy), "mmd": mmd2(x, y, BANDWIDTH, kyy)}
        if self.toy:
            out.update(diagnose(self.spec, self.split.standardizer.decode(x), self.kw.get("noise")))
        return out

    def null(self) -> list[dict]:
        """scores() of NULL_DRAWS perfect samplers (fresh true draws), one seed each."""
        if self._null is None:
            y = self.divergence_reference()[0]
            tag = f"null {type(self).__name__} {self.spec} {self.n} {NULL_DRAWS} {_code_tag()}"
            self._null = _kept(
                [y],
                tag,
                lambda: [self.scores(self.floor_points(NULL_SEED + j)) for j in range(NULL_DRAWS)],
            )
        return self._null


# region: evaluate
def evaluate(samples_for_seed, ref: Reference, seeds: int = EVAL_SEEDS, exact_ot=True) -> Report2D:
    """samples_for_seed(seed) -> (n, D) standardized samples. Scores each evaluation seed against
    its own reference draw, and the floor against the same reference; reports medians, and the
    divergence and diagnostics beside a perfect sampler's bands. exact_ot=False: those alone
    (W2, floor and the nearest-point shares left as NaN), at a fraction of the cost."""
    w2s, floors, offs, masses, rows, modes, mode_floors = [], [], [], [], [], [], []
    for seed in range(seeds):
        x = np.asarray(samples_for_seed(seed), dtype=np.float64)[: ref.n]
        rows.append(ref.scores(x))
        if not exact_ot:
            continue
        ref_x, ref_y = ref.reference(seed)
        w2s.append(w2(x, ref_x))
        floors.append(floor_w2(ref.floor_points(seed), ref_x))
        nearest = ot.dist(x, ref_x.astype(np.float64))  # (n, n) squared distances
        offs.append(float((nearest.min(axis=1) > OFF_DATA**2).mean()))
        if ref_y is not None:
            k = int(ref_y.max()) + 1
            x_mode = ref_y[nearest.argmin(axis=1)]  # each sample's mode: its nearest reference's
            masses.append(np.bincount(x_mode, minlength=k) / len(x))
            modes.append(w2_per_mode(x, x_mode, ref_x, ref_y))
            mode_floors.append(floor_per_mode(ref.floor_points(seed), ref_x, ref_y))
    nan = float("nan")
    w, f = (float(np.median(w2s)), float(np.median(floors))) if exact_ot else (nan, nan)
    mass = np.median(np.stack(masses), axis=0).round(4).tolist() if masses else []
    off = float(np.median(offs)) if exact_ot else nan
    rep = Report2D(w, f, w / f, mass, off, ref.n, seeds, w2_by_seed=w2s, floor_by_seed=floors)
    if modes:  # medians over seeds, per mode; the ratio: the modes' mean ratio to their floors
        rep.w2_modes = np.nanmedian(modes, axis=0).tolist()
        rep.floor_modes = np.median(mode_floors, axis=0).tolist()
        rep.ratio_modes = float(np.nanmean(np.divide(rep.w2_modes, rep.floor_modes)))
    return with_bands(rep, rows, ref.null())


# endregion
