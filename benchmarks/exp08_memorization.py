"""Memorisation: the exact marginal velocity field of the finite training set (the exact minimiser
of the CFM loss on it) against the trained FM + MLP, and fresh data as the yardstick."""

from __future__ import annotations

import math
import time

import numpy as np

from benchmarks.lab import Result, ensure_runs, figure_path, pmap, summarize
from generative.continuous.data import load_dataset, make_toy
from generative.continuous.metrics import Reference, evaluate

NAME = "exp08_memorization"
CLAIM = (
    "The exact minimiser of the CFM loss on a finite training set only reproduces training "
    "points (memorises); a trained network generalises: its samples sit no closer to the "
    "training points than fresh data do (lesson 05)"
)
KINDS = ("exact field", "learned", "fresh data")
SAMPLER, STEPS = "rk4", 4  # the learned net: the default sampler
EXACT_STEPS, EXACT_T1 = 20, 1 - 1e-4  # the exact field: rk4 in log time, stopped short of t = 1
FRESH_SEED = 2_000_003  # fresh draws: seeds no training set or reference uses


def exact_sample(data, x0):
    """Integrate the exact field from noise x0 to t = EXACT_T1. In s = -log(1 - t) the field
    becomes (1 - t) u = sum_i w_i x1_i - x: bounded, so fixed rk4 steps stay accurate where, in
    t, the field grows like 1 / (1 - t) and uniform steps land some samples between points."""
    import torch

    from generative.continuous.flow_matching import exact_marginal_velocity, solve_ode

    def f(x, s):  # chunks of 256: the (B, N) weights stay in cache and in memory
        t = 1 - torch.exp(-s)
        u = torch.cat(
            [
                exact_marginal_velocity(a, b, data)
                for a, b in zip(x.split(256), t.split(256), strict=True)
            ]
        )
        return (1 - t)[:, None] * u

    return solve_ode(f, x0, EXACT_STEPS, "rk4", t1=-math.log(1 - EXACT_T1))[0]


def _arm(job) -> dict:
    """One kind of sample for one training seed: evaluate by the protocol, and the distance from
    every sample (all evaluation seeds) to its nearest training point."""
    import torch
    from scipy.spatial import cKDTree

    from generative.continuous.sampling import sample
    from generative.continuous.train_denoiser import load_run

    run = load_run(job["run"])
    cfg, n = run.cfg, job["n"]
    split = load_dataset(cfg.data, cfg.n_train, cfg.seed, cfg.noise)  # the run's training set
    ref = Reference(cfg.data, split, n, cfg.noise)
    train = ref.enc(split.train.x).astype(np.float64)  # (N, 2), standardized
    tree, dists, kept = cKDTree(train), [], []

    def draw(seed):
        if job["kind"] == "fresh data":
            # n of 10 n fresh points: make_moons splits n exactly in half, which no sampler does
            # and which would beat the floor; a random subset has a random split, like i.i.d.
            big = make_toy(cfg.data, 10 * n, seed=FRESH_SEED + seed, **ref.kw).x
            pick = np.random.default_rng(FRESH_SEED + seed).choice(len(big), n, replace=False)
            x = ref.enc(big[pick])
        else:  # both samplers start from the same noise
            x0 = torch.randn((n, 2), generator=torch.Generator().manual_seed(seed))
            x = (
                exact_sample(torch.from_numpy(train), x0.double())
                if job["kind"] == "exact field"
                else sample(run.method, run.net, run.shape, n, SAMPLER, STEPS, seed=seed).x
            )
            x = x.numpy()
        dists.append(tree.query(x)[0])
        kept.append(x)
        return x

    rep = evaluate(draw, ref, job["eval_seeds"])
    d = np.concatenate(dists)
    return {
        "nn_median": float(np.median(d)),
        "nn_p10": float(np.percentile(d, 10)),
        "ratio": rep.ratio,
        "w2": rep.w2,
        "floor": rep.floor,
        "off_data": rep.off_data,
        "samples": kept[0],
        "dists": d,
        "train": train,
    }


def _summary(rs: list[dict]) -> dict:
    return summarize(
        rs,
        ("nn_median", "nn_p10", "ratio", "w2", "floor", "off_data"),
        by_seed=("nn_median", "ratio"),
    )


