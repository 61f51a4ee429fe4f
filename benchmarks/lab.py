"""The claims lab's shared runner: cached training runs, parallel jobs, scoring by the 2D
protocol, and result files (JSON with numbers, settings, seeds, versions and the command)."""

from __future__ import annotations

import atexit
import dataclasses
import fcntl
import functools
import hashlib
import json
import multiprocessing as mp
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from generative.continuous.image_data import is_image_spec
from generative.continuous.train_denoiser import TrainConfig

ROOT = Path(__file__).parent
RESULTS = ROOT / "results"
CACHE = ROOT / ".cache"
WORKERS = 2  # this machine has two cores; every run uses one thread (quick mode: 1)


@dataclass(frozen=True)
class Budget:
    """How much an experiment may spend. Full: the claims' numbers; quick: the pipeline only."""

    quick: bool
    train_seeds: tuple = (0, 1, 2)
    eval_seeds: int = 5
    steps: int = 0  # 0: each model's default training steps
    snapshot_every: int = 250  # EMA snapshots for quality-versus-training curves
    n_eval: int = 2000  # points per side of every W2 (the protocol's 2000; quick: fewer)

    @property
    def results(self) -> Path:
        return RESULTS / "quick" if self.quick else RESULTS

    def cfg(self, snapshots: bool = False, **kw) -> TrainConfig:
        """A training config at this budget (quick: a few dozen steps); snapshots: keep EMA
        weights along the way (same cache entry as the run without them)."""
        if self.steps and "steps" not in kw:
            kw["steps"] = self.steps
        if snapshots:
            kw["snapshot_every"] = self.snapshot_every
        return TrainConfig(**kw)


FULL = Budget(quick=False)
QUICK = Budget(quick=True, train_seeds=(0,), eval_seeds=1, steps=40, snapshot_every=20, n_eval=400)


_POOL = None
PER_STEP = {"rk4": 4, "midpoint": 2, "heun": 2}  # network evaluations per solver step


def job_cost(job) -> float:
    """A rough relative cost, so the longest jobs start first and no core idles at the end:
    sampling steps x evaluations per step x evaluation seeds, or training steps (a DiT ~3x)."""
    if isinstance(job, dict):
        per = PER_STEP.get(job.get("sampler"), 1)
        return (job.get("steps") or 1) * per * job.get("eval_seeds", 1)
    cfg = job[0] if isinstance(job, tuple) else None
    if hasattr(cfg, "steps") and hasattr(cfg, "model"):
        from generative.continuous.train_denoiser import DEFAULT_STEPS

        return (cfg.steps or DEFAULT_STEPS[cfg.model]) * (3 if cfg.model == "dit" else 1)
    return 1.0


# how busy the pool kept its workers: seconds of job time, and of pool wall time x workers
POOL_STATS = {"busy_s": 0.0, "capacity_s": 0.0}


def _timed(args):
    fn, job = args
    t0 = time.perf_counter()
    return fn(job), time.perf_counter() - t0


def pmap(fn, jobs: list) -> list:
    """fn over jobs in WORKERS spawned processes (fn must live at a module's top level), longest
    first, results in the jobs' order. The pool lives as long as the lab: workers import torch
    once, not once per experiment."""
    global _POOL
    if WORKERS == 1 or len(jobs) <= 1:  # in-process: quick runs would spend more on spawning
        return [fn(j) for j in jobs]
    if _POOL is None:
        _POOL = mp.get_context("spawn").Pool(WORKERS)
        atexit.register(_POOL.terminate)
    order = sorted(range(len(jobs)), key=lambda i: -job_cost(jobs[i]))
    t0 = time.perf_counter()
    done = _POOL.map(_timed, [(fn, jobs[i]) for i in order], chunksize=1)
    POOL_STATS["capacity_s"] += WORKERS * (time.perf_counter() - t0)
    POOL_STATS["busy_s"] += sum(s for _, s in done)
    out = [None] * len(jobs)
    for i, (r, _) in zip(order, done, strict=True):
        out[i] = r
    return out


def close_pool():
    """Let the workers finish and exit (a terminated pool leaves a semaphore behind)."""
    global _POOL
    if _POOL is not None:
        _POOL.close()
        _POOL.join()
        _POOL = None


