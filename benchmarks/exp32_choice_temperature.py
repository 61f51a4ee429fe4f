"""MaskGIT's choice temperature: Gumbel noise on the confidence (annealed to 0) versus pure
confidence ordering, at T = 8 and 16, on the trained network (trained with the linear mask
schedule) and on the exact oracle at the same settings. It picks generate()'s default: the
value with the best median validity on the trained network over both T."""

from __future__ import annotations

import time

from benchmarks.lab import figure_path
from benchmarks.lab_discrete import ORACLE, budget, linear_trained_runs, score_arms, write

NAME = "exp32_choice_temperature"
CLAIM = (
    "Keeping the most confident tokens with no randomness in the choice (pure confidence "
    "ordering) collapses sample quality at few rounds, even for the exact posterior; the "
    "annealed choice temperature fixes it (lesson 12)"
)
STEPS = (8, 16)
ON, OFF = "on (4.5, annealed)", "off (pure confidence)"
# the paper's 4.5 and none, a sweep around them, and one that drowns the confidence (a random
# order); every value is annealed to 0 by the last round
TEMPS = {OFF: 0.0, "2": 2.0, ON: 4.5, "9": 9.0, "random order": 1e4}
MODELS = {"trained": "maskgit-linear", "oracle": ORACLE + "class"}
N_SAMPLES = 500  # per arm: the sweep is wide and the machine small


def run(b):
    t0 = time.perf_counter()
    db = budget(b)
    runs = linear_trained_runs(db)
    arms = {
        f"{m} | {name} T={T}": (MODELS[m], {"steps": T, "choice_temperature": ct})
        for m in MODELS
        for name, ct in TEMPS.items()
        for T in STEPS
    }
    n = min(N_SAMPLES, db.n_samples)
    numbers = score_arms(arms, runs, db, n=n)

    def v(m, name, T):
        return numbers[f"{m} | {name} T={T}"]["validity_median"]

    gaps = {(m, T): v(m, ON, T) - v(m, OFF, T) for m in MODELS for T in STEPS}
    best = max(TEMPS, key=lambda k: sum(v("trained", k, T) for T in STEPS))
    measured = "; ".join(
        f"T={T}: " + ", ".join(
            f"{name} {100 * v('trained', name, T):.0f}% (oracle {100 * v('oracle', name, T):.0f}%)"
            for name in TEMPS
        )
        for T in STEPS
    ) + f"; best on the trained network over T = 8 and 16: {TEMPS[best]:g}"  # fmt: skip
    numbers["best_choice_temperature"] = TEMPS[best]
    steps = numbers[f"trained | {ON} T=8"]["trained_steps_by_seed"]
    if steps != [db.cfg("maskgit", 0).steps] * len(steps):
        measured += f"; UNFINISHED TRAINING: scored at step(s) {steps} (latest snapshots)"
    verdict = (
        "holds"
        if all(g >= 0.2 for g in gaps.values())
        else "holds with caveat"
        if all(g > 0 for g in gaps.values())
        else "does not hold"
    )
    _figure(b, numbers)
    extra = {
        "schedule": "cosine decoding; the network trained with the linear mask schedule",
        "n_samples": n,
        "seeds_note": f"{len(db.seeds)} training seed(s): {list(db.seeds)}",
    }
    write(b, db, NAME, CLAIM, measured, verdict, numbers, extra, t0)


def _figure(b, numbers):
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.3), sharey=True)
    x = np.arange(len(STEPS))
    w = 0.8 / len(TEMPS)
    for ax, m in zip(axes, MODELS, strict=True):
        for i, name in enumerate(TEMPS):
            vals = [100 * numbers[f"{m} | {name} T={T}"]["validity_median"] for T in STEPS]
            ax.bar(x + (i - (len(TEMPS) - 1) / 2) * w, vals, w, label=f"{name}")
        ax.set_xticks(x, [f"T = {T}" for T in STEPS])
        ax.set_title(m, fontsize=8)
    axes[0].set_ylabel("valid samples, %")
    axes[0].legend(fontsize=6, title="choice temperature", title_fontsize=6)
    fig.tight_layout()
    fig.savefig(figure_path(b, NAME), dpi=130)
    plt.close(fig)
