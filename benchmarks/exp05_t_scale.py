"""t_scale: the time embedding's multiplier, 1000 (the default) against 1."""

from __future__ import annotations

import time

from benchmarks.lab import Result, compare_arms, graded, scatter_figure, versus

NAME = "exp05_t_scale"
CLAIM = (
    "With t in [0, 1] fed to a sinusoidal embedding built for integer steps, t_scale = 1 "
    "leaves the network nearly blind to time; t_scale = 1000 fixes it (lesson 09)"
)
ARMS = {
    f"{m.upper()}, t_scale = {ts:g}": {
        "cfg": {"method": m, "model": "mlp", "t_scale": ts},
        "sampler": smp,
        "steps": k,
    }
    for m, smp, k in (("fm", "rk4", 4), ("ddpm", "ddim", 50))
    for ts in (1000.0, 1.0)
}


def run(b):
    t0 = time.perf_counter()
    numbers, first = compare_arms(b, ARMS)
    parts, verdicts = [], []
    for m in ("FM", "DDPM"):
        hi, lo = numbers[f"{m}, t_scale = 1000"], numbers[f"{m}, t_scale = 1"]
        c = versus(numbers, f"{m}, t_scale = 1000", f"{m}, t_scale = 1")
        verdicts.append(graded(c, f"{m}, t_scale = 1000", lo["ratio_median"] / hi["ratio_median"]))
        parts.append(
            f"{m} ({hi['nfe']} NFE): {hi['ratio_median']:.2f}x floor at 1000 vs "
            f"{lo['ratio_median']:.2f}x at 1, D 1000 - 1: {c['line']}"
        )
    measured = "; ".join(parts)
    # holds only if it holds for both methods; a caveat if for one
    verdict = (
        "holds"
        if verdicts == ["holds", "holds"]
        else "does not hold"
        if verdicts == ["does not hold", "does not hold"]
        else "holds with caveat"
    )
    scatter_figure(b, NAME, first, ncols=2)
    Result(
        NAME,
        CLAIM,
        measured,
        verdict,
        numbers,
        {"model": "mlp", "data": "moons", "samplers": {"fm": "rk4 x4", "ddpm": "ddim x50"}},
    ).write(b, t0)
