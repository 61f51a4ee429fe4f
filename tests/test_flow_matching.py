"""Flow matching checked analytically: paths, eps <-> v <-> x1 conversions, solver orders on
an ODE with a known solution, and the exact velocity field of Gaussian data."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from generative.continuous.diffusion import DDPM
from generative.continuous.flow_matching import (
    LinearPath,
    VPPath,
    cfm_loss,
    make_path,
    solve_ode,
)
from generative.errors import UserError

ORDERS = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}
EVALS_PER_STEP = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}

# Gaussian data N(M, diag(S^2))
M, S = torch.tensor([1.5, -1.0]), torch.tensor([0.5, 2.0])


def gaussian_velocity(x, t):
    """E[x1 - x0 | x_t] on the linear path for x1 ~ N(M, S^2), x0 ~ N(0, I): x_t is Gaussian
    with mean t M and variance V = (1 - t)^2 + t^2 S^2, Cov(x1 - x0, x_t) = t S^2 - (1 - t),
    so the conditional mean is linear: M + Cov / V (x_t - t M)."""
    t = t[:, None].to(x.dtype)
    var = (1 - t) ** 2 + t**2 * S**2
    return M + (t * S**2 - (1 - t)) / var * (x - t * M)


def vp_paths():
    return {
        "vp-trig": VPPath(),
        "vp-ddpm-linear": VPPath.from_alphas_cumprod(DDPM("linear").alphas_cumprod),
        "vp-ddpm-cosine": VPPath.from_alphas_cumprod(DDPM("cosine").alphas_cumprod),
    }


# region: paths
def test_linear_path_interpolates_and_targets_the_difference():
    """LinearPath.sample: x_t = (1 - t) x0 + t x1 per sample, velocity x1 - x0."""
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(4, 1, 3, 3, generator=g), torch.randn(4, 1, 3, 3, generator=g)
    t = torch.tensor([0.0, 0.25, 0.7, 1.0])
    x_t, u = LinearPath().sample(x0, x1, t)
    tt = t.view(4, 1, 1, 1)
    assert torch.allclose(x_t, (1 - tt) * x0 + tt * x1, atol=1e-6)
    assert torch.allclose(u, x1 - x0, atol=1e-6)
    assert torch.equal(x_t[0], x0[0]) and torch.equal(x_t[3], x1[3])  # t = 0 noise, t = 1 data


@pytest.mark.parametrize("name", list(vp_paths()))
def test_vp_paths_preserve_variance(name):
    """alpha(t)^2 + sigma(t)^2 = 1 on the whole of [0, 1]."""
    a, s, _, _ = vp_paths()[name].coefficients(torch.linspace(0, 1, 1001, dtype=torch.float64))
    assert torch.allclose(a**2 + s**2, torch.ones_like(a), atol=1e-12)
    assert (a >= 0).all() and (s >= 0).all()
    assert (a.diff() >= 0).all()  # more data as t -> 1


@pytest.mark.parametrize("name", list(vp_paths()))
def test_vp_derivatives_match_finite_differences(name):
    """d alpha/dt and d sigma/dt agree with central differences (inside one interpolation piece
    for DDPM's path: c = (T - 1)(1 - t) at half-integers)."""
    path = vp_paths()[name]
    if name == "vp-trig":
        t, h = torch.linspace(0.05, 0.95, 19, dtype=torch.float64), 1e-6
    else:
        c = torch.tensor([0.5, 3.5, 100.5, 500.5, 900.5, 997.5], dtype=torch.float64)
        t, h = 1 - c / 999, 1e-3 / 999  # +-h moves c by 1e-3, staying in the piece
    a, s, da, ds = path.coefficients(t)
    a_hi, s_hi, _, _ = path.coefficients(t + h)
    a_lo, s_lo, _, _ = path.coefficients(t - h)
    assert torch.allclose(da, (a_hi - a_lo) / (2 * h), rtol=1e-5, atol=1e-8)
    assert torch.allclose(ds, (s_hi - s_lo) / (2 * h), rtol=1e-5, atol=1e-8)


def test_trig_vp_path_endpoints():
    """The trigonometric VP path is pure noise at t = 0 and pure data at t = 1."""
    a, s, _, _ = VPPath().coefficients(torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert torch.allclose(a, torch.tensor([0.0, 1.0], dtype=torch.float64), atol=1e-12)
    assert torch.allclose(s, torch.tensor([1.0, 0.0], dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_vp_from_alphas_cumprod_hits_ddpm_steps(schedule):
    """t = 0 is k = T-1 (alpha^2 = alphas_cumprod[-1]); t = 1 is k = 0; t = 1 - k/(T-1) is k."""
    abar = DDPM(schedule).alphas_cumprod
    path = VPPath.from_alphas_cumprod(abar)
    ks = torch.tensor([0, 1, 17, 500, 998, 999])
    t = torch.cat([torch.tensor([0.0, 1.0], dtype=torch.float64), 1 - ks.double() / 999])
    a, s, _, _ = path.coefficients(t)
    expected = torch.cat([abar[[-1, 0]], abar[ks]])
    assert torch.allclose(a**2, expected, rtol=1e-9)
    assert torch.allclose(s**2, 1 - expected, rtol=1e-9)


def test_unknown_path_raises_user_error_listing_choices():
    """make_path names the valid paths when given an unknown one."""
    with pytest.raises(UserError, match="linear.*vp"):
        make_path("cosine")


# endregion


# region: conversions
@pytest.mark.parametrize("name", ["linear", *vp_paths()])
def test_conversions_round_trip(name):
    """From known noise x0 (= eps) and data x1: velocity_from_eps, velocity_from_x1 give the
    path's velocity and eps_x1_from_velocity returns (eps, x1), at random t in (0.05, 0.95)."""
    path = LinearPath() if name == "linear" else vp_paths()[name]
    g = torch.Generator().manual_seed(1)
    eps = torch.randn(64, 3, generator=g, dtype=torch.float64)
    x1 = torch.randn(64, 3, generator=g, dtype=torch.float64)
    t = 0.05 + 0.9 * torch.rand(64, generator=g, dtype=torch.float64)
    x_t, v = path.sample(eps, x1, t)
    assert torch.allclose(path.velocity_from_eps(x_t, eps, t), v, atol=1e-9)
    assert torch.allclose(path.velocity_from_x1(x_t, x1, t), v, atol=1e-9)
    eps_hat, x1_hat = path.eps_x1_from_velocity(x_t, v, t)
    assert torch.allclose(eps_hat, eps, atol=1e-9)
    assert torch.allclose(x1_hat, x1, atol=1e-9)
    if name == "linear":
        assert torch.allclose(v, x1 - eps, atol=1e-12)


# endregion


# region: solvers
ODES = {
    # dx/dt = x cos t  ->  x(t) = x(0) exp(sin t)
    "x-cos-t": (lambda x, t: x * torch.cos(t.double())[:, None], lambda t: math.exp(math.sin(t))),
    # dx/dt = -2 t x  ->  x(t) = x(0) exp(-t^2)
    "minus-2tx": (lambda x, t: -2 * t.double()[:, None] * x, lambda t: math.exp(-(t**2))),
}


@pytest.mark.parametrize("ode", list(ODES))
@pytest.mark.parametrize("method", list(ORDERS))
def test_solver_order_of_convergence(method, ode):
    """Halving the step divides the error at t = 2 by 2^p: p = 1, 2, 2, 4 (+- 0.3), float64.
    Step counts are powers of two so every time the solver visits is exact in float32."""
    f, exact = ODES[ode]
    errors = []
    for steps in (32, 64, 128):
        x, _ = solve_ode(f, torch.ones(1, 1, dtype=torch.float64), steps, method, t0=0.0, t1=2.0)
        errors.append(abs(x.item() - exact(2.0)))
    orders = [math.log2(e1 / e2) for e1, e2 in itertools.pairwise(errors)]
    assert all(abs(p - ORDERS[method]) < 0.3 for p in orders), orders


@pytest.mark.parametrize("method", list(ORDERS))
def test_solve_ode_reports_the_evaluations_it_makes(method):
    """NFE = steps x (1, 2, 2, 4), equal to the real count of calls; f gets t of shape (B,)."""
    calls = []

    def f(x, t):
        assert t.shape == (x.shape[0],) and bool(((t >= 0) & (t <= 1)).all())
        calls.append(float(t[0]))
        return -x

    traj = []
    x, nfe = solve_ode(f, torch.ones(3, 2), 8, method, traj=traj)
    assert nfe == 8 * EVALS_PER_STEP[method] == len(calls)
    assert len(traj) == 8 and torch.equal(traj[-1], x)
    assert min(calls) == 0.0


def test_unknown_solver_raises_user_error_listing_valid_names():
    """An unknown solver name is a UserError that lists every valid solver."""
    with pytest.raises(UserError) as info:
        solve_ode(lambda x, t: x, torch.zeros(1, 2), 4, "dopri5")
    message = str(info.value)
    assert "dopri5" in message
    for name in ORDERS:
        assert name in message


# endregion


# region: Gaussian data
def test_exact_gaussian_velocity_transports_noise_to_data():
    """rk4 (20 steps) on the closed-form marginal velocity maps N(0, I) onto N(M, S^2): in 1D
    per axis the flow is the monotone map z -> M + S z, so each point lands on it."""
    n = 20_000
    z = torch.randn(n, 2, generator=torch.Generator().manual_seed(2))
    x, nfe = solve_ode(gaussian_velocity, z, 20, "rk4")
    assert nfe == 80
    assert torch.allclose(x, M + S * z, atol=1e-4)
    assert ((x.mean(0) - M).abs() < 4 * S / math.sqrt(n)).all()
    assert ((x.std(0) - S).abs() < 4 * S / math.sqrt(2 * n)).all()


def test_cfm_loss_is_minimised_by_the_exact_field():
    """The CFM loss of the exact field is its analytic floor E_t[S^2 / V_t] (mean over axes);
    shifting the field by d costs d^2 more, scaling it by 1.1 also costs more."""
    g = torch.Generator().manual_seed(3)
    x1 = M + S * torch.randn(20_000, 2, generator=g)

    def loss(field, seed=4):
        net = lambda x, t, y=None: field(x, t)  # noqa: E731
        g = torch.Generator().manual_seed(seed)
        return cfm_loss(net, LinearPath(), x1, generator=g).item()

    # Var(x1 - x0 | x_t) = S^2 / V_t with V_t = (1 - t)^2 + t^2 S^2 (the algebra collapses)
    t = np.linspace(0, 1, 100_001)
    floor = np.mean([np.trapezoid(s**2 / ((1 - t) ** 2 + t**2 * s**2), t) for s in S.tolist()])
    exact = loss(gaussian_velocity)
    assert exact == pytest.approx(floor, rel=0.03)
    for d in (0.1, -0.1):
        shifted = loss(lambda x, t, d=d: gaussian_velocity(x, t) + d)
        assert shifted > exact
        assert shifted - exact == pytest.approx(d**2, abs=0.005)
    assert loss(lambda x, t: 1.1 * gaussian_velocity(x, t)) > exact + 0.01


# endregion
