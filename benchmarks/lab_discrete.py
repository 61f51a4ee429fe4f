"""The claims lab's shared pieces for Part B generation: budgets, cached discrete runs, and
sampling + scoring jobs (validity and conditional accuracy by the exact checker, NFE, wall time).

Budgets (GENERATIVE_PARTB_BUDGET picks one; every result JSON records which made it):
- cpu15, the default: what the issue's limit of 15 CPU-minutes per model buys here, 3 seeds
  (a 64-wide, 2-block transformer, 8000 MaskGIT steps of batch 64: the training times are in
  results/partb_targets.json; the AR model, which converges far sooner, 3000 steps).
- prototype: the issue's reference prototype (0.36M parameters, 10k steps of batch 128), close
  to an hour of CPU per model on this machine (partb_prototype_check measures one).
- session: the single-seed budget of the first results (1500-4000 steps of batch 32).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.lab import CACHE, pmap
from generative.discrete.train_tokens import DiscreteConfig


@dataclass(frozen=True)
class DBudget:
    name: str
    seeds: tuple = (0, 1, 2)
    steps: int = 10000  # MaskGIT and AR (experiments 1-4, targets)
    batch: int = 128
    snapshot_every: int = 1000
    bound_steps: int = 10000  # MDLM and the D3PM kernels (experiment 5)
    n_samples: int = 1000  # samples per scored configuration
    n_bound: int = 500  # held-out sequences per bound
    hidden: int = 96  # the transformer (0.36M parameters at 96 x 3)
    depth: int = 3
    lr: float = 1e-3
    maskgit_steps: int = 0  # 0: as `steps`; more lets the slower-learning masked model catch up
    ar_steps: int = 0  # 0: as `steps`; the AR model converges sooner, so may stop sooner

    def cfg(self, method: str, seed: int, **kw) -> DiscreteConfig:
        steps = self.steps if method in ("maskgit", "ar") else self.bound_steps
        if method == "maskgit" and self.maskgit_steps:
            steps = self.maskgit_steps
        if method == "ar" and self.ar_steps:
            steps = self.ar_steps
        return DiscreteConfig(
            method=method,
            seed=seed,
            steps=steps,
            batch_size=self.batch,
            hidden=self.hidden,
            depth=self.depth,
            lr=self.lr,
            snapshot_every=self.snapshot_every if method in ("maskgit", "ar") else 0,
            ckpt_every=max(steps, 1),
            **kw,
        )

    def describe(self) -> dict:
        return dataclasses.asdict(self)


PROTOTYPE = DBudget("prototype")
CPU15 = DBudget(
    "cpu15", steps=8000, batch=64, bound_steps=1000, hidden=64, depth=2, lr=2e-3, ar_steps=3000,
)  # fmt: skip
SESSION = DBudget(
    "session", seeds=(0,), steps=1500, batch=32, snapshot_every=250, bound_steps=600,
    n_samples=256, n_bound=200, hidden=64, depth=2, lr=2e-3, maskgit_steps=4000,
)  # fmt: skip
QUICK = DBudget(
    "quick", seeds=(0,), steps=30, batch=16, snapshot_every=15, bound_steps=10, n_samples=16,
    n_bound=16, hidden=32, depth=1,
)  # fmt: skip


BUDGETS = {d.name: d for d in (CPU15, PROTOTYPE, SESSION)}
BUDGET_ENV = "GENERATIVE_PARTB_BUDGET"


def budget(b) -> DBudget:
    """The Part B budget for the lab's Budget b: quick, or the one GENERATIVE_PARTB_BUDGET names
    (default cpu15)."""
    if b.quick:
        return QUICK
    name = os.environ.get(BUDGET_ENV, "cpu15")
    if name not in BUDGETS:
        raise SystemExit(f"{BUDGET_ENV}={name}: choose one of {', '.join(BUDGETS)}")
    return BUDGETS[name]


def run_path(cfg: DiscreteConfig, budget_name: str) -> Path:
    skip = ("snapshot_every", "ckpt_every", "log_every")
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in skip}
    key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    return CACHE / budget_name / f"discrete-{cfg.method}-{key[:12]}"


def _train_one(job):
    cfg, path = job
    from generative.discrete.train_tokens import train_discrete

    if not (path / "state.json").exists():
        shutil.rmtree(path, ignore_errors=True)
        train_discrete(cfg, path, progress=False)
    return path


def ensure_runs(db: DBudget, cfgs: list[DiscreteConfig]) -> list[Path]:
    """Train every config not cached yet (two at a time); returns their run folders."""
    paths = [run_path(c, db.name) for c in cfgs]
    todo = [(c, p) for c, p in zip(cfgs, paths, strict=True) if not (p / "state.json").exists()]
    if todo:
        print(f"  training {len(todo)} discrete run(s) ...", flush=True)
        pmap(_train_one, todo)
    return paths


def main_runs(db: DBudget) -> dict:
    """The class-conditional shapes runs most experiments share: (method, seed) -> folder."""
    cfgs = {(m, s): db.cfg(m, s) for m in ("maskgit", "ar") for s in db.seeds}
    return dict(zip(cfgs, ensure_runs(db, list(cfgs.values())), strict=True))


def linear_trained_runs(db: DBudget) -> dict:
    """MaskGIT trained with the linear schedule (a uniform mask ratio, as MDLM draws it) instead
    of the paper's cosine: ("maskgit-linear", seed) -> folder (exp31 measures it)."""
    cfgs = {("maskgit-linear", s): db.cfg("maskgit", s, schedule="linear") for s in db.seeds}
    return dict(zip(cfgs, ensure_runs(db, list(cfgs.values())), strict=True))


