"""Training cost: steps and CPU time until FM and DDPM reach 1.25x (and 1.5x) the floor.

CPU seconds at a snapshot are the run's total CPU seconds times the share of its steps done (one
thread, a fixed network: every step costs the same); the snapshots' wall times are kept too, but
on a shared machine they measure its load as much as the training."""

from __future__ import annotations

import time

from benchmarks.lab import Result, ensure_runs, figure_path, median, pmap, score

NAME = "exp10_training_cost"
CLAIM = (
    "Flow matching trains as fast as DDPM or faster: fewer steps and less CPU time to a "
    "given quality (lessons 05, 06)"
)
SAMPLERS = {"fm": ("rk4", 4), "ddpm": ("ddim", 50)}  # each method's cheap sampler
THRESHOLDS = (1.25, 1.5)


def run(b):
    from generative.continuous.train_denoiser import load_run

    t0 = time.perf_counter()
    cfgs = {
        (m, s): b.cfg(method=m, model="mlp", seed=s, snapshots=True)
        for m in SAMPLERS
        for s in b.train_seeds
    }
    paths = dict(zip(cfgs, ensure_runs(list(cfgs.values()), b.quick), strict=True))
    states = {k: load_run(p).state for k, p in paths.items()}
    walls = {k: dict(st["snapshots"]) for k, st in states.items()}  # step -> wall
    per_step = {k: st["cpu_s"] / st["step"] for k, st in states.items()}  # CPU-s a step
    keys, jobs = [], []
    for (m, s), p in paths.items():
        for step in walls[(m, s)]:
            keys.append((m, s, step))
            jobs.append(
                {
                    "run": p,
                    "snapshot": step,
                    "sampler": SAMPLERS[m][0],
                    "steps": SAMPLERS[m][1],
                    "eval_seeds": b.eval_seeds,
                    "n": b.n_eval,
                }
            )
    scores = dict(zip(keys, pmap(score, jobs), strict=True))
    numbers, parts = {}, []
    for m in SAMPLERS:
        steps = sorted(walls[(m, b.train_seeds[0])])
        curve = [
            {
                "step": st,
                "ratio": median([scores[(m, s, st)]["ratio"] for s in b.train_seeds]),
                "wall_s": median([walls[(m, s)][st] for s in b.train_seeds]),
                "cpu_s": median([per_step[(m, s)] * st for s in b.train_seeds]),
            }
            for st in steps
        ]
        reach, reach_by_seed = {}, {}
        for t in THRESHOLDS:
            hit = next((c for c in curve if c["ratio"] <= t), None)
            # the same crossing on each training seed's own curve: the spread behind the median
            by_seed = [
                next((st for st in steps if scores[(m, s, st)]["ratio"] <= t), None)
                for s in b.train_seeds
            ]
            reach[f"{t}x"] = (
                {
                    "step": hit["step"],
                    "wall_s": hit["wall_s"],
                    "cpu_s": hit["cpu_s"],
                    "step_by_seed": by_seed,
                }
                if hit
                else None
            )
            reach_by_seed[f"{t}x"] = by_seed
        numbers[m] = {
            "curve": curve,
            "best": min(curve, key=lambda c: c["ratio"]),  # lowest median snapshot
            "reach": reach,
            "reach_by_seed": reach_by_seed,
            "sampler": f"{SAMPLERS[m][0]} x{SAMPLERS[m][1]}",
        }
        r = reach["1.25x"]
        seeds = "/".join(str(x) if x else "never" for x in reach_by_seed["1.25x"])
        parts.append(
            f"{m.upper()} ({numbers[m]['sampler']}): "
            + (
                f"1.25x floor at step {r['step']} ({r['cpu_s']:.0f} CPU-s, one thread; by training "
                f"seed: {seeds})"
                if r
                else f"never within 1.25x in {steps[-1]} steps (best "
                f"{min(c['ratio'] for c in curve):.2f}x; by training seed: {seeds})"
            )
        )
    fm, dd = numbers["fm"]["reach"]["1.25x"], numbers["ddpm"]["reach"]["1.25x"]
    verdict = (
        "holds"
        if fm and (not dd or fm["step"] <= dd["step"])
        else "does not hold"
        if dd
        else "holds with caveat"
    )
    _figure(b, numbers)
    Result(
        NAME,
        CLAIM,
        "; ".join(parts),
        verdict,
        numbers,
        {
            "model": "mlp",
            "data": "moons",
            "snapshot_every": b.snapshot_every,
            "note": "quality along the default run (cosine LR over the whole run)",
        },
    ).write(b, t0)


def _figure(b, numbers):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for m, d in numbers.items():
        ax.plot(
            [c["cpu_s"] for c in d["curve"]],
            [c["ratio"] for c in d["curve"]],
            marker="o",
            ms=3,
            label=f"{m.upper()} ({d['sampler']})",
        )
    for t in THRESHOLDS:
        ax.axhline(t, color="0.6", lw=0.7, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("training CPU time, s (one thread)")
    ax.set_ylabel("W2 / floor (median over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(figure_path(b, NAME), dpi=130)
    plt.close(fig)
