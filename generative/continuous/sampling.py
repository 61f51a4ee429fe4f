"""One entry point for every sampler, and classifier-free guidance.

FM nets are sampled by an ODE solver on their velocity. DDPM nets by the ancestral chain, by
DDIM, or by the same ODE solvers on the probability-flow ODE, reached by converting the net's
epsilon into a velocity on DDPM's own variance-preserving path (lesson 07).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from generative.continuous.diffusion import DDPM
from generative.continuous.distill import sample_consistency
from generative.continuous.flow_matching import SOLVERS, VPPath, solve_ode
from generative.errors import UserError

ODE_SOLVERS = tuple(SOLVERS)
SAMPLERS = {
    "fm": ODE_SOLVERS + ("ode", "consistency"),
    "ddpm": ("ancestral", "ddim", "ode") + ODE_SOLVERS,
}
DEFAULT_SAMPLER = {"fm": ("rk4", 4), "ddpm": ("ancestral", 1000)}  # name, steps
DEFAULT_ODE_SOLVER = "heun"  # what "--sampler ode" means


@dataclass
class SampleResult:
    """Samples in the model's (standardized) coordinates, the network evaluations they cost,
    and, when asked for, every intermediate state (steps + 1, n, ...)."""

    x: torch.Tensor
    nfe: int
    trajectory: torch.Tensor | None = None


# region: guidance
def guided(net, y=None, scale: float = 1.0):
    """Classifier-free guidance: out = uncond + scale * (cond - uncond). scale = 1 is the plain
    conditional model, 0 the unconditional one, > 1 pushes samples toward the label."""
    if y is None or scale == 1.0:
        return lambda x, t: net(x, t, y)
    null = torch.full_like(y, net.y_embedder.num_classes)

    def f(x, t):
        both = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null]))  # (2B, ...)
        cond, uncond = both.chunk(2)
        return uncond + scale * (cond - uncond)

    return f


# endregion


# region: probability-flow
def ddpm_ode_field(ddpm: DDPM, f):
    """The velocity of the probability-flow ODE of a DDPM net, in FM time: convert the net's
    prediction to epsilon, then epsilon to velocity on DDPM's own VP path."""
    path = VPPath.from_alphas_cumprod(ddpm.alphas_cumprod)

    def field(x, t):
        c = path.ddpm_step(t)  # continuous DDPM index, (B,)
        abar = path.coefficients(t)[0] ** 2
        eps, _ = ddpm.eps_and_x0(f(x, (c / ddpm.T).float()), x, abar)
        return path.velocity_from_eps(x, eps, t)

    return field


# endregion


def check_sampler(method: str, sampler: str):
    if sampler not in SAMPLERS[method]:
        valid = ", ".join(SAMPLERS[method])
        raise UserError(f"unknown sampler '{sampler}' for a {method} run; valid choices: {valid}")


@torch.no_grad()
def sample(
    method,
    net,
    shape,
    n,
    sampler=None,
    steps=None,
    y=None,
    guidance=1.0,
    seed=0,
    keep_trajectory=False,
    eta=0.0,
    clip_x0=None,
    variance="beta",
) -> SampleResult:
    """Draw n samples of one-sample shape `shape` from N(0, I) through the chosen sampler."""
    kind = "ddpm" if isinstance(method, DDPM) else "fm"
    sampler = sampler or DEFAULT_SAMPLER[kind][0]
    check_sampler(kind, sampler)
    if steps is None:
        steps = DEFAULT_SAMPLER[kind][1] if sampler == DEFAULT_SAMPLER[kind][0] else 32
    if steps <= 0 or n <= 0:
        raise UserError(f"steps and n must be positive (got steps={steps}, n={n})")
    if sampler == "ode":
        sampler = DEFAULT_ODE_SOLVER
    g = torch.Generator(torch.get_default_device()).manual_seed(seed)  # sample --device sets it
    x = torch.randn((n, *shape), generator=g)
    traj = [x] if keep_trajectory else None
    # region: dispatch
    f = guided(net, y, guidance)
    if sampler == "ancestral":
        x, nfe = method.sample_ancestral(f, x, steps, variance, g, traj)
    elif sampler == "ddim":
        x, nfe = method.sample_ddim(f, x, steps, eta, clip_x0, g, traj)
    elif sampler == "consistency":  # a distilled student (distill.py): jump, re-noise, jump
        x, nfe = sample_consistency(f, x, steps, g, traj)
    elif kind == "fm":
        x, nfe = solve_ode(f, x, steps, sampler, traj=traj)
    else:  # a DDPM net through the ODE; the ODE ends at k = 0, one last x0-hat finishes it
        x, nfe = solve_ode(ddpm_ode_field(method, f), x, steps, sampler, traj=traj)
        k0 = method.net_time(0).expand(n)
        x = method.eps_and_x0(f(x, k0), x, method.alphas_cumprod[0])[1]
        nfe += 1
        if traj is not None:
            traj.append(x)
    # endregion
    return SampleResult(x, nfe, torch.stack(traj) if traj is not None else None)
