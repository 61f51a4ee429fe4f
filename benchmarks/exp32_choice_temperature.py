"""MaskGIT's choice temperature: Gumbel noise on the confidence (annealed to 0) versus pure
confidence ordering, at T = 4 and 8."""

from __future__ import annotations

import time

from benchmarks.lab import figure_path
from benchmarks.lab_discrete import budget, main_runs, score_arms, write

NAME = "exp32_choice_temperature"
CLAIM = (
    "Keeping the most confident tokens with no randomness in the choice (pure confidence "
    "ordering) collapses sample quality at few rounds; the annealed choice temperature fixes it "
    "(lesson 12)"
)
STEPS = (4, 8)
ON, OFF = "on (4.5, annealed)", "off (pure confidence)"
# the paper's 4.5 and none, plus a sweep around them (every value annealed to 0 by the last round)
TEMPS = {OFF: 0.0, "1": 1.0, "2": 2.0, ON: 4.5, "9": 9.0}


def run(b):
    t0 = time.perf_counter()
    db = budget(b)
    runs = main_runs(db)
    arms = {
        f"{name} T={T}": ("maskgit", {"steps": T, "choice_temperature": ct})
        for name, ct in TEMPS.items()
        for T in STEPS
    }
    numbers = score_arms(arms, runs, db)
    on, off = ON, OFF
    gaps = {
        T: numbers[f"{on} T={T}"]["validity_median"] - numbers[f"{off} T={T}"]["validity_median"]
        for T in STEPS
    }
    best = {
        T: max(TEMPS, key=lambda k, T=T: numbers[f"{k} T={T}"]["validity_median"]) for T in STEPS
    }
    measured = "; ".join(
        f"T={T}: on {100 * numbers[f'{on} T={T}']['validity_median']:.0f}% vs off "
        f"{100 * numbers[f'{off} T={T}']['validity_median']:.0f}% valid (best: {TEMPS[best[T]]:g},"
        f" {100 * numbers[f'{best[T]} T={T}']['validity_median']:.0f}%)"
        for T in STEPS
    )
    numbers["best_choice_temperature"] = {str(T): TEMPS[best[T]] for T in STEPS}
    verdict = (
        "holds"
        if all(g >= 0.2 for g in gaps.values())
        else "holds with caveat"
        if all(g > 0 for g in gaps.values())
        else "does not hold"
    )
    _figure(b, numbers)
    write(b, db, NAME, CLAIM, measured, verdict, numbers, {"schedule": "cosine"}, t0)


def _figure(b, numbers):
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(5, 3.3))
    x = np.arange(len(STEPS))
    w = 0.8 / len(TEMPS)
    for i, name in enumerate(TEMPS):
        vals = [100 * numbers[f"{name} T={T}"]["validity_median"] for T in STEPS]
        ax.bar(x + (i - (len(TEMPS) - 1) / 2) * w, vals, w, label=f"choice temperature {name}")
    ax.set_xticks(x, [f"T = {T}" for T in STEPS])
    ax.set_ylabel("valid samples, %")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(figure_path(b, NAME), dpi=130)
    plt.close(fig)
