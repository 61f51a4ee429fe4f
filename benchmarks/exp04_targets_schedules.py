"""DDPM's prediction target (eps, x0, v) and its beta schedule (linear, cosine), same budget."""

from __future__ import annotations

import time

from benchmarks.lab import Result, compare_arms, scatter_figure, versus

NAME = "exp04_targets_schedules"
CLAIM = (
    "Predicting epsilon is the better default than x0 (Ho et al.); v and the cosine schedule "
    "are the common upgrades (lessons 03, 09)"
)
ARMS = {
    "eps, linear": ("eps", "linear"),
    "x0, linear": ("x0", "linear"),
    "v, linear": ("v", "linear"),
    "eps, cosine": ("eps", "cosine"),
    "v, cosine": ("v", "cosine"),
}
SAMPLERS = {"ancestral x100": ("ancestral", 100), "DDIM x50": ("ddim", 50)}


def run(b):
    t0 = time.perf_counter()
    numbers, figures = {}, {}
    for sname, (sampler, steps) in SAMPLERS.items():
        arms = {
            label: {
                "cfg": {"method": "ddpm", "model": "mlp", "target": tgt, "schedule": sch},
                "sampler": sampler,
                "steps": steps,
            }
            for label, (tgt, sch) in ARMS.items()
        }
        numbers[sname], first = compare_arms(b, arms)  # trained once, cached for the second
        figures.update({f"{k} ({sname})": v for k, v in first.items()})
    anc = numbers["ancestral x100"]
    order = sorted(anc, key=lambda a: anc[a]["ratio_median"])
    measured = (
        "; ".join(
            f"{s}: " + ", ".join(f"{a} {numbers[s][a]['ratio_median']:.2f}x" for a in ARMS)
            for s in SAMPLERS
        )
        + f" (floor multiples; best with ancestral: {order[0]})"
    )
    c = versus(anc, "eps, linear", "x0, linear")  # the claim: D paired over the seeds
    measured += f"; D eps - x0 (ancestral x100): {c['line']}"
    verdict = "holds" if c["verdict"] == "eps, linear better" else "does not hold"
    scatter_figure(b, NAME, {k: v for k, v in figures.items() if "ancestral" in k}, ncols=3)
    Result(
        NAME,
        CLAIM,
        measured,
        verdict,
        numbers,
        {"method": "ddpm", "model": "mlp", "samplers": SAMPLERS, "data": "moons"},
    ).write(b, t0)
