"""Issue-2 targets on two moons: {FM, DDPM} x {MLP, DiT} at default settings, 3 training seeds x
5 evaluation seeds, two runs at a time (one thread each). Prints a table and writes
benchmarks/results/part_a_targets.{json,md}.

    python benchmarks/part_a_targets.py [--seeds 3] [--eval-seeds 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"

# model -> list of (sampler, steps) evaluated; targets: (model, sampler, steps, max ratio)
SAMPLERS = {
    "fm-mlp": [
        ("rk4", 4),
        ("midpoint", 8),
        ("heun", 8),
        ("rk4", 2),
        ("midpoint", 4),
        ("heun", 4),
        ("euler", 8),
    ],
    "ddpm-mlp": [("ancestral", 1000), ("ddim", 50), ("heun", 24)],
    "fm-dit": [("rk4", 4)],
    "ddpm-dit": [("ddim", 50)],
}
TARGETS = [
    ("fm-mlp", "rk4", 4, 1.2, "FM + MLP, <= 16 NFE: W2 <= 1.2x floor"),
    ("fm-mlp", "midpoint", 4, 1.4, "FM + MLP, <= 8 NFE: W2 <= 1.4x floor"),
    ("ddpm-mlp", "ancestral", 1000, 1.1, "DDPM + MLP, 1000 ancestral steps: W2 <= 1.1x floor"),
    ("ddpm-mlp", "ddim", 50, 1.35, "DDPM + MLP, DDIM 50 NFE: W2 <= 1.35x floor"),
    ("ddpm-mlp", "heun", 24, 1.35, "DDPM + MLP, probability-flow ODE (Heun, 49 NFE): <= 1.35x"),
    ("fm-dit", "rk4", 4, 1.5, "FM + DiT, 16 NFE: W2 <= 1.5x floor"),
    ("ddpm-dit", "ddim", 50, 1.5, "DDPM + DiT, DDIM 50 NFE: W2 <= 1.5x floor"),
]


def job(args):
    """Train one (model, seed) at defaults, then score every listed sampler."""
    name, seed, eval_seeds, steps, workdir = args
    from generative.continuous.sampling import sample
    from generative.metrics import Reference, evaluate
    from generative.train import TrainConfig, train

    method, model = name.split("-")
    cfg = TrainConfig(method=method, model=model, seed=seed, steps=steps or 0)
    run = train(cfg, Path(workdir) / f"{name}-s{seed}", progress=False)
    ref = Reference("moons")
    out = {"name": name, "seed": seed, "train_s": run.state["wall_s"], "scores": {}}
    for sampler, k in SAMPLERS[name]:
        nfe = []

        def draw(s, sampler=sampler, k=k, nfe=nfe):
            res = sample(run.method, run.net, run.shape, ref.n, sampler, k, seed=s)
            nfe.append(res.nfe)
            return res.x.numpy()

        rep = evaluate(draw, ref, eval_seeds)
        out["scores"][f"{sampler}x{k}"] = {**rep.to_json(), "nfe": nfe[0]}
    print(f"  {name} seed {seed}: trained {out['train_s']:.0f}s", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="training seeds")
    ap.add_argument("--eval-seeds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="tiny budgets: checks the pipeline only")
    a = ap.parse_args()
    steps = 60 if a.quick else None
    eval_seeds = 1 if a.quick else a.eval_seeds
    seeds = range(1 if a.quick else a.seeds)
    workdir = tempfile.mkdtemp(prefix="part_a_targets_")
    jobs = [(name, s, eval_seeds, steps, workdir) for s in seeds for name in SAMPLERS]
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(2) as pool:
        results = pool.map(job, jobs, chunksize=1)
    shutil.rmtree(workdir, ignore_errors=True)

    rows, summary = [], []
    for name, sampler, k, bound, text in TARGETS:
        runs = [r for r in results if r["name"] == name]
        key = f"{sampler}x{k}"
        ratios = [r["scores"][key]["ratio"] for r in runs]
        w2s = [r["scores"][key]["w2"] for r in runs]
        floors = [r["scores"][key]["floor"] for r in runs]
        train_s = [r["train_s"] for r in runs]
        med = float(np.median(ratios))
        summary.append(
            {
                "target": text,
                "model": name,
                "sampler": key,
                "bound": bound,
                "nfe": runs[0]["scores"][key]["nfe"],
                "ratio_median": med,
                "ratio_by_seed": ratios,
                "w2_median": float(np.median(w2s)),
                "floor_median": float(np.median(floors)),
                "train_s_median": float(np.median(train_s)),
                "met": med <= bound,
            }
        )
    head = "| target | NFE | W2 (median) | floor | ratio (median) | by seed | train s | met |"
    rows = [head, "|" + "---|" * 8]
    for s in summary:
        by = ", ".join(f"{r:.2f}" for r in s["ratio_by_seed"])
        rows.append(
            f"| {s['target']} | {s['nfe']} | {s['w2_median']:.4f} | {s['floor_median']:.4f} "
            f"| {s['ratio_median']:.2f}x | {by} | {s['train_s_median']:.0f} | "
            f"{'yes' if s['met'] else 'NO'} |"
        )
    cmd = "python benchmarks/part_a_targets.py" + (" --quick" if a.quick else "")
    print("\n".join(rows))
    print(f"\n{time.perf_counter() - t0:.0f}s in all; reproduce with: {cmd}")
    if a.quick:
        return
    import torch

    RESULTS.mkdir(exist_ok=True)
    meta = {
        "command": cmd,
        "training_seeds": list(seeds),
        "eval_seeds": eval_seeds,
        "data": "moons, noise 0.03, 8000 training points",
        "threads_per_run": 1,
        "parallel_runs": 2,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
    }
    (RESULTS / "part_a_targets.json").write_text(
        json.dumps({"meta": meta, "targets": summary, "runs": results}, indent=1)
    )
    (RESULTS / "part_a_targets.md").write_text(
        "# Part A targets on two moons\n\nMedians over training seeds "
        f"{list(seeds)}, each the median over {eval_seeds} evaluation seeds. Training wall time "
        "with one thread, two runs side by side on two cores.\n\n"
        + "\n".join(rows)
        + f"\n\nReproduce: `{cmd}`\n"
    )


if __name__ == "__main__":
    main()
