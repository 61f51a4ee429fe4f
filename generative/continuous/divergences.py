"""Two-sample divergences whose expectation is zero only when the samples come from the reference's
distribution: the energy distance (Szekely & Rizzo) and the kernel MMD (Gretton et al. 2012), both
as unbiased U-statistics, so a perfect sampler scores about 0 (sometimes a little below), not a
positive floor that depends on the sample size the way W2's does.

    energy distance  D(P, Q) = 2 E|X - Y| - E|X - X'| - E|Y - Y'|,   X, X' ~ P and Y, Y' ~ Q
    MMD^2            (P, Q) = E k(X, X') + E k(Y, Y') - 2 E k(X, Y)

The energy distance is the MMD of the kernel -|x - y| (up to a factor 2): no bandwidth to choose.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

CUTOFF = 7.0  # Gaussian kernel: pairs beyond 7 bandwidths count as 0
CHUNK = 1024  # rows per distance block: a (1024, 10_000) float64 block is 80 MB


def _blocks(x: np.ndarray, y: np.ndarray, fn):
    """sum of fn(distance block) over all pairs (x_i, y_j), a row block at a time."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return sum(float(fn(cdist(x[i : i + CHUNK], y)).sum()) for i in range(0, len(x), CHUNK))


def mean_distance(x: np.ndarray, y: np.ndarray) -> float:
    """E|X - Y| over all n x m pairs."""
    return _blocks(x, y, lambda d: d) / (len(x) * len(y))


def mean_distance_within(x: np.ndarray) -> float:
    """E|X - X'| over the n (n - 1) pairs i != j (the diagonal's zeros left out: unbiased)."""
    return _blocks(x, x, lambda d: d) / (len(x) * (len(x) - 1))


# region: energy
def energy_distance(x: np.ndarray, y: np.ndarray, yy: float | None = None) -> float:
    """Unbiased energy distance between samples x (n, D) and reference y (m, D). yy: E|Y - Y'|
    if already known (a fixed reference's is computed once)."""
    yy = mean_distance_within(y) if yy is None else yy
    return 2 * mean_distance(x, y) - mean_distance_within(x) - yy


# endregion


def kernel_sum(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    """sum over all pairs of exp(-|x_i - y_j|^2 / (2 bandwidth^2)), pairs farther apart than
    CUTOFF bandwidths left out (each adds < 3e-11): a k-d tree finds the near pairs only."""
    tx, ty = cKDTree(np.asarray(x, np.float64)), cKDTree(np.asarray(y, np.float64))
    d = tx.sparse_distance_matrix(ty, CUTOFF * bandwidth, output_type="ndarray")["v"]
    return float(np.exp(-(d**2) / (2 * bandwidth**2)).sum())  # i = j pairs included (d = 0)


def mmd2(x: np.ndarray, y: np.ndarray, bandwidth: float, kyy: float | None = None) -> float:
    """Unbiased MMD^2 with the Gaussian kernel exp(-|x - y|^2 / (2 bandwidth^2)). kyy: the
    reference's within term if already known."""
    n, m = len(x), len(y)
    kxx = (kernel_sum(x, x, bandwidth) - n) / (n * (n - 1))  # k(x, x) = 1: the diagonal left out
    if kyy is None:
        kyy = (kernel_sum(y, y, bandwidth) - m) / (m * (m - 1))
    return kxx + kyy - 2 * kernel_sum(x, y, bandwidth) / (n * m)
