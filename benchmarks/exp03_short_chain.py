"""A schedule that never reaches noise: linear betas with T = 50 against T = 1000 and cosine."""

from __future__ import annotations

import time

from benchmarks.lab import Result, compare_arms, graded, scatter_figure, versus

NAME = "exp03_short_chain"
CLAIM = (
    "A chain whose alpha-bar_T stays far from 0 (linear betas, T = 50) starts sampling from "
    "a distribution training never saw, and the samples show it (lesson 02)"
)
ARMS = {
    "linear, T = 50": ("linear", 50),
    "linear, T = 1000": ("linear", 1000),
    "cosine, T = 1000": ("cosine", 1000),
}
STEPS = 50  # every arm samples with 50 ancestral steps (the full chain for T = 50)


def run(b):
    from generative.continuous.diffusion import DDPM

    t0 = time.perf_counter()
    arms = {
        label: {
            "cfg": {"method": "ddpm", "model": "mlp", "schedule": sch, "T": T},
            "sampler": "ancestral",
            "steps": STEPS,
        }
        for label, (sch, T) in ARMS.items()
    }
    numbers, first = compare_arms(b, arms)
    for label, (sch, T) in ARMS.items():
        numbers[label]["alpha_bar_T"] = DDPM(sch, T).alphas_cumprod[-1].item()
    short, full = numbers["linear, T = 50"], numbers["linear, T = 1000"]
    worse = short["ratio_median"] / full["ratio_median"]
    mass = short.get("mode_mass_median", [float("nan")])[0]
    cos = numbers["cosine, T = 1000"]["ratio_median"]
    measured = (
        f"alpha-bar_T = {short['alpha_bar_T']:.2f} at T = 50 vs "
        f"{full['alpha_bar_T']:.1e} at T = 1000; W2 {short['ratio_median']:.2f}x floor "
        f"vs {full['ratio_median']:.2f}x (cosine {cos:.2f}x), "
        f"upper-moon mass {mass:.2f}, off-data {100 * short['off_data_median']:.1f}% vs "
        f"{100 * full['off_data_median']:.1f}%"
    )
    c = versus(numbers, "linear, T = 1000", "linear, T = 50")
    # the two arms can fail differently: say how (the diagnostics), not only which ranks first
    measured += f"; D T = 1000 - T = 50: {c['line']}; how each fails: " + "; ".join(
        f"{label}: residual {numbers[label]['residual_rms_median']:.3f} (data 0.030), "
        f"{100 * numbers[label]['far_share_median']:.1f}% off the arcs, along-arc KS "
        f"{numbers[label]['along_ks_median']:.3f}, per-mode W2 "
        f"{numbers[label]['ratio_modes_median']:.2f}x"
        for label in ("linear, T = 50", "linear, T = 1000")
    )
    verdict = graded(c, "linear, T = 1000", worse)
    scatter_figure(b, NAME, first)
    Result(
        NAME,
        CLAIM,
        measured,
        verdict,
        numbers,
        {
            "method": "ddpm",
            "model": "mlp",
            "target": "eps",
            "sampler": "ancestral",
            "steps": STEPS,
            "data": "moons",
        },
    ).write(b, t0)
