"""Bake the small models the course widgets run in the browser: train them with the package's own
training loop, export their weights to site/baked/*.json, and record in site/baked/manifest.json
the sha256 of every source file that made each baked file.

    python site/bake.py            # train and export everything (a few minutes on one core)
    python site/bake.py --only fm  # re-bake the files whose name starts with "fm"
    python site/bake.py --check    # exit 1 and list the baked files whose sources changed

target-samples.json (lesson 03's loss-weights widget) holds samples, not weights: three DDPM MLPs
at the lab's size (exp04: width 128, depth 3), trained on the eps, v and x0 targets, 100-step
ancestral chains from the same noise, with each one's W2 beside a perfect sampler's.

MLP size: width 32, depth 2 (about 7.5k parameters). The browser runs 2000 points through up to
32 network evaluations on every redraw; width 32 keeps that redraw near the 50 ms budget on one
laptop core, while still fitting moons nearly as well as width 64 x 3 (W2 ratio about 1.5x vs 1.4x
at RK4 x 8 in our check), and each file stays near 40 KB.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the package importable
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "site" / "baked"
MANIFEST = OUT / "manifest.json"
WIDTH, DEPTH = 32, 2  # the browser MLP (see the module docstring)
FREQ_DIM = 64  # TimestepEmbedder's default sinusoid size
MOONS_NOISE = 0.03  # the package's default moons noise

# the modules whose code decides what a baked file holds
CORE = [
    "site/bake.py",
    "generative/continuous/train_denoiser.py",
    "generative/loop.py",
    "generative/ema.py",
    "generative/continuous/data.py",
    "generative/layers/embeddings.py",
]
MLP_SOURCES = CORE + ["generative/continuous/mlp.py"]
FM_SOURCES = MLP_SOURCES + ["generative/continuous/flow_matching.py"]
DDPM_SOURCES = MLP_SOURCES + ["generative/continuous/diffusion.py"]
DIT_SOURCES = CORE + [
    "generative/continuous/diffusion_transformer.py",
    "generative/continuous/diffusion.py",
    "generative/continuous/sampling.py",
    "generative/continuous/metrics.py",
]
TARGET_SOURCES = ["generative/continuous/sampling.py", "generative/continuous/metrics.py"]
EXP12 = "benchmarks/results/exp12_adaln_zero.json"  # adaLN-Zero curves, when that lab run exists

# the knob-board grid: every (schedule, target, t_scale) gets its own DDPM MLP
SCHEDULES, TARGETS, T_SCALES = ("linear", "cosine"), ("eps", "x0", "v"), (1000.0, 1.0)

# target-samples: exp04's arms on linear betas (its network: the package's default MLP), sampled as
# its "ancestral x100"; 1000 points each keeps the file near 45 KB
TARGET_SAMPLES = {"schedule": "linear", "targets": ["eps", "v", "x0"], "width": 128, "depth": 3}
TARGET_SAMPLING = {"sampler": "ancestral", "steps": 100, "n": 1000, "seed": 0}

# dit-samples: a DDPM + DiT-T run, sampled at these EMA snapshots, samplers and step counts
DIT_STEPS, DIT_SNAPSHOT_EVERY = 2500, 500
DIT_SAMPLERS, DIT_SAMPLE_STEPS, DIT_POINTS = ("ancestral", "ddim"), (10, 50, 100), 400


def ddpm_name(schedule: str, target: str, t_scale: float) -> str:
    return f"ddpm-{schedule}-{target}-t{int(t_scale)}"


def jobs() -> dict:
    """name -> (kind, settings, sources): everything bake.py can make."""
    out = {
        "moons": ("moons", {"n": 1000, "noise": MOONS_NOISE, "seed": 0}, CORE),
        "fm": ("mlp", {"method": "fm"}, FM_SOURCES),
        "fm-cond": ("mlp", {"method": "fm", "cond": True}, FM_SOURCES),
    }
    for s in SCHEDULES:
        for tg in TARGETS:
            for ts in T_SCALES:
                settings = {"method": "ddpm", "schedule": s, "target": tg, "t_scale": ts}
                out[ddpm_name(s, tg, ts)] = ("mlp", settings, DDPM_SOURCES)
    dit = {"method": "ddpm", "model": "dit", "dit_size": "DiT-T", "steps": DIT_STEPS}
    out["dit-samples"] = ("dit", dit, DIT_SOURCES + [EXP12])
    targets = {"method": "ddpm", **TARGET_SAMPLES, **TARGET_SAMPLING}
    out["target-samples"] = ("targets", targets, DDPM_SOURCES + TARGET_SOURCES)
    return out


# region: export
def tensor_b64(t) -> dict:
    """A tensor as little-endian float32 bytes in base64, with its shape (row-major)."""
    arr = t.detach().cpu().float().contiguous().numpy().astype("<f4")
    return {"shape": list(arr.shape), "b64": base64.b64encode(arr.tobytes()).decode("ascii")}


def export_mlp(run) -> dict:
    """Everything site/widgets/lib/mlp.js needs to rebuild the network's forward pass."""
    import torch

    cfg = run.cfg
    half = FREQ_DIM // 2  # the same float32 expression as embeddings.sinusoidal
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    method = (
        {"kind": "ddpm", "schedule": cfg.schedule, "T": cfg.T, "target": cfg.target}
        if cfg.method == "ddpm"
        else {"kind": "fm", "path": cfg.path}
    )
    return {
        "kind": "mlp",
        "method": method,
        "width": cfg.width,
        "depth": cfg.depth,
        "dim": 2,
        "t_scale": cfg.t_scale,
        "freq_dim": FREQ_DIM,
        "num_classes": run.num_classes,
        "freqs": tensor_b64(freqs),
        "standardizer": run.standardizer.to_json(),
        "losses": [[s, round(v, 5)] for s, v in run.state["losses"][9::10]],
        "tensors": {k: tensor_b64(v) for k, v in run.net.state_dict().items()},
    }