def pool_line() -> str:
    """One line on how well the jobs filled the workers (idle tails show up here)."""
    cap = POOL_STATS["capacity_s"]
    if not cap:
        return "pool: not used"
    return (
        f"pool: {WORKERS} workers busy {100 * POOL_STATS['busy_s'] / cap:.0f}% of "
        f"{cap / WORKERS / 60:.1f} min in parallel sections"
    )


# fields that do not change the trained weights: runs differing only here share a cache entry
NOT_HASHED = ("snapshot_every", "ckpt_every", "log_every")


def run_path(cfg: TrainConfig, quick: bool) -> Path:
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in NOT_HASHED}
    key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    return cache_dir(quick, is_image_spec(cfg.data)) / f"{cfg.method}-{cfg.model}-{key[:12]}"


def cache_dir(quick: bool, images: bool = False) -> Path:
    """Where trained runs are kept. Image runs have their own folder, so that a from-scratch
    Part A lab (make bench) leaves the costlier image runs alone, and the other way round."""
    return CACHE / ("quick" if quick else "full") / ("images" if images else "points")


def _train_one(job):
    cfg, path = job
    from generative.continuous.train_denoiser import train

    path.parent.mkdir(parents=True, exist_ok=True)
    # one trainer per cache entry across processes (two labs, or a lab and a helper script):
    # the lock sits beside the folder, since clearing the folder would remove a lock inside it;
    # a second process waits, then finds the entry cached
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _cached(cfg, path):
            shutil.rmtree(path, ignore_errors=True)  # half-written, or lacking snapshots
            train(cfg, path, progress=False)
    return path


def _cached(cfg: TrainConfig, path: Path) -> bool:
    """A finished run: all its steps done (a killed lab leaves a checkpoint part-way), and its
    snapshots kept if they are asked for."""
    from generative.continuous.train_denoiser import resolved

    state = path / "state.json"
    if not state.exists() or json.loads(state.read_text()).get("step") != resolved(cfg).steps:
        return False
    return not cfg.snapshot_every or (path / "snapshots").is_dir()


def ensure_runs(cfgs: list[TrainConfig], quick: bool) -> list[Path]:
    """Train every config not already cached (two at a time); returns the run folders."""
    paths = [run_path(c, quick) for c in cfgs]
    todo = {p: c for c, p in zip(cfgs, paths, strict=True) if not _cached(c, p)}
    if todo:
        print(f"  training {len(todo)} run(s) ...", flush=True)
        pmap(_train_one, [(c, p) for p, c in todo.items()])
    return paths


@functools.cache
def _code_hash() -> str:
    """The package's and this file's source: a score kept by older sampling or metric code is
    never reused."""
    h = hashlib.sha256()
    for f in [Path(__file__), *sorted((ROOT.parent / "generative").rglob("*.py"))]:
        h.update(f.read_bytes())
    return h.hexdigest()


