"""The exact marginal velocity field of a finite data set (linear path): one point pulls every x
onto itself, the field solves the continuity equation of the mixture path, agrees with a
brute-force numpy posterior average, and its ODE reproduces training points (memorisation)."""

from __future__ import annotations

import math

import numpy as np
import torch

from generative.continuous.flow_matching import exact_marginal_velocity, solve_ode


def field(data):
    return lambda x, t: exact_marginal_velocity(x, t, data)


def test_single_point_field_carries_every_x_to_it():
    x1 = torch.tensor([[0.7, -1.2]], dtype=torch.float64)
    x = 3 * torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    t = torch.rand(64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    # one point: the weight is 1, so the field is the conditional one, (x1 - x) / (1 - t)
    torch.testing.assert_close(exact_marginal_velocity(x, t, x1), (x1 - x) / (1 - t)[:, None])
    end, _ = solve_ode(field(x1), x, 20, "euler", t1=1 - 1e-6)  # the path is straight: exact
    assert (end - x1).norm(dim=1).max() < 1e-4


def mixture_density(x, t, data):
    """p_t(x) = mean_i N(x; t x1_i, (1 - t)^2 I) in 2D, numpy, float64."""
    s2 = (1 - t) ** 2
    sq = ((x[:, None, :] - t * data[None]) ** 2).sum(-1)  # (B, N)
    return np.exp(-sq / (2 * s2)).mean(1) / (2 * np.pi * s2)


def brute_force_velocity(x, t, data):
    """sum_i p(x | x1_i) u(x | x1_i) / sum_i p(x | x1_i): Bayes' rule written out, no softmax."""
    s2 = (1 - t) ** 2
    dens = np.exp(-((x[:, None, :] - t * data[None]) ** 2).sum(-1) / (2 * s2))  # (B, N)
    cond = (data[None] - x[:, None, :]) / (1 - t)  # (B, N, D)
    return (dens[..., None] * cond).sum(1) / dens.sum(1, keepdims=True)


def velocity_np(x, t, data):
    """The function under test on numpy arrays, at one time t for every x."""
    tt = torch.full((len(x),), t, dtype=torch.float64)
    return exact_marginal_velocity(torch.from_numpy(x), tt, torch.from_numpy(data)).numpy()


TWO = np.array([[-1.0, 0.5], [1.5, -0.3]])


def test_two_points_match_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    for t in (0.0, 0.3, 0.6, 0.8):  # later t: the unstabilised densities underflow to 0 / 0
        np.testing.assert_allclose(
            velocity_np(x, t, TWO), brute_force_velocity(x, t, TWO), rtol=1e-9, atol=1e-9
        )


def test_two_points_solve_the_continuity_equation():
    """d p_t / dt + div(p_t u_t) = 0, by central differences in t and in each axis."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 2))
    h = 1e-4

    def flux(x, t):  # p_t u_t, (B, D)
        return mixture_density(x, t, TWO)[:, None] * velocity_np(x, t, TWO)

    for t in (0.2, 0.5, 0.8):
        dp_dt = (mixture_density(x, t + h, TWO) - mixture_density(x, t - h, TWO)) / (2 * h)
        div = sum(
            (flux(x + h * e, t)[:, d] - flux(x - h * e, t)[:, d]) / (2 * h)
            for d, e in enumerate(np.eye(2))
        )
        scale = np.abs(dp_dt).max()
        np.testing.assert_allclose(dp_dt + div, 0, atol=1e-5 * scale)


def nearest(x, data):
    """Distance to, and index of, each x's nearest data point (exact, not via a matmul)."""
    return torch.cdist(x, data, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1)


def test_ode_of_exact_field_memorises_training_points():
    """Integrated to t = 1 - 1e-3, the samples land on training points (far closer than fresh
    draws from the same law), spread over many of them rather than collapsing onto a few."""
    g = torch.Generator().manual_seed(0)
    data, x0, fresh = (torch.randn(n, 2, generator=g) for n in (100, 500, 500))
    x, _ = solve_ode(field(data), x0, 50, "rk4", t1=1 - 1e-3)
    assert torch.isfinite(x).all()  # far from every centre the logits reach ~ -1e6: stable
    dist, idx = nearest(x, data)
    # most land within ~(1 - t1) |x0 - x1|; uniform steps are coarse where the field is stiff
    # (1 - t ~ h) and a few samples, caught between two points, stop short (see the next test)
    assert dist.median() < 0.005 and dist.max() < 0.1, (dist.median(), dist.max())
    assert nearest(fresh, data).values.median() > 20 * dist.median()
    assert len(idx.unique()) > 50


def test_ode_in_log_time_lands_every_sample():
    """In s = -log(1 - t) the field becomes (1 - t) u = sum_i w_i x1_i - x, bounded and smooth:
    the same 50 rk4 steps put every sample within (1 - t1) |x0 - x1| of a training point."""
    g = torch.Generator().manual_seed(0)
    data, x0 = torch.randn(100, 2, generator=g), torch.randn(500, 2, generator=g)

    def f(x, s):
        t = 1 - torch.exp(-s)
        return (1 - t)[:, None] * exact_marginal_velocity(x, t, data)

    x, _ = solve_ode(f, x0, 50, "rk4", t1=-math.log(1e-3))
    dist, idx = nearest(x, data)
    assert dist.max() < 1e-3 * (x0[:, None] - data[None]).norm(dim=-1).max()
    assert len(idx.unique()) > 50
