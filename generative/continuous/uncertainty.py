"""Every comparison with its noise: null bands, bootstrap intervals and paired comparisons.

A score means little without the spread it would have by chance. Three small tools:

    null band      where a perfect sampler's score lands (its central `level` share)
    bootstrap      an interval for a statistic of a few seeds' values
    paired         two arms scored on the same seeds: the interval of their mean difference, and a
                   verdict that says "within noise" when that interval includes zero
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95


def quantile_band(values, level: float = LEVEL) -> list[float]:
    """[lo, hi]: the central `level` share of values."""
    a = (1 - level) / 2
    lo, hi = np.quantile(np.asarray(values, dtype=float), [a, 1 - a])
    return [float(lo), float(hi)]


def median_band(per_seed, k: int, level: float = LEVEL, draws: int = 4000, seed: int = 0):
    """The band of the median of k i.i.d. seeds, from single-seed null values: resample k of
    them at a time (each evaluation seed's perfect draw is independent of the others')."""
    per_seed = np.asarray(per_seed, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(per_seed), size=(draws, k))
    return quantile_band(np.median(per_seed[idx], axis=1), level)


def bootstrap_interval(values, stat=np.median, level: float = LEVEL, draws: int = 4000, seed=0):
    """Percentile bootstrap interval of stat(values). With 3 values it has few distinct
    resamples (10): an honest but coarse interval."""
    values = np.asarray(values, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(values), size=(draws, len(values)))
    return quantile_band([stat(values[i]) for i in idx], level)


@dataclass
class Comparison:
    """a - b: mean paired difference, its interval, two-sided p (t-test), units, verdict."""

    diff: float
    lo: float
    hi: float
    p: float
    units: int
    verdict: str

    def line(self) -> str:
        return f"{self.diff:+.3g} [{self.lo:+.3g}, {self.hi:+.3g}], p={self.p:.2g}: {self.verdict}"

    def to_json(self):
        return asdict(self)


# region: paired
def paired_comparison(
    a, b, names=("a", "b"), lower_is_better: bool = True, level: float = LEVEL
) -> Comparison:
    """Arms a and b scored on the same units (training seeds), shape (units,) or (units, repeats)
    with repeats (evaluation seeds) averaged first. The interval is Student's t on the per-unit
    differences (with one unit, its repeats are the units). Verdict: which arm is better, or
    "within noise" when the interval includes zero."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired arms need the same seeds: shapes {a.shape} and {b.shape}")
    if a.ndim == 2 and a.shape[0] == 1:  # one training seed: the evaluation seeds are the units
        a, b = a[0], b[0]
    d = (a - b).mean(axis=1) if a.ndim == 2 else a - b
    n, mean = len(d), float(d.mean())
    if n < 2:
        return Comparison(mean, -np.inf, np.inf, 1.0, n, "within noise (one unit: no interval)")
    se = float(d.std(ddof=1) / np.sqrt(n))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * se)
    p = float(2 * stats.t.sf(abs(mean) / se, n - 1)) if se > 0 else float(mean == 0)
    lo, hi = mean - half, mean + half
    if lo <= 0 <= hi:
        verdict = "within noise"
    else:
        better = names[0] if (mean < 0) == lower_is_better else names[1]
        verdict = f"{better} better"
    return Comparison(mean, lo, hi, p, n, verdict)


# endregion