def _score_key(job) -> str:
    """What decides a score besides the run's weights: the same key, the same numbers."""
    fields = {
        "code": _code_hash(),
        "snapshot": job.get("snapshot"),
        "sampler": job["sampler"],
        "steps": job["steps"],
        "variance": job.get("variance", "beta"),
        "guidance": job.get("guidance", 1.0),
        "label": job.get("label"),
        "eval_seeds": job["eval_seeds"],
        "n": job.get("n", 2000),
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def score(job) -> dict:
    """score_run, kept in the run's folder: experiments that score the same run the same way
    (exp01, 04, 05, 07 reuse exp02's default arms) sample and solve the OT once. The cache goes
    with the run, so a from-scratch lab recomputes everything."""
    folder = Path(job["run"]) / "scores"
    path = folder / f"{_score_key(job)}.json"
    samples = path.with_suffix(".npy")
    if path.exists() and samples.exists():
        out = json.loads(path.read_text())
        if job.get("keep_samples"):
            out["samples"] = np.load(samples)
        return out
    out = score_run({**job, "keep_samples": True})  # kept always: a later caller may want them
    folder.mkdir(exist_ok=True)
    tag = f"{os.getpid()}.{time.time_ns()}"  # atomic writes: a reader never sees half a file
    with open(folder / f"{path.stem}.{tag}.npy.tmp", "wb") as f:
        np.save(f, out["samples"])
    os.replace(f.name, samples)
    tmp = folder / f"{path.stem}.{tag}.json.tmp"
    tmp.write_text(json.dumps({k: v for k, v in out.items() if k != "samples"}))
    os.replace(tmp, path)  # written last: its presence means both files are complete
    if not job.get("keep_samples"):
        out.pop("samples")
    return out


def score_run(job) -> dict:
    """Sample a cached run and score it by the 2D protocol. job: dict with run, sampler, steps,
    eval_seeds and optional guidance, label, variance."""
    import torch

    from generative.continuous.metrics import Reference, evaluate
    from generative.continuous.sampling import sample
    from generative.continuous.train_denoiser import load_run

    run = load_run(job["run"], snapshot=job.get("snapshot"))
    ref = Reference.for_run(run.cfg, n=job.get("n", 2000))
    nfe, kept = [], []
    y = None

    def draw(seed):
        nonlocal y
        if job.get("label") is not None:
            y = torch.full((ref.n,), job["label"], dtype=torch.long)
        res = sample(
            run.method,
            run.net,
            run.shape,
            ref.n,
            job["sampler"],
            job["steps"],
            y,
            job.get("guidance", 1.0),
            seed,
            variance=job.get("variance", "beta"),
        )
        nfe.append(res.nfe)
        x = res.x.numpy()
        if not run.cfg.standardize:  # score every run in the training set's standardized units
            x = ref.split.standardizer.encode(run.standardizer.decode(x))
        kept.append(x)
        return x

    rep = evaluate(draw, ref, job["eval_seeds"])
    out = {**rep.to_json(), "nfe": nfe[0], "train_s": run.state["wall_s"]}
    if job.get("keep_samples"):  # the first evaluation seed's samples, for figures
        out["samples"] = kept[0]
    return out


def median(xs) -> float:
    return float(np.median(np.asarray(xs, dtype=float)))


def versions() -> dict:
    import ot
    import sklearn
    import torch

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pot": ot.__version__,
        "scikit-learn": sklearn.__version__,
        "machine": platform.machine(),
    }


VERDICTS = ("holds", "does not hold", "holds with caveat")


@dataclass
class Result:
    """One experiment's outcome: the claim, the headline measurement, the verdict and every
    number behind it; `write` adds how it ran (seeds, versions, the command, wall time)."""

    name: str
    claim: str
    measured: str
    verdict: str
    numbers: dict
    settings: dict

    def __post_init__(self):
        assert self.verdict in VERDICTS, self.verdict

    def write(self, b: Budget, t0: float, env: str = "") -> Path:
        """results/<name>.json: the headline, the verdict, every number, how to reproduce it."""
        b.results.mkdir(parents=True, exist_ok=True)
        command = env + f"python -m benchmarks.run_all --only {self.name}"
        out = {
            "experiment": self.name,
            "claim": self.claim,
            "measured": self.measured,
            "verdict": self.verdict,
            "numbers": self.numbers,
            "settings": self.settings,
            "training_seeds": list(b.train_seeds),
            "eval_seeds": b.eval_seeds,
            "quick": b.quick,
            "versions": versions(),
            "command": command + (" --quick" if b.quick else ""),
            "wall_s": round(time.perf_counter() - t0, 1),
        }
        path = b.results / f"{self.name}.json"
        path.write_text(json.dumps(out, indent=1))
        print(f"  {self.name}: {self.verdict}: {self.measured}", flush=True)
        return path


def figure_path(b: Budget, name: str) -> Path:
    b.results.mkdir(parents=True, exist_ok=True)
    return b.results / f"{name}.png"