# endregion


def train_run(settings: dict, folder: Path):
    """The package's training loop; the browser MLP's size unless settings name another."""
    from generative.continuous.train_denoiser import TrainConfig, train

    base = {"width": WIDTH, "depth": DEPTH, "threads": 1, "noise": MOONS_NOISE}
    return train(TrainConfig(**{**base, **settings}), folder, progress=False)


def bake_mlp(settings: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        return export_mlp(train_run(settings, Path(tmp) / "run"))


def bake_moons(settings: dict) -> dict:
    """Reference moons in the training split's standardized coordinates (what every model saw)."""
    from generative.continuous.data import load_dataset, make_toy

    split = load_dataset("moons", 8000, 0, settings["noise"])
    d = make_toy("moons", settings["n"], seed=settings["seed"] + 1, noise=settings["noise"])
    x = split.standardizer.encode(d.x)
    return {
        "kind": "points",
        "standardizer": split.standardizer.to_json(),
        "points": [[round(float(a), 4), round(float(b), 4)] for a, b in x],
        "labels": d.labels.tolist(),
    }


def bake_dit(settings: dict) -> dict:
    """Train DDPM + DiT-T with EMA snapshots, then sample every (snapshot, sampler, steps)."""
    import numpy as np
    import ot
    import torch

    from generative.continuous.metrics import OFF_DATA, Reference
    from generative.continuous.sampling import sample
    from generative.continuous.train_denoiser import load_run

    grid = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "run"
        run = train_run({**settings, "snapshot_every": DIT_SNAPSHOT_EVERY}, folder)
        ref_x, _ = Reference.for_run(run.cfg, n=DIT_POINTS).reference(0)
        for snap in range(DIT_SNAPSHOT_EVERY, DIT_STEPS + 1, DIT_SNAPSHOT_EVERY):
            snapshot = load_run(folder, snapshot=snap)
            for sampler in DIT_SAMPLERS:
                for steps in DIT_SAMPLE_STEPS:
                    x = sample(snapshot.method, snapshot.net, (2,), DIT_POINTS, sampler, steps)
                    x = x.x.double().numpy()
                    finite = np.isfinite(x).all(axis=1)
                    near = ot.dist(x[finite], ref_x.astype(np.float64)).min(axis=1)
                    grid.append(
                        {
                            "snapshot": snap,
                            "sampler": sampler,
                            "steps": steps,
                            "off_data": float(1 - (near <= OFF_DATA**2).sum() / len(x)),
                            "max_norm": float(np.linalg.norm(x[finite], axis=1).max()),
                            "points": [[round(float(a), 3), round(float(b), 3)] for a, b in x],
                        }
                    )
    exp12 = ROOT / EXP12
    return {
        "kind": "samples",
        "model": "DiT-T (DDPM, linear betas, eps target)",
        "snapshots": list(range(DIT_SNAPSHOT_EVERY, DIT_STEPS + 1, DIT_SNAPSHOT_EVERY)),
        "samplers": list(DIT_SAMPLERS),
        "steps": list(DIT_SAMPLE_STEPS),
        "off_data_radius": OFF_DATA,
        "losses": [[s, round(v, 5)] for s, v in run.state["losses"]],
        "adaln_zero": json.loads(exp12.read_text()) if exp12.is_file() else None,
        "grid": grid,
        "torch": torch.__version__,
    }


def bake_targets(settings: dict) -> dict:
    """One DDPM MLP per target, each sampled from the same noise, scored by W2 against fresh
    reference moons beside the W2 of true points (the floor), as the lab scores exp04."""
    import numpy as np
    import ot

    from generative.continuous.metrics import OFF_DATA, Reference, w2
    from generative.continuous.sampling import sample

    keys = ("sampler", "steps", "n", "seed")
    sampler, steps, n, seed = (settings[k] for k in keys)
    train = {k: v for k, v in settings.items() if k not in keys and k != "targets"}
    arms = []
    with tempfile.TemporaryDirectory() as tmp:
        for target in settings["targets"]:
            run = train_run({**train, "target": target}, Path(tmp) / target)
            ref = Reference.for_run(run.cfg, n=n)
            ref_x = ref.reference(0)[0].astype(np.float64)
            x = sample(run.method, run.net, (2,), n, sampler, steps, seed=seed).x.double().numpy()
            near = ot.dist(x, ref_x).min(axis=1)
            dist, floor = w2(x, ref_x), w2(ref.floor_points(0), ref_x)
            arms.append(
                {
                    "target": target,
                    "w2": dist,
                    "floor": floor,
                    "ratio": dist / floor,
                    "off_data": float((near > OFF_DATA**2).mean()),
                    "points": [[round(float(a), 3), round(float(b), 3)] for a, b in x],
                }
            )
    return {
        "kind": "samples",
        "model": f"DDPM MLP {train['width']} x {train['depth']}",
        **settings,
        "arms": arms,
    }


BAKERS = {"mlp": bake_mlp, "moons": bake_moons, "dit": bake_dit, "targets": bake_targets}


# region: manifest
def sha256(path: Path) -> str:
    """A file's sha256, or "absent" (an optional input, like a lab result not yet run)."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"


def source_hashes(sources) -> dict:
    return {s: sha256(ROOT / s) for s in sorted(set(sources))}


def stale(manifest: dict | None = None) -> list[str]:
    """Names of baked files that are missing, edited by hand, or whose sources or settings
    differ from the ones recorded when they were baked, each with the reason."""
    manifest = manifest if manifest is not None else read_manifest()
    problems = []
    for name, (kind, settings, sources) in jobs().items():
        entry = manifest.get(name)
        path = OUT / f"{name}.json"
        if entry is None or not path.is_file():
            problems.append(f"{name}: not baked")
            continue
        if entry["sha256"] != sha256(path):
            problems.append(f"{name}: {path.name} differs from the file that was baked")
        if entry["settings"] != {"kind": kind, **settings}:
            problems.append(f"{name}: settings changed")
        changed = [s for s, h in source_hashes(sources).items() if entry["sources"].get(s) != h]
        if changed:
            problems.append(f"{name}: sources changed: {', '.join(changed)}")
    return problems


def read_manifest() -> dict:
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}


# endregion


def bake(names) -> None:
    import torch

    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest()
    all_jobs = jobs()
    for name in names:
        kind, settings, sources = all_jobs[name]
        t0, cpu0 = time.perf_counter(), time.process_time()
        data = {"name": name, **BAKERS[kind](settings)}
        cpu = time.process_time() - cpu0  # this process's CPU: what one idle core would take
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(data, separators=(",", ":")) + "\n")
        manifest[name] = {
            "file": path.name,
            "sha256": sha256(path),
            "bytes": path.stat().st_size,
            "settings": {"kind": kind, **settings},
            "sources": source_hashes(sources),
            "bake_wall_s": round(time.perf_counter() - t0, 1),
            "bake_cpu_s": round(cpu, 1),
            "torch": torch.__version__,
        }
        kb = path.stat().st_size / 1024
        print(f"{name:24s} {kb:6.1f} KB  {time.perf_counter() - t0:6.1f} s wall  {cpu:6.1f} s CPU")
        MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="list stale baked files; exit 1 if any"
    )
    parser.add_argument(
        "--only", default="", help="bake only the files whose name starts with this"
    )
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for p in problems:
            print(f"stale: {p}")
        if problems:
            print("re-bake with: python site/bake.py (or --only NAME)")
            return 1
        print(f"all {len(jobs())} baked files are up to date")
        return 0
    names = [n for n in jobs() if n.startswith(args.only)]
    if not names:
        print(f"no baked file starts with '{args.only}'; valid: {', '.join(jobs())}")
        return 2
    bake(names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
