"""Flow matching (Lipman et al. 2023; Liu et al. 2023): probability paths, the conditional
flow-matching loss, fixed-step ODE solvers, and the eps <-> v <-> x1 conversions.

Time convention (fixed across the project): t in [0, 1], t = 0 is the prior N(0, I), t = 1 is the
data. Here x0 is the *noise* and x1 the *data*; every path is affine:
    x_t = alpha(t) x1 + sigma(t) x0,   velocity u_t = alpha'(t) x1 + sigma'(t) x0.
"""

from __future__ import annotations

import math

import torch

from generative.errors import unknown_choice
from generative.layers.broadcast import per_sample


class AffinePath:
    """Shared algebra of x_t = alpha x1 + sigma x0; subclasses give alpha, sigma and derivatives."""

    def coefficients(self, t):  # -> alpha, sigma, d_alpha, d_sigma, each shaped like t
        raise NotImplementedError

    # region: conditional-path
    def sample(self, x0, x1, t):
        """A point on the conditional path between noise x0 and data x1, and its velocity."""
        a, s, da, ds = (per_sample(c, x1) for c in self.coefficients(t))
        return a * x1 + s * x0, da * x1 + ds * x0

    # endregion

    # region: conversions
    def velocity_from_eps(self, x_t, eps, t):
        """Given the noise, the data follows from x_t; the velocity is their weighted sum."""
        a, s, da, ds = (per_sample(c, x_t) for c in self.coefficients(t))
        x1 = (x_t - s * eps) / a
        return da * x1 + ds * eps

    def velocity_from_x1(self, x_t, x1, t):
        a, s, da, ds = (per_sample(c, x_t) for c in self.coefficients(t))
        eps = (x_t - a * x1) / s
        return da * x1 + ds * eps

    def eps_x1_from_velocity(self, x_t, v, t):
        """Solve the 2x2 system [x_t; v] = [[a, s], [a', s']] [x1; eps]."""
        a, s, da, ds = (per_sample(c, x_t) for c in self.coefficients(t))
        det = a * ds - s * da
        return (a * v - da * x_t) / det, (ds * x_t - s * v) / det

    # endregion


# region: linear-path
class LinearPath(AffinePath):
    """The straight line (rectified flow / OT-CFM with sigma_min = 0): alpha = t, sigma = 1 - t."""

    def coefficients(self, t):
        t = torch.as_tensor(t, dtype=torch.float64)
        one = torch.ones_like(t)
        return t, 1 - t, one, -one


# endregion


# region: vp-path
class VPPath(AffinePath):
    """Variance preserving: alpha^2 + sigma^2 = 1. By default the trigonometric path
    alpha = sin(pi t / 2), sigma = cos(pi t / 2); `from_alphas_cumprod` gives DDPM's own path."""

    def __init__(self, log_abar=None):
        self.log_abar = log_abar  # None: trigonometric; else a DDPM's log alpha-bar, shape (T,)

    @classmethod
    def from_alphas_cumprod(cls, alphas_cumprod: torch.Tensor) -> VPPath:
        """DDPM's chain read as a continuous path: step c = (T - 1)(1 - t), log alpha-bar
        interpolated linearly between integer steps. t = 1 lands on k = 0, not on clean data."""
        return cls(alphas_cumprod.double().log())

    def ddpm_step(self, t):
        """The continuous DDPM index c = (T - 1)(1 - t) for FM time t."""
        return (len(self.log_abar) - 1) * (1 - torch.as_tensor(t, dtype=torch.float64))

    def coefficients(self, t):
        t = torch.as_tensor(t, dtype=torch.float64)
        if self.log_abar is None:
            h = math.pi / 2
            return torch.sin(h * t), torch.cos(h * t), h * torch.cos(h * t), -h * torch.sin(h * t)
        T = len(self.log_abar)
        c = self.ddpm_step(t)
        i = c.floor().clamp(0, T - 2).long()
        slope = self.log_abar[i + 1] - self.log_abar[i]  # d log abar / dc on this piece
        la = self.log_abar[i] + (c - i) * slope
        dla = -(T - 1) * slope  # chain rule: dc/dt = -(T - 1)
        abar = la.exp()
        a, s = abar.sqrt(), (1 - abar).sqrt()
        return a, s, 0.5 * a * dla, -0.5 * abar * dla / s


# endregion


PATHS = {"linear": LinearPath, "vp": VPPath}