def summarize(
    results: list[dict], keys=("ratio", "w2", "floor", "off_data", "train_s"), by_seed=("ratio",)
) -> dict:
    """Medians over training seeds of one arm's scores, with some per-seed values kept; beside
    W2, the divergence D with a perfect sampler's band, the toy diagnostics and their flags, and
    D per training seed and evaluation seed (for paired comparisons between arms)."""
    out = {f"{k}_median": median([r[k] for r in results]) for k in keys}
    out.update({f"{k}_by_seed": [r[k] for r in results] for k in by_seed})
    if "nfe" in results[0]:
        out["nfe"] = results[0]["nfe"]
    if results[0].get("mode_mass"):
        out["mode_mass_median"] = np.median([r["mode_mass"] for r in results], axis=0).tolist()
    if results[0].get("w2_modes"):  # W2 within each moon once the split is matched
        out["ratio_modes_median"] = median([r["ratio_modes"] for r in results])
        out["w2_modes_median"] = np.median([r["w2_modes"] for r in results], axis=0).tolist()
    if results[0].get("divergence_band"):
        out["divergence_median"] = median([r["divergence"] for r in results])
        out["divergence_band"] = results[0]["divergence_band"]  # a perfect sampler's median
        out["divergence_seeds"] = [r["divergence_by_seed"] for r in results]
        out["flags_by_seed"] = [r["flags"] for r in results]
    if results[0].get("diagnostics"):
        for k in ("residual_rms", "far_share", "along_ks"):
            out[f"{k}_median"] = median([r["diagnostics"][k] for r in results])
        out["noise"] = results[0]["diagnostics"]["noise"]
    return out


def paired(a: dict, b: dict, names=("a", "b"), key: str = "divergence_seeds") -> dict:
    """Two arms' summaries (same training and evaluation seeds; where one arm has fewer training
    seeds, the ones both have) compared on D: the mean paired difference a - b with its 95%
    interval, p-value and verdict ("within noise" when the interval includes zero)."""
    from generative.continuous.uncertainty import paired_comparison

    n = min(len(a[key]), len(b[key]))  # an arm run at fewer training seeds: the common ones
    c = paired_comparison(a[key][:n], b[key][:n], names)
    return {**c.to_json(), "line": c.line()}


def versus(numbers: dict, better: str, worse: str) -> dict:
    """The claim "arm `better` beats arm `worse`", tested on D paired over the same seeds; kept
    in numbers["comparisons"] (the lab's JSON), returned with its one-line summary."""
    c = paired(numbers[better], numbers[worse], (better, worse))
    numbers.setdefault("comparisons", {})[f"{better} vs {worse}"] = c
    return c


def graded(c: dict, better: str, size: float, strong: float = 1.5) -> str:
    """A verdict that needs both: the paired D comparison must favour `better` beyond its noise
    (else "does not hold", whatever W2 says), and the size of the effect (a W2 ratio, worse arm
    over better) decides between "holds" (> strong) and "holds with caveat"."""
    if c["verdict"] != f"{better} better":
        return "does not hold"
    return "holds" if size > strong else "holds with caveat"


def compare_arms(b: Budget, arms: dict) -> tuple[dict, dict]:
    """arms: label -> dict(cfg=dict of TrainConfig fields, sampler=..., steps=..., [variance]).
    Trains each arm at every training seed, scores it, and returns (label -> summary,
    label -> first seed's full score with samples, for figures)."""
    cfgs = {(a, s): b.cfg(seed=s, **spec["cfg"]) for a, spec in arms.items() for s in b.train_seeds}
    paths = dict(zip(cfgs, ensure_runs(list(cfgs.values()), b.quick), strict=True))
    keys = list(paths)
    jobs = [
        {
            "run": paths[(a, s)],
            "sampler": arms[a]["sampler"],
            "steps": arms[a]["steps"],
            "variance": arms[a].get("variance", "beta"),
            "eval_seeds": b.eval_seeds,
            "n": b.n_eval,
            "keep_samples": s == b.train_seeds[0],
        }
        for a, s in keys
    ]
    by = dict(zip(keys, pmap(score, jobs), strict=True))
    summary = {a: summarize([by[(a, s)] for s in b.train_seeds]) for a in arms}
    first = {a: by[(a, b.train_seeds[0])] for a in arms}
    return summary, first


def scatter_figure(b: Budget, name: str, first: dict, ncols: int = 3):
    """One panel of samples (first training seed) per arm, titled with its ratio to the floor and
    its divergence D (a perfect sampler scores about 0)."""
    from generative.continuous.plots import grid_figure

    panels = [
        {
            "samples": r["samples"],
            "title": f"{label}: {r['ratio']:.2f}x floor, D {r.get('divergence', np.nan):.1f}, "
            f"{r['nfe']} NFE",
        }
        for label, r in first.items()
    ]
    grid_figure(panels, figure_path(b, name), ncols=min(ncols, len(panels)))
