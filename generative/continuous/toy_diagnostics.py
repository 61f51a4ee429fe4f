"""Exact diagnostics for toy sets whose generator is known: they say *how* a sampler is wrong, where
a divergence only says *how much*.

Moons, rings and spirals are curves plus Gaussian noise of std sigma: a sample's distance to the
nearest generating curve has RMS sigma (the noise's component across the curve), and its position
along the curve follows a known law (uniform angle on a moon or ring, P(r <= s) = (s / 3 pi)^2 on
a spiral arm). The eight Gaussians are centres plus noise: per-axis RMS offset sigma and a uniform
direction. The checkerboard is uniform on its dark squares: nothing may lie outside them.

    residual_rms  too high: too noisy; too low: too sharp (under-dispersed)
    far_share     points more than FAR_SIGMAS sigma off the support (moons: 0.1 off)
    along_ks      KS statistic of the position along each curve against its law: holes, clumps
    mode_mass     share of points nearest each curve (centre, square): mode imbalance

All in the data's own units (decode standardized samples first).
"""

from __future__ import annotations

import functools
import inspect
import math

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import kstest

from generative.continuous.data import TOY

FAR_SIGMAS = 10 / 3  # moons at noise 0.03: 0.1 off, ~0.1% of true points
STEP = 1e-3  # polyline spacing along a curve, in data units (distance error ~ STEP^2)


def default_noise(name: str) -> float:
    """The noise (or std) a toy set's generator uses when not told otherwise."""
    params = inspect.signature(TOY[name]).parameters
    key = "noise" if "noise" in params else "std"
    return float(params[key].default) if key in params else 0.0


def _circle(radius):
    """A full circle about the origin as (points (P, 2), angle parameter (P,))."""
    t = np.linspace(0, 2 * math.pi, int(2 * math.pi * radius / STEP))
    return np.stack([radius * np.cos(t), radius * np.sin(t)], 1), t


def curves(name: str):
    """Per mode: (polyline (P, 2), parameter (P,), the parameter's CDF), or None."""

    def uniform(a, b):
        return lambda s: np.clip((s - a) / (b - a), 0, 1)

    if name == "moons":  # sklearn: (cos t, sin t) and (1 - cos t, 0.5 - sin t), t in [0, pi]
        t = np.linspace(0, math.pi, int(math.pi / STEP))
        upper = np.stack([np.cos(t), np.sin(t)], 1)
        lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)
        return [(upper, t, uniform(0, math.pi)), (lower, t, uniform(0, math.pi))]
    if name == "rings":  # make_circles(factor=0.5): outer radius 1 (label 0), inner 0.5
        return [(*_circle(r), uniform(0, 2 * math.pi)) for r in (1, 0.5)]
    if name == "spirals":  # r = sqrt(u) 3 pi, theta = r + pi arm, points (r cos, r sin) / pi
        r = np.linspace(0, 3 * math.pi, 30_000)  # spacing <= 1e-3 in data units
        out = []
        for arm in (0, 1):
            theta = r + math.pi * arm
            pts = np.stack([r * np.cos(theta), r * np.sin(theta)], 1) / math.pi
            out.append((pts, r, lambda s: np.clip(s / (3 * math.pi), 0, 1) ** 2))
        return out
    return None


# region: diagnose
def diagnose(name: str, x: np.ndarray, noise: float | None = None) -> dict | None:
    """The diagnostics of points x (n, 2) in data units against toy set `name`'s generator;
    None for a set without one (a user's file)."""
    if name not in TOY:
        return None
    sigma = default_noise(name) if noise is None else float(noise)
    x = np.asarray(x, dtype=np.float64)
    if name == "8gaussians":
        return _centres(x, sigma)
    if name == "checkerboard":
        return _checkerboard(x)
    tree, param, mode, cdfs = _index(name)
    dist, idx = tree.query(x)  # distance to the nearest generating curve
    ks = [
        kstest(param[idx[mode[idx] == k]], cdf).statistic if (mode[idx] == k).sum() > 1 else 1.0
        for k, cdf in enumerate(cdfs)
    ]
    return _report(np.sqrt(np.mean(dist**2)), dist, sigma, max(ks), mode[idx], len(cdfs))


@functools.cache
def _index(name: str):
    """All curves of a set in one k-d tree, with each polyline point's parameter and mode."""
    modes = curves(name)
    pts = np.concatenate([m[0] for m in modes])
    param = np.concatenate([m[1] for m in modes])
    mode = np.concatenate([np.full(len(m[0]), k) for k, m in enumerate(modes)])
    return cKDTree(pts), param, mode, [m[2] for m in modes]


def _report(rms, dist, sigma, ks, labels, k) -> dict:
    return {
        "residual_rms": float(rms),
        "noise": sigma,
        "far_share": float((dist > FAR_SIGMAS * sigma).mean()) if sigma else float(dist.mean()),
        "along_ks": float(ks),
        "mode_mass": (np.bincount(labels, minlength=k) / len(labels)).tolist(),
    }


def _centres(x, sigma, radius=2.0):
    """Eight Gaussians: per-axis RMS offset from the nearest centre, and KS of the offset's
    direction against uniform."""
    angle = 2 * math.pi * np.arange(8) / 8
    centres = radius * np.stack([np.cos(angle), np.sin(angle)], 1)
    k = ((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
    off = x - centres[k]  # (n, 2)
    dist = np.linalg.norm(off, axis=1)
    direction = np.arctan2(off[:, 1], off[:, 0]) % (2 * math.pi)
    ks = kstest(direction, lambda s: s / (2 * math.pi)).statistic
    return _report(np.sqrt(np.mean(dist**2) / 2), dist, sigma, ks, k, 8)


def _checkerboard(x):
    """Uniform on the 8 dark squares of [-2, 2]^2: residual is the distance outside them (0 for
    true points), KS of the position within a square against uniform, per axis."""
    cells = np.array([(i, j) for i in range(4) for j in range(4) if (i + j) % 2 == 0]) - 2.0
    lo = cells[None]  # (1, 8, 2) lower-left corners
    gap = np.maximum(np.maximum(lo - x[:, None], x[:, None] - lo - 1), 0)  # (n, 8, 2)
    d = np.linalg.norm(gap, axis=-1)  # (n, 8) distance to each square
    k = d.argmin(1)
    dist = d[np.arange(len(x)), k]
    frac = np.clip(x - cells[k], 0, 1)
    ks = max(kstest(frac[:, i], "uniform").statistic for i in (0, 1))
    return _report(np.sqrt(np.mean(dist**2)), dist, 0.0, ks, k, len(cells))


# endregion
