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
SEEDS_ENV = "GENERATIVE_PARTB_SEEDS"  # how many of the budget's training seeds to use


def budget(b) -> DBudget:
    """The Part B budget for the lab's Budget b: quick, or the one GENERATIVE_PARTB_BUDGET names
    (default cpu15), with its first GENERATIVE_PARTB_SEEDS training seeds (default all); the
    result JSON records the seeds used."""
    if b.quick:
        return QUICK
    name = os.environ.get(BUDGET_ENV, "cpu15")
    if name not in BUDGETS:
        raise SystemExit(f"{BUDGET_ENV}={name}: choose one of {', '.join(BUDGETS)}")
    db = BUDGETS[name]
    k = int(os.environ.get(SEEDS_ENV, len(db.seeds)))
    return dataclasses.replace(db, seeds=db.seeds[: max(1, k)])


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


PARTIAL_ENV = "GENERATIVE_PARTB_PARTIAL"  # 1: score unfinished runs at their latest snapshot


def ensure_runs(db: DBudget, cfgs: list[DiscreteConfig]) -> list[Path]:
    """Train every config not cached yet (two at a time); returns their run folders. With
    GENERATIVE_PARTB_PARTIAL=1 a run still training (snapshots, no state.json) is left alone
    and scored at its latest snapshot; each result records the step it was scored at."""
    paths = [run_path(c, db.name) for c in cfgs]
    partial = os.environ.get(PARTIAL_ENV) == "1"
    todo = [
        (c, p)
        for c, p in zip(cfgs, paths, strict=True)
        if not (p / "state.json").exists() and not (partial and latest_snapshot(p))
    ]
    if todo:
        print(f"  training {len(todo)} discrete run(s) ...", flush=True)
        pmap(_train_one, todo)
    return paths


def latest_snapshot(path: Path) -> int | None:
    """The last snapshot step of a run folder, or None."""
    steps = [int(f.name[4:].split(".")[0]) for f in (path / "snapshots").glob("ema-*.safetensors")]
    return max(steps, default=None)


def main_runs(db: DBudget, schedule: str = "linear") -> dict:
    """The class-conditional shapes runs most experiments share: (method, seed) -> folder.
    MaskGIT is trained with the package's default mask schedule, linear (exp31 chose it; named
    here, so that the cache entry does not move if the default does); exp31 asks for the
    paper's cosine as well."""
    cfgs = {("maskgit", s): db.cfg("maskgit", s, schedule=schedule) for s in db.seeds}
    cfgs |= {("ar", s): db.cfg("ar", s) for s in db.seeds}
    return dict(zip(cfgs, ensure_runs(db, list(cfgs.values())), strict=True))


def ar_runs(db: DBudget, cond: str = "class") -> dict:
    """The autoregressive baseline alone: ("ar", seed) -> folder."""
    cfgs = {("ar", s): db.cfg("ar", s, cond=cond) for s in db.seeds}
    return dict(zip(cfgs, ensure_runs(db, list(cfgs.values())), strict=True))


def linear_trained_runs(db: DBudget, cond: str = "class") -> dict:
    """MaskGIT trained with the linear schedule (a uniform mask ratio, as MDLM draws it) instead
    of the paper's cosine: ("maskgit-linear", seed) -> folder (exp31 measures it); for caption
    prompts the key is "maskgit-linear-caption"."""
    name = "maskgit-linear" + ("" if cond == "class" else f"-{cond}")
    kw = {"schedule": "linear"} | ({} if cond == "class" else {"cond": cond})
    cfgs = {(name, s): db.cfg("maskgit", s, **kw) for s in db.seeds}
    return dict(zip(cfgs, ensure_runs(db, list(cfgs.values())), strict=True))


def load_run(where, snapshot: int | None = None):
    """A cached run (no training data), at its final weights or, while it is still training,
    at its latest snapshot."""
    from generative.discrete.train_tokens import load_discrete_run

    if snapshot is None and not (Path(where) / "state.json").exists():
        snapshot = latest_snapshot(Path(where))
    return load_discrete_run(where, snapshot=snapshot, data=False)


ORACLE = "oracle:"  # a job's run "oracle:<cond>" decodes the exact posterior of shapes


def oracle_run(cond: str):
    """A stand-in run whose sampler is the exact oracle of class- or caption-conditioned
    shapes (generate(oracle=True) reads only cfg.method and data from it)."""
    from types import SimpleNamespace

    from generative.discrete.data.token_data import load_token_data

    data = load_token_data("shapes", cond, n_train=1, n_test=1)
    return SimpleNamespace(cfg=SimpleNamespace(method="maskgit"), net=None, data=data, state={})