# region: score-job
def score(job) -> dict:
    """Sample a cached run and score it. job: run, n, and generate()'s keyword arguments
    (steps, sampler, schedule, choice_temperature, kv_cache, seed), optional snapshot."""
    import torch

    from generative.discrete.generate import generate, score_samples
    from generative.discrete.train_tokens import load_discrete_run

    torch.set_num_threads(1)
    job = dict(job)
    run = load_discrete_run(job.pop("run"), snapshot=job.pop("snapshot", None), data=False)
    n = job.pop("n")
    cond, labels = run.data.prompts(n, job.get("seed", 0))
    s = generate(run, n, cond=cond, **job)
    out = score_samples(run, s, labels)
    out["train_s"] = run.state.get("wall_s")
    return out


# endregion


def median(xs) -> float:
    return float(np.median(np.asarray(xs, dtype=float)))


BUDGET_NOTES = {
    "cpu15": "each MaskGIT and AR model within the issue's 15 CPU-minutes (one thread), 3 seeds",
    "prototype": "the issue's prototype: 0.36M parameters, 10k steps of batch 128, 3 seeds",
    "session": "reduced: one seed, 1500-4000 steps of batch 32 (a shared machine's budget)",
    "quick": "quick: pipeline check, numbers meaningless",
}


def settings(db: DBudget, **kw) -> dict:
    """The JSON settings block: model, data, and the budget that produced the numbers."""
    return {
        "data": "shapes, class-conditional (shape x colour, 16 classes)",
        "model": f"TokenTransformer hidden {db.hidden}, depth {db.depth}, heads 4",
        "budget": db.describe(),
        "budget_note": BUDGET_NOTES[db.name],
        **kw,
    }


def write(b, db: DBudget, name, claim, measured, verdict, numbers, extra: dict, t0):
    """lab.write_result with this budget's seeds and settings (one sampling seed per run)."""
    from benchmarks.lab import write_result

    lb = dataclasses.replace(b, train_seeds=db.seeds, eval_seeds=1)
    env = "" if db.name in ("cpu15", "quick") else f"{BUDGET_ENV}={db.name} "  # the budget used
    return write_result(lb, name, claim, measured, verdict, numbers, settings(db, **extra), t0, env)


def arms_summary(scores: dict, seeds) -> dict:
    """label -> medians over training seeds of validity, cond. accuracy, NFE and wall time."""
    out = {}
    for label in {k[0] for k in scores}:
        rs = [scores[(label, s)] for s in seeds]
        out[label] = {
            "validity_median": median([r["validity"] for r in rs]),
            "validity_by_seed": [r["validity"] for r in rs],
            "cond_accuracy_median": median([r.get("cond_accuracy", np.nan) for r in rs]),
            "nfe": rs[0]["nfe"],
            "wall_s_median": median([r["wall_s"] for r in rs]),
        }
    return out


def score_arms(arms: dict, runs: dict, db: DBudget) -> dict:
    """arms: label -> (method, generate() kwargs); scores each arm on every seed's run."""
    keys = [(label, s) for label in arms for s in db.seeds]
    jobs = [
        {"run": runs[(arms[label][0], s)], "n": db.n_samples, "seed": 0, **arms[label][1]}
        for label, s in keys
    ]
    return arms_summary(dict(zip(keys, pmap(score, jobs), strict=True)), db.seeds)
