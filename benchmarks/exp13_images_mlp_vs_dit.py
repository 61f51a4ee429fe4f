"""MLP against DiT on class-conditional 8x8 digits at matched parameter counts: the same
objective, optimizer, steps and sampler; only the denoiser differs."""

from __future__ import annotations

import time

from benchmarks.image_lab import grids_figure, image_arms, image_budget
from benchmarks.image_targets import SETUPS
from benchmarks.lab import Result

NAME = "exp13_images_mlp_vs_dit"
CLAIM = (
    "On images a DiT earns its parameters: at the same parameter count and budget it beats a "
    "residual MLP on Frechet distance and conditional accuracy (the reverse of 2D points, "
    "exp07; lesson 08)"
)
BASE = SETUPS["digits"]
SEEDS = (0, 1, 2)  # three training seeds, as in every experiment of the lab


def params(cfg: dict) -> int:
    from generative.continuous.train_denoiser import TrainConfig, build_model

    net = build_model(TrainConfig(**cfg), (1, 8, 8), 10)
    return sum(p.numel() for p in net.parameters())


def matched_width(target: int) -> int:
    """The MLP width (same depth) whose parameter count is closest to the DiT's."""
    widths = range(32, 1025, 4)
    return min(
        widths, key=lambda w: abs(params({**BASE["cfg"], "model": "mlp", "width": w}) - target)
    )


def run(b):
    t0 = time.perf_counter()
    b = image_budget(b, SEEDS)
    dit_params = params(BASE["cfg"])
    width = matched_width(dit_params)
    arms = {
        "DiT": BASE,
        "MLP": {**BASE, "cfg": {**BASE["cfg"], "model": "mlp", "width": width}},
    }
    summary, first, _ = image_arms(b, arms)
    numbers = {}
    for label, spec in arms.items():
        s = summary[label]
        numbers[label] = {
            "params": params(spec["cfg"]),
            "fd_ratio": s["ratio_median"],
            "accuracy": s["accuracy_median"],
            "final_loss": s["final_loss_median"],
            "train_s": s["train_s_median"],
            "train_cpu_s": s["train_cpu_s_median"],
            "ratio_by_seed": s["ratio_by_seed"],
        }
    d, m = numbers["DiT"], numbers["MLP"]
    wins = [d["fd_ratio"] < m["fd_ratio"], d["accuracy"] > m["accuracy"]]
    verdict = "holds" if all(wins) else "holds with caveat" if any(wins) else "does not hold"
    measured = "; ".join(
        f"{k} ({v['params']:,} params): FD {v['fd_ratio']:.2f}x floor, accuracy "
        f"{100 * v['accuracy']:.1f}%, loss {v['final_loss']:.4f}, {v['train_cpu_s']:.0f}s CPU"
        for k, v in numbers.items()
    )
    grids_figure(b, NAME, {f"{k}: {numbers[k]['fd_ratio']:.2f}x floor": first[k] for k in arms})
    settings = {
        **BASE["cfg"],
        "mlp_width": width,
        "mlp_depth": 3,
        "sampler": f"{BASE['sampler'][0]} x{BASE['sampler'][1]}",
    }
    Result(NAME, CLAIM, measured, verdict, numbers, settings).write(b, t0)
