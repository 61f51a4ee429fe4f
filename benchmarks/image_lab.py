"""The claims lab's image side: scoring cached image runs with the classifier metric, and
labelled sample grids. Training and caching are lab.py's (ensure_runs); the judge classifier is
trained once per data set into benchmarks/.cache/classifiers and shared by every run."""

from __future__ import annotations

import numpy as np

from benchmarks.lab import CACHE, figure_path, median

JUDGES = CACHE / "classifiers"  # deterministic weights: one per data set, shared by all runs


def score_image_run(job) -> dict:
    """Sample a cached image run and score it. job: run, sampler, steps, eval_seeds and optional
    guidance, snapshot, conditional (default: the run's own), keep_samples."""
    from generative.continuous.image_metrics import ImageReference, evaluate_images, run_drawer
    from generative.continuous.train_denoiser import load_run

    run = load_run(job["run"], snapshot=job.get("snapshot"))
    ref = ImageReference(run.cfg.data, JUDGES)
    draw = run_drawer(run, job["sampler"], job["steps"], job.get("guidance", 1.0))
    kept = {}

    def keep(seed, n):
        x, y = draw(seed, n)
        kept.setdefault("x", x[:100])
        kept.setdefault("y", None if y is None else y[:100])
        return x, y

    rep = evaluate_images(keep, ref, job["eval_seeds"])
    out = {**rep.to_json(), "nfe": draw.nfe, "train_s": run.state["wall_s"]}
    out["train_cpu_s"] = run.state.get("cpu_s", run.state["wall_s"])  # older runs: wall only
    out["final_loss"] = float(np.mean([v for _, v in run.state["losses"][-10:]]))
    if job.get("keep_samples"):
        out["samples"], out["labels"] = kept["x"], kept["y"]
    return out


def summarize_images(results: list[dict]) -> dict:
    """Medians over training seeds, with the per-seed values kept."""
    out = {}
    for k in ("fd", "floor", "ratio", "accuracy", "train_s", "train_cpu_s", "final_loss"):
        vals = [r[k] for r in results]
        if vals[0] is None:
            continue
        out[f"{k}_median"] = median(vals)
        out[f"{k}_by_seed"] = vals
    out["nfe"], out["n"] = results[0]["nfe"], results[0]["n"]
    out["judge_accuracy"] = results[0]["classifier_accuracy"]
    return out


def grids_figure(b, name: str, panels: dict, ncols: int = 10):
    """One labelled sample grid per arm, stacked vertically in one PNG."""
    import matplotlib.pyplot as plt

    from generative.continuous.plots import image_grid

    tmp = []
    for i, (title, r) in enumerate(panels.items()):
        path = figure_path(b, f"{name}.part{i}")
        labels = None if r["labels"] is None else r["labels"][: 5 * ncols]
        image_grid(r["samples"][: 5 * ncols], path, labels, ncols, title)
        tmp.append(path)
    images = [plt.imread(p) for p in tmp]
    width = max(im.shape[1] for im in images)
    padded = [
        np.pad(im, ((0, 0), (0, width - im.shape[1]), (0, 0)), constant_values=1) for im in images
    ]
    plt.imsave(figure_path(b, name), np.concatenate(padded, axis=0))
    for p in tmp:
        p.unlink()


QUICK_STEPS, QUICK_SAMPLER = 40, ("euler", 4)  # quick mode: the pipeline only


def image_budget(b, seeds=(0, 1, 2), eval_seeds: int = 3):
    """The budget an image experiment runs at (and records): quick keeps one seed each."""
    import dataclasses

    if b.quick:
        return dataclasses.replace(b, train_seeds=tuple(seeds[:1]), eval_seeds=1)
    return dataclasses.replace(b, train_seeds=tuple(seeds), eval_seeds=eval_seeds)


def image_arms(b, arms: dict):
    """arms: label -> dict(cfg=TrainConfig fields incl. steps, sampler=(name, steps), and
    optional guidance). Trains every arm at every seed of b (cached), scores each; returns
    (label -> summary over seeds, label -> first seed's score with samples and its loss log)."""
    from benchmarks.lab import ensure_runs, pmap
    from generative.checkpoint import read_json

    seeds, eval_seeds = b.train_seeds, b.eval_seeds
    cfgs = {}
    for a, spec in arms.items():
        kw = dict(spec["cfg"], steps=QUICK_STEPS) if b.quick else spec["cfg"]
        for s in seeds:
            cfgs[(a, s)] = b.cfg(seed=s, **kw)
    paths = dict(zip(cfgs, ensure_runs(list(cfgs.values()), b.quick), strict=True))
    jobs = []
    for a, s in paths:
        sampler, steps = QUICK_SAMPLER if b.quick else arms[a]["sampler"]
        jobs.append(
            {
                "run": paths[(a, s)],
                "sampler": sampler,
                "steps": steps,
                "guidance": arms[a].get("guidance", 1.0),
                "eval_seeds": eval_seeds,
                "keep_samples": s == seeds[0],
            }
        )
    scores = dict(zip(paths, pmap(score_image_run, jobs), strict=True))
    summary = {a: summarize_images([scores[(a, s)] for s in seeds]) for a in arms}
    first = {}
    for a in arms:
        first[a] = scores[(a, seeds[0])]
        first[a]["losses"] = read_json(paths[(a, seeds[0])] / "state.json")["losses"]
    return summary, first, paths
