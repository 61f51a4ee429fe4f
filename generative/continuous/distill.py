"""Consistency distillation (Song et al. 2023) of a flow-matching teacher into a 1-2 step sampler.

Why this one among the current few-step methods. Shortcut models (Frans et al. 2024) and
MeanFlow (Geng et al. 2025) learn a map over an interval (t, t + d) and so need a network with
a second time input; that breaks the project's one denoiser contract model(x, t, y) and every
sampler built on it, and both train from scratch (MeanFlow's loss also needs a Jacobian-vector
product, about 2-3 forward passes a step). Consistency distillation keeps the contract: the
consistency function is parametrized through the velocity,
    f(x, t) = x + (1 - t) v(x, t),     so f(x, 1) = x exactly (the boundary condition),
which is the flow-matching net's own reading of "where x ends up" (for the FM minimiser it is
E[x1 | x_t]). A student is therefore any FM net and starts from the teacher's weights, and one
Euler step from noise is already one consistency step, f(x0, 0). Distillation from a teacher
converges faster than consistency training from data, which matters on small CPUs; a nearly
straight teacher (a reflow run) needs only a short grid (N = 8 Euler steps).

Two ways to take k > 1 steps, and the teacher decides which is right. Euler steps move along
the chord from x toward f(x, t): for a reflow teacher the chords are its own (straight) paths,
so the student stays where its teacher's flow goes. The consistency sampler below re-noises
between jumps (Song et al.): it puts x back on plain FM's p_t (independent noise and data), the
marginal of a plain FM teacher's flow, but not of a reflow teacher's, whose marginals are those
of its pairs; from plain p_t a reflow flow lands off the data (exp14 measures both samplers).

The loss (consistency distillation over the grid t_n = n / N): the teacher takes one solver step
from x_{t_n} on the conditional path to x_{t_{n+1}}, and the student's f at t_n must equal its
own f at t_{n+1} there (target under stop-gradient, no EMA target: Song & Dhariwal 2023). By
induction from the boundary f(x, 1) = x, the minimiser maps x_{t_n} to the teacher's N-step
solution from it: at the teacher's own step count, one student step reproduces the teacher.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from generative.config import option
from generative.continuous.flow_matching import SOLVERS, LinearPath
from generative.errors import UserError, unknown_choice


@dataclass
class DistillConfig:
    """distill()'s settings, as the command line's flags (`generative distill RUN --out DIR`)."""

    N: int = option(8, "grid steps the student learns to jump (the teacher's step count)", ge=1)
    solver: str = option("euler", "the teacher's ODE step on the grid", choices=SOLVERS)
    train_steps: int = option(1000, "training steps (the student starts from the teacher)", ge=1)
    lr: float = option(2e-4, "peak learning rate", gt=0)


# region: consistency-function
def consistency_fn(net, x, t, y=None):
    """f(x, t) = x + (1 - t) v(x, t): where the student says x at time t ends up at t = 1."""
    return x + (1 - t).reshape(-1, *([1] * (x.dim() - 1))) * net(x, t, y)


# endregion


# region: consistency-sampling
def sample_consistency(f, x, steps: int, generator=None, traj=None):
    """Multistep consistency sampling (Song et al. 2023, Algorithm 1) in FM time: jump to the
    student's endpoint, put it back at the next time of the grid t_i = i / steps with fresh
    noise, jump again. One step is one Euler step of the velocity. The re-noised x follows plain
    FM's p_t: right for a student of a plain FM teacher, wrong for one of a reflow teacher (take
    Euler steps there; see the module's note). f(x, t) -> velocity, t (B,); returns (x, NFE)."""
    for i in range(steps):
        t = i / steps
        if i:  # back onto the conditional path at time t, around the current endpoint
            x = t * x + (1 - t) * torch.randn(x.shape, generator=generator).to(x.device)
        x = x + (1 - t) * f(x, torch.full((x.shape[0],), t))  # f(x, t): the endpoint
        if traj is not None:
            traj.append(x)
    return x, steps


# endregion


class ConsistencyDistillation:
    """The CD objective. teacher(x, t) -> velocity, t of shape (B,); N grid steps; the teacher's
    ODE step is one step of `solver` (euler, midpoint, heun, rk4) of size 1 / N."""

    def __init__(self, teacher, N: int = 8, solver: str = "euler"):
        if solver not in SOLVERS:
            raise unknown_choice("ODE solver", solver, SOLVERS)
        if N < 1:
            raise UserError(f"the distillation grid needs N >= 1 steps (got {N})")
        self.teacher, self.N, self.step = teacher, N, SOLVERS[solver][0]
        self.path = LinearPath()

    # region: cd-loss
    def loss(self, net, x1, y=None, generator=None):
        x0 = torch.randn(x1.shape, generator=generator).to(x1.device)
        n = torch.randint(0, self.N, (x1.shape[0],), generator=generator)
        t, t_next = n / self.N, (n + 1) / self.N  # (B,) each
        x_t, _ = self.path.sample(x0, x1, t)
        with torch.no_grad():
            x_next = self.step(self.teacher, x_t, t, 1.0 / self.N)  # one teacher ODE step
            target = consistency_fn(net, x_next, t_next, y)  # = x_next where t_next = 1
        return (consistency_fn(net, x_t, t, y) - target).pow(2).mean()

    # endregion


# region: distill
def distill(
    teacher_dir,
    out_dir,
    N: int = 8,
    solver: str = "euler",
    train_steps: int = 1000,
    lr: float = 2e-4,
    resume: bool = False,
    progress: bool = True,
):
    """Consistency-distil a flow-matching run into a student run in out_dir, started from the
    teacher's weights (same config and data). Sample it at 1 or 2 steps: `euler` for a reflow
    teacher, `consistency` for a plain FM one (see the module's note)."""
    from generative.continuous.train_denoiser import load_run, train  # the one training loop

    teacher = load_run(teacher_dir)
    if teacher.cfg.method != "fm":
        raise UserError(f"distill takes a flow-matching run; {teacher_dir} is {teacher.cfg.method}")
    if teacher.num_classes:
        raise UserError("distill takes an unconditional run; retrain the teacher without --cond")
    net = teacher.net.requires_grad_(False)
    cfg = dataclasses.replace(teacher.cfg, steps=train_steps, lr=lr, init=str(teacher_dir))
    objective = ConsistencyDistillation(lambda x, t: net(x, t), N, solver)
    return train(cfg, out_dir, resume=resume, progress=progress, method=objective)


# endregion
