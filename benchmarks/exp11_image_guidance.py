"""Classifier-free guidance on class-conditional 8x8 digits: the guidance weight against the
share of samples classified as the requested digit and against the Frechet distance."""

from __future__ import annotations

import time

from benchmarks.image_lab import grids_figure, image_arms, image_budget
from benchmarks.image_targets import SETUPS
from benchmarks.lab import Result, figure_path

NAME = "exp11_image_guidance"
CLAIM = (
    "On images, classifier-free guidance buys label fidelity with diversity: raising the weight "
    "raises the share of samples classified as the requested digit, while the Frechet distance "
    "to real digits grows once the weight is large (lesson 09)"
)
WEIGHTS = (0.0, 1.0, 1.5, 2.0, 3.0, 5.0)  # 0: the unconditional model, 1: plain conditional
BASE = SETUPS["digits"]  # the digits target's runs (trained with 10% label dropout)
SEEDS = (0, 1, 2)  # three training seeds, as in every experiment of the lab


def run(b):
    import matplotlib.pyplot as plt

    t0 = time.perf_counter()
    b = image_budget(b, SEEDS, eval_seeds=1)
    arms = {f"w={w:g}": {**BASE, "guidance": w} for w in WEIGHTS}
    summary, first, _ = image_arms(b, arms)
    numbers = {
        label: {
            "weight": w,
            "accuracy": s["accuracy_median"],
            "fd_ratio": s["ratio_median"],
            "fd": s["fd_median"],
            "floor": s["floor_median"],
            "network_evals": s["nfe"] * (1 if w == 1.0 else 2),  # guided: cond + uncond
            "ratio_by_seed": s["ratio_by_seed"],
            "accuracy_by_seed": s["accuracy_by_seed"],
        }
        for (label, s), w in zip(summary.items(), WEIGHTS, strict=True)
    }
    acc = [numbers[k]["accuracy"] for k in arms]
    fd = [numbers[k]["fd_ratio"] for k in arms]
    best = min(range(len(fd)), key=fd.__getitem__)
    rises = acc[-1] > acc[1] and acc[1] > acc[0]
    fd_grows = fd[-1] > fd[best]
    verdict = "holds" if rises and fd_grows else "holds with caveat" if rises else "does not hold"
    measured = "; ".join(
        f"w={w:g}: {100 * a:.1f}% accuracy, FD {r:.2f}x floor"
        for w, a, r in zip(WEIGHTS, acc, fd, strict=True)
    )

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(WEIGHTS, [100 * a for a in acc], "o-", c="tab:blue", label="accuracy (%)")
    ax.set_xlabel("guidance weight w")
    ax.set_ylabel("samples classified as requested (%)", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(WEIGHTS, fd, "s--", c="tab:red")
    ax2.set_ylabel("FD / real-vs-real floor", color="tab:red")
    ax.set_title("CFG on 8x8 digits (median over training seeds)", fontsize=9)
    fig.tight_layout()
    fig.savefig(figure_path(b, NAME), dpi=130)
    plt.close(fig)
    grids_figure(b, NAME + "_grids", {k: first[k] for k in ("w=0", "w=1", "w=3", "w=5")})
    settings = {
        **BASE["cfg"],
        "sampler": f"{BASE['sampler'][0]} x{BASE['sampler'][1]}",
        "p_uncond": 0.1,
        "weights": list(WEIGHTS),
    }
    Result(NAME, CLAIM, measured, verdict, numbers, settings).write(b, t0)
