"""DDPM + MLP after the width cut (256 -> 128): which knob brings it back to its targets,
ancestral x1000 <= 1.1x and DDIM x50 <= 1.35x the floor, at the lab's training time? Same steps
and time per step as the lab default, except the width arm (twice the width, half the steps).

The width arm's W2 passes but D, paired with the default, scores it worse; the learning rate
(1e-3) scored no better in a one-seed probe; the EMA decay cannot help (the warm-up never
reaches a decay above 0.9974 in 3500 steps; the loop now says so). The linear schedule's
samples are too noisy (the arcs' residual diagnostic, in the JSON); the cosine schedule removes
that.

    python -m benchmarks.run_all --only exp15_ddpm_mlp_budget [--quick]
"""

from __future__ import annotations

import time

from benchmarks.lab import Result, compare_arms, figure_path, paired

NAME = "exp15_ddpm_mlp_budget"
CLAIM = (
    "DDPM + MLP (width 128) meets ancestral x1000 <= 1.1x and DDIM x50 <= 1.35x the floor at the "
    "lab's training time, with one free knob changed"
)
KNOBS = {  # label -> TrainConfig fields on top of the DDPM default
    "default": {},
    "v target": {"target": "v"},
    "cosine, eps": {"schedule": "cosine"},
    "cosine, v": {"schedule": "cosine", "target": "v"},
    "width 256, half the steps": {"width": 256, "steps": 1750},
}
SAMPLERS = {"ancestral x1000": ("ancestral", 1000, 1.1), "DDIM x50": ("ddim", 50, 1.35)}


def run(b):
    t0 = time.perf_counter()
    numbers = {}
    for label, (sampler, steps, bound) in SAMPLERS.items():
        arms = {
            k: {"cfg": {"method": "ddpm", **kw}, "sampler": sampler, "steps": steps}
            for k, kw in KNOBS.items()
        }
        summary, _ = compare_arms(b, arms)
        for k, s in summary.items():
            met = s["ratio_median"] <= bound
            # against the default on D, paired over the same seeds: a change beyond its noise?
            vs = paired(s, summary["default"], (k, "default")) if k != "default" else None
            numbers.setdefault(k, {})[label] = {**s, "bound": bound, "met": met, "d_vs_default": vs}
    met = [k for k, n in numbers.items() if all(v["met"] for v in n.values())]
    measured = "; ".join(
        f"{k}: "
        + ", ".join(
            f"{s} {v['ratio_median']:.2f}x (<= {v['bound']})"
            + (f" [D vs default {v['d_vs_default']['line']}]" if v["d_vs_default"] else "")
            for s, v in n.items()
        )
        for k, n in numbers.items()
    )
    measured += f"; met by: {', '.join(met) or 'none'}"
    verdict = "holds" if met else "does not hold"
    settings = {"data": "moons", "model": "mlp", "width": 128, "knobs": KNOBS}
    figure(b, numbers)
    Result(NAME, CLAIM, measured, verdict, numbers, settings).write(b, t0)


def figure(b, numbers: dict):
    """W2 / floor per knob for each sampler, beside that sampler's target line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SAMPLERS), figsize=(4.5 * len(SAMPLERS), 3.4))
    for ax, label in zip(axes, SAMPLERS, strict=True):
        ratios = [numbers[k][label]["ratio_median"] for k in KNOBS]
        ax.bar(list(KNOBS), ratios, color="#4878a8")
        ax.axhline(SAMPLERS[label][2], color="#c44", ls="--", label="target")
        ax.set_title(label, fontsize=10)
        ax.set_ylabel("W2 / floor (median over training seeds)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(figure_path(b, NAME), dpi=120)
    plt.close(fig)
