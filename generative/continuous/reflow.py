"""Reflow (Liu et al. 2023, "Flow straight and fast"): rectified flow's second rectification.

A trained flow maps each noise x0 to a sample x1 = ODE(x0). Those pairs are a deterministic
coupling of noise and data whose straight lines (almost) never cross: two different noises reach
two different samples along paths that do not meet. Flow matching on the straight lines between
the pairs therefore learns a field whose trajectories are (nearly) the lines themselves, and one
Euler step x0 + v(x0, 0) lands near x1. The price: generating the pairs (the teacher's NFE per
pair) and a second training run; both are recorded in the run folder (reflow.json).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from generative.checkpoint import read_json, write_json
from generative.config import option
from generative.continuous.flow_matching import cfm_loss, make_path
from generative.continuous.sampling import ODE_SOLVERS, sample
from generative.errors import UserError

PAIRS_FILE, INFO_FILE = "pairs.safetensors", "reflow.json"


@dataclass
class ReflowConfig:
    """reflow()'s settings, as the command line's flags (`generative reflow RUN --out DIR`)."""

    n_pairs: int = option(20000, "(noise, sample) pairs drawn from the teacher", ge=1)
    sampler: str = option(
        "rk4", "the teacher's sampler (a DDPM teacher: also ddim)", choices=ODE_SOLVERS + ("ddim",)
    )
    steps: int = option(4, "the teacher sampler's steps", ge=1)
    seed: int = option(0, "seeds the pairs' noise", ge=0)
    train_steps: int = option(0, "training steps", ge=1, auto=0, auto_text="the teacher's")
    lr: float = option(0.0, "peak learning rate", gt=0, auto=0.0, auto_text="the teacher's")


@dataclass
class Pairs:
    """Noise x0 and the teacher's sample x1 = ODE(x0), row by row, with what they cost."""

    x0: torch.Tensor  # (N, ...) in the teacher's standardized coordinates
    x1: torch.Tensor  # (N, ...)
    nfe: int  # network evaluations per pair
    cpu_s: float  # CPU seconds spent generating them


# region: make-pairs
def make_pairs(run, n: int, seed: int = 0, sampler: str = "rk4", steps: int = 8) -> Pairs:
    """Draw n noises and push each through the teacher run's sampler (any method, any solver:
    a DDPM teacher gives DDIM or probability-flow pairs)."""
    c0 = time.process_time()
    res = sample(run.method, run.net, run.shape, n, sampler, steps, seed=seed, keep_trajectory=True)
    return Pairs(res.trajectory[0].clone(), res.x.clone(), res.nfe, time.process_time() - c0)


# endregion


class Reflow:
    """Flow matching on fixed (noise, sample) pairs: the straight line from x0[i] to x1[i].
    The training loop's data batch only sets the batch size: the pairs are the data."""

    def __init__(self, x0: torch.Tensor, x1: torch.Tensor, path: str = "linear"):
        if x0.shape != x1.shape:
            raise UserError(f"reflow pairs disagree in shape: {tuple(x0.shape)} vs {x1.shape}")
        self.x0, self.x1, self.path = x0, x1, make_path(path)

    # region: reflow-loss
    def loss(self, net, x1, y=None, generator=None):
        idx = torch.randint(0, len(self.x0), (x1.shape[0],), generator=generator)
        x0_b, x1_b = self.x0[idx].to(x1.device), self.x1[idx].to(x1.device)
        return cfm_loss(net, self.path, x1_b, None, generator, x0=x0_b)

    # endregion


def save_pairs(out_dir, pairs: Pairs, info: dict):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({"x0": pairs.x0.contiguous(), "x1": pairs.x1.contiguous()}, str(out_dir / PAIRS_FILE))
    write_json(out_dir / INFO_FILE, {**info, "nfe_per_pair": pairs.nfe, "pairs_cpu_s": pairs.cpu_s})


def load_pairs(run_dir) -> Pairs:
    """The pairs a reflow run was trained on, as its folder keeps them."""
    run_dir = Path(run_dir)
    info = read_json(run_dir / INFO_FILE)
    t = load_file(str(run_dir / PAIRS_FILE))
    return Pairs(t["x0"], t["x1"], info["nfe_per_pair"], info["pairs_cpu_s"])


# region: reflow
def reflow(
    teacher_dir,
    out_dir,
    n_pairs: int = 20000,
    sampler: str = "rk4",
    steps: int = 8,
    seed: int = 0,
    train_steps: int = 0,
    lr: float = 0.0,
    resume: bool = False,
    progress: bool = True,
):
    """Generate n_pairs (noise, sample) pairs with the teacher run's sampler, then train a
    flow-matching run on the straight lines between them (the teacher's config and data, so the
    same standardization; train_steps and lr 0: the teacher's own). A linear-path FM teacher
    also lends its weights as the start (Liu et al. fine-tune the 1-rectified flow). Returns the
    trained Run."""
    from generative.continuous.train_denoiser import load_run, train  # the one training loop

    teacher = load_run(teacher_dir)
    if teacher.num_classes:
        raise UserError("reflow takes an unconditional run; retrain the teacher without --cond")
    if resume:
        pairs = load_pairs(out_dir)
    else:
        if (Path(out_dir) / "state.json").exists():
            raise UserError(f"{out_dir} already holds a run; pass --resume or another --out")
        pairs = make_pairs(teacher, n_pairs, seed, sampler, steps)
        info = {"teacher": str(teacher_dir), "sampler": sampler, "steps": steps, "seed": seed}
        info["teacher_cpu_s"] = teacher.state.get("cpu_s", 0.0)
        save_pairs(out_dir, pairs, {**info, "n_pairs": n_pairs})
    same_net = teacher.cfg.method == "fm" and teacher.cfg.path == "linear"
    cfg = dataclasses.replace(
        teacher.cfg,
        method="fm",
        path="linear",
        coupling="independent",  # the pairs are the coupling
        steps=train_steps or teacher.cfg.steps,
        lr=lr or teacher.cfg.lr,
        init=str(teacher_dir) if same_net else "",
    )
    return train(cfg, out_dir, resume=resume, progress=progress, method=Reflow(pairs.x0, pairs.x1))


# endregion