def make_path(name: str) -> AffinePath:
    if name not in PATHS:
        raise unknown_choice("path", name, PATHS)
    return PATHS[name]()


# region: cfm-loss
def cfm_loss(net, path: AffinePath, x1, y=None, generator=None, x0=None):
    """Conditional flow matching: regress the network on the conditional velocity. Its minimiser
    is the conditional expectation E[u_t | x_t], which is the marginal velocity field. x0: noise
    already paired with x1 (an OT coupling, reflow's pairs); None: independent draws."""
    if x0 is None:
        x0 = torch.randn(x1.shape, generator=generator).to(x1.device)  # on the CPU generator
    t = torch.rand(x1.shape[0], generator=generator)
    x_t, u_t = path.sample(x0, x1, t)
    return (net(x_t, t.to(x1.device), y) - u_t).pow(2).mean()


# endregion


class FlowMatching:
    """The training objective on a chosen path (the samplers live in sampling.py)."""

    def __init__(self, path: str = "linear"):
        self.path = make_path(path)

    def loss(self, net, x1, y=None, generator=None):
        return cfm_loss(net, self.path, x1, y, generator)


# region: solvers
def euler_step(f, x, t, h):
    return x + h * f(x, t)


def midpoint_step(f, x, t, h):
    return x + h * f(x + 0.5 * h * f(x, t), t + 0.5 * h)


def heun_step(f, x, t, h):
    k1 = f(x, t)
    k2 = f(x + h * k1, t + h)
    return x + 0.5 * h * (k1 + k2)


def rk4_step(f, x, t, h):
    k1 = f(x, t)
    k2 = f(x + 0.5 * h * k1, t + 0.5 * h)
    k3 = f(x + 0.5 * h * k2, t + 0.5 * h)
    k4 = f(x + h * k3, t + h)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


# name -> (step function, network evaluations per step)
SOLVERS = {
    "euler": (euler_step, 1),
    "midpoint": (midpoint_step, 2),
    "heun": (heun_step, 2),
    "rk4": (rk4_step, 4),
}


def solve_ode(f, x, steps: int, method: str = "euler", t0=0.0, t1=1.0, traj=None):
    """Integrate dx/dt = f(x, t) from t0 to t1 with `steps` fixed steps; returns (x, NFE).
    f receives t as a (B,) tensor. If traj is a list, every intermediate x is appended."""
    if method not in SOLVERS:
        raise unknown_choice("ODE solver", method, SOLVERS)
    step, per_step = SOLVERS[method]
    h = (t1 - t0) / steps
    batch_f = lambda x_, t_: f(x_, torch.full((x_.shape[0],), float(t_), dtype=x_.dtype))  # noqa: E731
    for i in range(steps):
        x = step(batch_f, x, t0 + i * h, h)
        if traj is not None:
            traj.append(x)
    return x, steps * per_step


# endregion


# region: exact-field
def exact_marginal_velocity(x, t, data):
    """The marginal velocity of the linear path for a finite data set {x1_i}: the exact minimiser
    of the CFM loss on that set. Each point gives p_t(x | x1_i) = N(t x1_i, (1 - t)^2 I) and
    u(x | x1_i) = (x1_i - x) / (1 - t); the marginal field averages them with the posterior
    weights w_i(x) = softmax_i(-|x - t x1_i|^2 / (2 (1 - t)^2)). x (B, D), t (B,), data (N, D).
    Undefined at t = 1: integrate to t1 < 1. Float64 inside: near t = 1 the logits grow like
    1 / (1 - t)^2 and only their differences matter."""
    xd, d = x.double(), data.double()
    t = per_sample(t, xd)  # (B, 1)
    # |x - t x1_i|^2 = |x|^2 - 2 t x.x1_i + t^2 |x1_i|^2, and |x|^2 is the same for every i, so it
    # cancels in the softmax: the logits are one matmul
    a = t / (1 - t) ** 2  # (B, 1): scaling the small factors first keeps (B, N) passes few
    logits = (a * xd) @ d.T - (0.5 * a * t) * d.pow(2).sum(1)  # (B, N)
    w = torch.softmax(logits, dim=1)  # posterior weights over the data points, (B, N)
    return ((w @ d - xd) / (1 - t)).to(x.dtype)  # sum_i w_i (x1_i - x) / (1 - t): sum w = 1


# endregion
