"""Energy distance and MMD (analytic cases, brute force), the toy sets' exact diagnostics (true data
returns the generator's noise; known defects are named) and the comparison statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from generative.continuous.data import make_toy
from generative.continuous.divergences import energy_distance, mean_distance_within, mmd2
from generative.continuous.toy_diagnostics import curves, default_noise, diagnose
from generative.continuous.uncertainty import (
    bootstrap_interval,
    median_band,
    paired_comparison,
    quantile_band,
)


def cloud(n, seed, shift=0.0):
    return np.random.default_rng(seed).standard_normal((n, 2)) + shift


def test_energy_distance_matches_its_definition_by_brute_force():
    """2 E|X-Y| - E|X-X'| - E|Y-Y'| with the i = j pairs left out of the within-sample means."""
    x, y = cloud(7, 0), cloud(5, 1, 0.3)
    d = lambda a, b: np.linalg.norm(a - b)  # noqa: E731
    xy = np.mean([d(a, b) for a in x for b in y])
    xx = np.mean([d(x[i], x[j]) for i in range(7) for j in range(7) if i != j])
    yy = np.mean([d(y[i], y[j]) for i in range(5) for j in range(5) if i != j])
    assert energy_distance(x, y) == pytest.approx(2 * xy - xx - yy, rel=1e-12)
    assert energy_distance(x, y, yy=mean_distance_within(y)) == energy_distance(x, y)
    assert energy_distance(x, y) == pytest.approx(energy_distance(y, x), rel=1e-12)


def test_energy_distance_of_two_point_masses_is_twice_their_distance():
    """All mass at a against all at b: the within terms vanish, 2 |a - b| is left."""
    x, y = np.zeros((4, 2)), np.tile([3.0, 4.0], (6, 1))
    assert energy_distance(x, y) == pytest.approx(10.0)


def test_energy_distance_is_zero_in_expectation_for_one_distribution_only():
    """Unbiased: over many pairs of same-distribution draws the mean is ~0 (some negative); a
    shift of 0.4 std is positive in every draw."""
    same = [energy_distance(cloud(200, s), cloud(200, 100 + s)) for s in range(40)]
    shifted = [energy_distance(cloud(200, s, 0.4), cloud(200, 100 + s)) for s in range(40)]
    assert abs(np.mean(same)) < 2 * np.std(same) / math.sqrt(40)
    assert min(same) < 0 < max(same)
    assert min(shifted) > 0 and np.mean(shifted) > 5 * np.std(same)


def test_mmd2_matches_brute_force():
    x, y, h = cloud(6, 2), cloud(4, 3, 0.5), 0.7
    k = lambda a, b: math.exp(-np.sum((a - b) ** 2) / (2 * h * h))  # noqa: E731
    kxx = np.mean([k(x[i], x[j]) for i in range(6) for j in range(6) if i != j])
    kyy = np.mean([k(y[i], y[j]) for i in range(4) for j in range(4) if i != j])
    kxy = np.mean([k(a, b) for a in x for b in y])
    assert mmd2(x, y, h) == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-12)


def iid(name, n, seed, **kw):
    """n i.i.d. points of a toy set from a large pool (make_moons alone puts points on a grid)."""
    pool = make_toy(name, 50_000, seed=seed, **kw)
    idx = np.random.default_rng(seed + 1).choice(len(pool.x), n, replace=False)
    return pool.x[idx]


@pytest.mark.parametrize("name", ["moons", "rings", "spirals", "8gaussians"])
@pytest.mark.parametrize("scale", [1.0, 0.5, 2.0])
def test_residual_returns_the_generators_noise_on_true_data(name, scale):
    """True points (default noise, half, double) -> residual RMS within 4% of the noise used."""
    key = "std" if name == "8gaussians" else "noise"
    noise = scale * default_noise(name)
    d = diagnose(name, iid(name, 3000, 7, **{key: noise}), noise=noise)
    assert d["residual_rms"] == pytest.approx(noise, rel=0.04)
    assert d["noise"] == noise and d["far_share"] < 0.01
    assert d["along_ks"] < 0.04  # position along each curve follows the generator's law
    assert sum(d["mode_mass"]) == pytest.approx(1.0)


def test_moons_diagnostics_name_noise_holes_and_one_moon():
    """Double noise: residual 0.06 and ~9% of points 0.1 off; a hole in the upper moon: a large
    KS; points on one moon: all mass there."""
    true = iid("moons", 3000, 3)
    noisy = diagnose("moons", iid("moons", 3000, 3, noise=0.06))
    assert noisy["residual_rms"] == pytest.approx(0.06, rel=0.05) and noisy["far_share"] > 0.05
    assert diagnose("moons", true)["far_share"] < 0.005  # the "about 0.1%"
    angle = np.arctan2(true[:, 1], true[:, 0])
    upper = true[:, 1] > 0.25 * (true[:, 0] < 0.5)  # crude split, only to cut a hole
    holed = true[~(upper & (angle > 1.0) & (angle < 1.6))]
    assert diagnose("moons", holed)["along_ks"] > 0.1
    lower = make_toy("moons", 2000, seed=1)
    one = diagnose("moons", lower.x[lower.labels == 1])
    assert one["mode_mass"] == [0.0, 1.0]


def test_checkerboard_true_points_lie_on_the_dark_squares():
    true = make_toy("checkerboard", 2000, seed=0).x
    d = diagnose("checkerboard", true)
    assert d["residual_rms"] == 0.0 and d["along_ks"] < 0.05
    light = true + np.array([1.0, 0.0])  # shifted onto the light squares (and off the board)
    assert diagnose("checkerboard", light)["residual_rms"] > 0.1


def test_curves_pass_through_the_generators_noise_free_points():
    """Noise-free generator points lie on the polylines (distance < the 1e-3 spacing)."""
    for name in ("moons", "rings", "spirals"):
        x = make_toy(name, 500, seed=0, noise=0.0).x
        assert diagnose(name, x, noise=0.03)["residual_rms"] < 1e-3
    assert curves("checkerboard") is None and diagnose("my_file.csv", np.zeros((3, 2))) is None


def test_bands_and_bootstrap_cover_what_they_should():
    v = np.arange(1001.0)
    assert quantile_band(v, 0.9) == pytest.approx([50.0, 950.0])
    lo, hi = median_band(np.random.default_rng(0).standard_normal(400), k=5)
    assert lo < 0 < hi and hi - lo < 2 * 1.96  # the median of 5 is narrower than one draw
    lo, hi = bootstrap_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert 1.0 <= lo < 3.0 < hi <= 5.0


def test_paired_comparison_says_within_noise_when_the_interval_includes_zero():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3, 5))
    same = paired_comparison(base, base + rng.normal(scale=0.01, size=(3, 5)))
    assert same.verdict == "within noise" and same.lo <= 0 <= same.hi
    better = paired_comparison(base, base + 1.0, names=("new", "old"))
    assert better.verdict == "new better" and better.hi < 0 and better.p < 0.01
    worse = paired_comparison([0.2, 0.3, 0.25], [0.1, 0.1, 0.1], names=("new", "old"))
    assert worse.verdict == "old better" and "old better" in worse.line()
    up = paired_comparison([0.2, 0.3, 0.25], [0.1, 0.1, 0.1], lower_is_better=False)
    assert up.verdict == "a better"
    one = paired_comparison([[1.0, 1.2, 0.9]], [[1.5, 1.6, 1.4]])  # one seed: eval seeds count
    assert one.units == 3 and one.verdict == "a better"
    with pytest.raises(ValueError, match="same seeds"):
        paired_comparison([1.0, 2.0], [1.0])


def test_lab_summaries_carry_d_and_compare_arms_paired():
    """benchmarks.lab: an arm's summary keeps D per training and evaluation seed, its band and
    flags; lab.paired compares two arms on them (one interval per claim)."""
    from benchmarks.lab import paired, summarize

    def score(d, flags=()):
        return {
            "ratio": 1.0, "w2": 0.1, "floor": 0.1, "off_data": 0.0, "train_s": 1.0,
            "divergence": float(np.median(d)), "divergence_band": [-2.0, 1.0],
            "divergence_by_seed": list(d), "flags": list(flags),
            "diagnostics": {
                "residual_rms": 0.03, "far_share": 0.0, "along_ks": 0.02, "noise": 0.03
            },
        }  # fmt: skip

    good = summarize([score([0.1 * s, 0.2, -0.1]) for s in range(3)])
    bad = summarize([score([5.0 + 0.1 * s, 6.0, 5.5], ["too noisy: ..."]) for s in range(3)])
    assert good["divergence_seeds"] == [[0.0, 0.2, -0.1], [0.1, 0.2, -0.1], [0.2, 0.2, -0.1]]
    assert bad["flags_by_seed"][0] == ["too noisy: ..."] and good["residual_rms_median"] == 0.03
    c = paired(good, bad, names=("good", "bad"))
    assert c["verdict"] == "good better" and c["hi"] < 0 and "good better" in c["line"]
    assert paired(good, good)["verdict"] == "within noise"
