"""Lesson 09's few-step widget data: samples and solver trajectories of every exp14 arm at 1, 2,
4 and 8 NFE, drawn from the first training seed's runs (the very runs exp14's table scores),
small and rounded: results/exp14_few_step_examples.json. exp14 writes it at the end of each run;
this module's command writes it alone, training (or loading from the lab's cache) only the first
seed's runs, a few CPU-minutes instead of the full experiment:
    python -m benchmarks.exp14_examples [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks import lab

N_SAMPLES = 300  # samples per arm and NFE (the widget's cloud)
N_PATHS = 30  # of which the first ones keep every solver state (the widget's trajectories)
SEED = 0  # the sampling seed: the protocol's first evaluation seed
DECIMALS = 3


def _round(x) -> list:
    return np.round(np.asarray(x, dtype=np.float64), DECIMALS).tolist()


def _example(job) -> dict:
    """One arm at one NFE: its samples and the intermediate states of the first N_PATHS."""
    from generative.continuous.sampling import sample
    from generative.continuous.train_denoiser import load_run

    path, sampler, k = job
    run = load_run(path)
    if not run.cfg.standardize:  # the widget draws every arm over the same standardized moons
        raise ValueError(f"{path} was trained on raw coordinates; exp14's runs are standardized")
    res = sample(
        run.method, run.net, run.shape, N_SAMPLES, sampler, k, seed=SEED, keep_trajectory=True
    )
    paths = res.trajectory[:, :N_PATHS].transpose(0, 1)  # (paths, states, 2)
    return {"nfe": res.nfe, "samples": _round(res.x), "paths": _round(paths)}


def _data(path) -> list:
    """True points in the runs' standardized coordinates: the first evaluation seed's reference."""
    from generative.continuous.metrics import Reference
    from generative.continuous.train_denoiser import load_run

    return _round(Reference.for_run(load_run(path).cfg, n=N_SAMPLES).reference(SEED)[0])


def write_examples(b: lab.Budget, paths: dict, arms: list) -> Path:
    """results/exp14_few_step_examples.json from one training seed's run folders (arm -> path)."""
    from benchmarks.exp14_few_step import NAME, NFES, SAMPLER

    out = {
        "experiment": NAME,
        "training_seed": b.train_seeds[0],
        "sampling_seed": SEED,
        "units": "standardized (the training split's per-axis mean and std)",
        "note": f"{N_SAMPLES} samples per arm and NFE; the first {N_PATHS} with every solver "
        "state (paths: noise first, sample last)",
        "data": _data(paths[arms[0]]),
        "samplers": {a: SAMPLER.get(a, "euler") for a in arms},
        "arms": {
            a: {str(k): _example((paths[a], SAMPLER.get(a, "euler"), k)) for k in NFES}
            for a in arms
        },
    }
    b.results.mkdir(parents=True, exist_ok=True)
    dest = b.results / f"{NAME}_examples.json"
    dest.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"  wrote {dest} ({dest.stat().st_size // 1024} KB)", flush=True)
    return dest


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny budgets: pipeline only")
    a = p.parse_args(argv)
    from benchmarks.exp14_few_step import ARMS, _train_all

    b = lab.QUICK if a.quick else lab.FULL
    if a.quick:
        lab.WORKERS = 1
    t0 = time.perf_counter()
    paths, _ = _train_all(b, b.train_seeds[0])
    write_examples(b, paths, [x for x in ARMS if x in paths])
    lab.close_pool()
    print(f"exp14 examples in {time.perf_counter() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