def _figure(b, first, numbers):
    import matplotlib.pyplot as plt

    from generative.continuous.plots import scatter_panel

    train = first["fresh data"]["train"]
    ex, le = first["exact field"]["samples"], first["learned"]["samples"]
    fig, axes = plt.subplots(2, 2, figsize=(9, 9))
    for ax, kind, x in ((axes[0, 0], "exact field", ex), (axes[0, 1], "learned", le)):
        r = numbers[kind]
        scatter_panel(
            ax,
            x,
            train,
            title=f"{kind} over training points:\nmedian distance "
            f"{r['nn_median_median']:.1e}, W2 {r['ratio_median']:.2f}x floor",
        )
    # zoom on a small window around one exact sample: exact samples sit on training points
    c = train[np.argmin(np.linalg.norm(train - ex[0], axis=1))]
    ax, half = axes[1, 0], 0.08
    ax.scatter(train[:, 0], train[:, 1], s=30, c="0.75", lw=0, label="training points")
    ax.scatter(le[:, 0], le[:, 1], s=10, c="tab:blue", lw=0, label="learned")
    ax.scatter(ex[:, 0], ex[:, 1], s=14, c="tab:red", marker="x", lw=0.8, label="exact field")
    ax.set_xlim(c[0] - half, c[0] + half)
    ax.set_ylim(c[1] - half, c[1] + half)
    ax.set_aspect("equal")
    ax.set_title(f"zoom: a {2 * half:g} x {2 * half:g} window (std units)", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    ax = axes[1, 1]
    all_d = np.concatenate([first[k]["dists"] for k in KINDS])
    bins = np.logspace(np.log10(max(all_d.min(), 1e-7)), np.log10(all_d.max()), 60)
    for kind, color in zip(KINDS, ("tab:red", "tab:blue", "0.4"), strict=True):
        ax.hist(
            np.maximum(first[kind]["dists"], bins[0]),
            bins,
            histtype="step",
            color=color,
            label=kind,
        )
    ax.set_xscale("log")
    ax.set_xlabel("distance to the nearest training point (std units)")
    ax.set_ylabel("samples")
    ax.set_title("nearest-training-point distance, first training seed", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(figure_path(b, NAME), dpi=120)
    plt.close(fig)


def run(b):
    t0 = time.perf_counter()
    cfgs = [b.cfg(seed=s, method="fm", model="mlp") for s in b.train_seeds]
    paths = ensure_runs(cfgs, b.quick)
    n = b.n_eval
    keys = [(kind, i) for kind in KINDS for i in range(len(cfgs))]
    jobs = [{"run": paths[i], "kind": kind, "n": n, "eval_seeds": b.eval_seeds} for kind, i in keys]
    by = dict(zip(keys, pmap(_arm, jobs), strict=True))
    numbers = {k: _summary([by[(k, i)] for i in range(len(cfgs))]) for k in KINDS}
    ex, le, fr = (numbers[k] for k in KINDS)
    # memorises: the typical exact sample is closer to a training point than 90% of fresh data;
    # no closer: the learned samples' median and 10th percentile reach 90% of fresh data's.
    # Caveats: learned samples partly closer, or much farther (off the data, not just new points)
    memorises = ex["nn_median_median"] < fr["nn_p10_median"]
    no_closer = all(le[k] >= 0.9 * fr[k] for k in ("nn_median_median", "nn_p10_median"))
    farther = le["nn_median_median"] / fr["nn_median_median"]
    # the same ratio per training seed (learned and fresh data drawn against the same run's
    # training set): the spread behind the median
    farther_by_seed = [
        a / f for a, f in zip(le["nn_median_by_seed"], fr["nn_median_by_seed"], strict=True)
    ]
    if not memorises or le["nn_median_median"] <= ex["nn_median_median"]:
        verdict = "does not hold"
    else:
        verdict = "holds" if no_closer and farther < 2 else "holds with caveat"
    measured = (
        f"median (10th percentile) distance to the nearest of {len(by[KINDS[0], 0]['train'])} "
        "training points: "
        + "; ".join(
            f"{k} {r['nn_median_median']:.1e} ({r['nn_p10_median']:.1e}), W2 "
            f"{r['ratio_median']:.2f}x floor"
            for k, r in numbers.items()
        )
        + f"; learned/fresh median distance {farther:.2f} (by training seed "
        + "/".join(f"{x:.2f}" for x in farther_by_seed)
        + "); exact field integrated to "
        f"t = 1 - {1 - EXACT_T1:.0e}, learned: FM + MLP, {SAMPLER} x{STEPS}"
    )
    numbers["farther_by_seed"] = farther_by_seed
    _figure(b, {k: by[(k, 0)] for k in KINDS}, numbers)
    Result(
        NAME,
        CLAIM,
        measured,
        verdict,
        numbers,
        {
            "method": "fm",
            "model": "mlp",
            "data": "moons",
            "n_train": cfgs[0].n_train,
            "points": n,
            "learned_sampler": f"{SAMPLER} x{STEPS}",
            "exact_sampler": f"rk4 x{EXACT_STEPS} in s = -log(1 - t), to t = {EXACT_T1}",
            "fresh_seeds": f"{FRESH_SEED} + eval seed",
        },
    ).write(b, t0)