# region: score-job
def score(job) -> dict:
    """Sample a cached run and score it. job: run, n, and generate()'s keyword arguments
    (steps, sampler, schedule, choice_temperature, kv_cache, seed), optional snapshot."""
    import torch

    from generative.discrete.generate import generate, score_samples

    torch.set_num_threads(1)
    job = dict(job)
    where = job.pop("run")
    if str(where).startswith(ORACLE):
        run = oracle_run(str(where)[len(ORACLE) :])
        job["oracle"] = True
    else:
        run = load_run(where, job.pop("snapshot", None))
    n = job.pop("n")
    cond, labels = run.data.prompts(n, job.get("seed", 0))
    s = generate(run, n, cond=cond, **job)
    out = score_samples(run, s, labels)
    out["train_s"] = run.state.get("wall_s")
    out["trained_steps"] = run.state.get("step")
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
    """lab.Result.write with this budget's seeds and settings (one sampling seed per run)."""
    from benchmarks.lab import Result

    lb = dataclasses.replace(b, train_seeds=db.seeds, eval_seeds=1)
    env = "" if db.name in ("cpu15", "quick") else f"{BUDGET_ENV}={db.name} "  # the budget used
    for var in (SEEDS_ENV, PARTIAL_ENV):  # and the other knobs, so the command reproduces it
        if os.environ.get(var) and not b.quick:
            env += f"{var}={os.environ[var]} "
    return Result(name, claim, measured, verdict, numbers, settings(db, **extra)).write(lb, t0, env)


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
            "nfe_mean_median": median([r.get("nfe_mean", r["nfe"]) for r in rs]),
            "wall_s_median": median([r["wall_s"] for r in rs]),
            "trained_steps_by_seed": [r.get("trained_steps") for r in rs],
        }
    return out


def score_arms(arms: dict, runs: dict, db: DBudget, n: int | None = None) -> dict:
    """arms: label -> (method, generate() kwargs); scores each arm on every seed's run. A method
    "oracle:<cond>" scores the exact oracle once (it has no training seeds)."""
    keys = [(label, s) for label in arms for s in _seeds(arms[label][0], db, runs)]
    jobs = [
        {
            "run": _where(arms[label][0], s, runs),
            "n": n or db.n_samples,
            "seed": 0,
            **arms[label][1],
        }  # fmt: skip
        for label, s in keys
    ]
    scores = dict(zip(keys, pmap(score_cached, jobs), strict=True))
    out = {}
    for label in arms:
        seeds = _seeds(arms[label][0], db, runs)
        out |= arms_summary({k: v for k, v in scores.items() if k[0] == label}, seeds)
    return out


def score_cached(job) -> dict:
    """score(job), kept on disk for the oracle's jobs: they need no training and give the same
    samples every time (fixed seeds), so a re-run of an experiment reuses them."""
    if not str(job["run"]).startswith(ORACLE):
        return score(job)
    import inspect

    from generative.discrete.generate import generate

    defaults = {k: repr(p.default) for k, p in inspect.signature(generate).parameters.items()}
    blob = json.dumps([job, defaults, _decoding_source()], sort_keys=True)  # a changed default
    # or decoder is a new entry
    key = hashlib.sha256(blob.encode()).hexdigest()[:16]
    path = CACHE / "oracle-scores" / f"{key}.json"
    if path.exists():
        return json.loads(path.read_text())
    out = score(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def _decoding_source() -> str:
    """A hash of the files that decide an oracle job's samples (decoders, oracle, checker)."""
    import generative.discrete as pkg

    root = Path(pkg.__file__).parent
    files = ["decoders.py", "generate.py", "oracle.py", "objectives/maskgit.py",
             "objectives/categorical.py", "data/checker.py", "data/shapes.py"]  # fmt: skip
    return hashlib.sha256(b"".join((root / f).read_bytes() for f in files)).hexdigest()[:16]


def _seeds(method: str, db: DBudget, runs: dict) -> tuple:
    """The training seeds an arm is scored on: the oracle's one, or every seed with a run."""
    return (0,) if method.startswith(ORACLE) else tuple(s for s in db.seeds if (method, s) in runs)


def _where(method: str, seed: int, runs: dict):
    return method if method.startswith(ORACLE) else runs[(method, seed)]
