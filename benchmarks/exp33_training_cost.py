"""Training cost: validity along training (EMA snapshots) for MaskGIT (T = 8 and 16) and the
autoregressive model: how many more steps the masked model needs."""

from __future__ import annotations

import time

from benchmarks.lab import figure_path, pmap
from benchmarks.lab_discrete import arms_summary, budget, main_runs, score, write

NAME = "exp33_training_cost"
CLAIM = (
    "The masked model learns more slowly than the autoregressive one: it needs more training "
    "steps to reach the same sample validity (lesson 12)"
)
ARMS = {"maskgit T=8": ("maskgit", {"steps": 8}), "maskgit T=16": ("maskgit", {"steps": 16})}
ARMS["AR"] = ("ar", {})
THRESHOLDS = (0.5, 0.7)


def run(b):
    from generative.discrete.train_tokens import load_discrete_run

    t0 = time.perf_counter()
    db = budget(b)
    runs = main_runs(db)
    walls = {
        k: dict(load_discrete_run(p, data=False).state["snapshots"]) for k, p in runs.items()
    }  # (method, seed) -> {step: wall_s}
    steps = {m: sorted(walls[(m, db.seeds[0])]) for m in ("maskgit", "ar")}  # runs may differ
    keys, jobs = [], []
    for label, (method, kw) in ARMS.items():
        for st in steps[method]:
            for s in db.seeds:
                keys.append((f"{label}@{st}", s))
                jobs.append(
                    {"run": runs[(method, s)], "snapshot": st, "n": db.n_samples, "seed": 0, **kw}
                )
    summary = arms_summary(dict(zip(keys, pmap(score, jobs), strict=True)), db.seeds)
    numbers, parts = {}, []
    for label, (method, _) in ARMS.items():
        curve = [
            {
                "step": st,
                "validity": summary[f"{label}@{st}"]["validity_median"],
                "train_wall_s": walls[(method, db.seeds[0])][st],
            }
            for st in steps[method]
        ]
        reach = {}
        for th in THRESHOLDS:
            hit = next((c["step"] for c in curve if c["validity"] >= th), None)
            reach[f"{int(100 * th)}%"] = hit
        numbers[label] = {"curve": curve, "steps_to_reach": reach}
    for th in THRESHOLDS:
        key = f"{int(100 * th)}%"
        ar, mg = (
            numbers["AR"]["steps_to_reach"][key],
            numbers["maskgit T=16"]["steps_to_reach"][key],
        )
        parts.append(
            f"{key} valid: AR at step {ar or 'never'}, MaskGIT T=16 at {mg or 'never'}"
            + (f" ({mg / ar:.1f}x the steps)" if ar and mg else "")
        )
    parts.append(f"(AR trained {steps['ar'][-1]} steps, MaskGIT {steps['maskgit'][-1]})")
    r70 = [numbers[k]["steps_to_reach"]["70%"] for k in ("AR", "maskgit T=16")]
    r50 = [numbers[k]["steps_to_reach"]["50%"] for k in ("AR", "maskgit T=16")]
    slower = lambda r: r[0] is not None and (r[1] is None or r[1] > r[0])  # noqa: E731
    same = lambda r: r[0] is not None and r[1] is not None and r[1] <= r[0]  # noqa: E731
    verdict = (
        "holds"
        if slower(r70) or slower(r50)
        else "does not hold"
        if same(r70) or same(r50)
        else "holds with caveat"
    )
    _figure(b, numbers)
    write(b, db, NAME, CLAIM, "; ".join(parts), verdict, numbers, {"snapshots": "EMA weights"}, t0)


def _figure(b, numbers):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for label, d in numbers.items():
        ax.plot(
            [c["step"] for c in d["curve"]],
            [100 * c["validity"] for c in d["curve"]],
            "o-",
            ms=3,
            label=label,
        )
    for th in THRESHOLDS:
        ax.axhline(100 * th, color="0.6", lw=0.7, ls=":")
    ax.set_xlabel("training step")
    ax.set_ylabel("valid samples, %")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(figure_path(b, NAME), dpi=130)
    plt.close(fig)
