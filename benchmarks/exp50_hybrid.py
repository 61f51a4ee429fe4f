"""Hybrid pipelines (issue 16, lesson 15): which text encoder and which conditioning interface let a
separate image generator bind attributes to objects, measured against an oracle encoder and the
exact-posterior ceiling of the decoder; then the same swap-pair captions drawn by the unified
model (both modes) for the decision table.

Every arm is a masked-token generator over the exact 2x2 patch tokens of two-object `shapes`,
scored on 100 swap pairs (same bag of words, colours exchanged between the shapes) by the
snapping checker (generative/hybrid/score.py). Budgets (GENERATIVE_HYBRID_BUDGET): `session`
(default; one seed, a few CPU-minutes a model on a shared two-core machine) and `quick` (tests).

    nice -n 10 .venv/bin/python -m benchmarks.exp50_hybrid
"""

from __future__ import annotations

import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

NAME = "exp50_hybrid"
RESULTS = Path(__file__).parent / "results"
CLAIM = (
    "With a separate text encoder, binding is decided by what the encoder keeps: a per-token "
    "encoder that learned word order from text reaches most of the oracle encoder's binding, "
    "while a bag of words (and a pooled contrastive vector) stays at the 50% swap-pair ceiling"
)
DRAW_BATCH = 100  # generative.unified.evaluate.draw_images' default batch
ARMS = (  # (encoder, conditioning)
    ("oracle", "xattn"), ("oracle", "pooled"), ("pretrained", "xattn"), ("pretrained", "pooled"),
    ("bow", "xattn"), ("random", "xattn"), ("e2e", "xattn"), ("contrastive", "pooled"),
)  # fmt: skip


@dataclass(frozen=True)
class Budget:
    name: str
    seeds: tuple = (0,)
    steps: int = 1500
    pretrain_steps: int = 2000  # caption questions: 100% held-out accuracy at 2000
    batch: int = 64
    hidden: int = 64
    depth: int = 3
    lr: float = 2e-3
    n_train: int = 8192
    n_pairs: int = 100
    rounds: int = 32  # MaskGIT rounds: the exact posterior reaches >= 90% validity at 32
    guidance: tuple = (1.0, 2.0, 4.0)
    unified_steps: int = 1000
    unified_hidden: int = 96
    workers: int = 2


BUDGETS = {
    "session": Budget("session"),
    "quick": Budget(
        "quick", steps=10, pretrain_steps=10, batch=8, hidden=16, depth=1, n_train=64,
        n_pairs=4, rounds=4, guidance=(1.0, 2.0), unified_steps=10, unified_hidden=32, workers=1,
    ),
}  # fmt: skip


def run_arm(job) -> dict:
    """Train one pipeline and score it at each guidance weight."""
    import torch

    from generative.hybrid.evaluate import evaluate
    from generative.hybrid.train import HybridConfig, train_hybrid

    (encoder, conditioning, seed), b = job
    torch.set_num_threads(1)
    cfg = HybridConfig(
        encoder=encoder, conditioning=conditioning, steps=b.steps, pretrain_steps=b.pretrain_steps,
        batch_size=b.batch, hidden=b.hidden, depth=b.depth, lr=b.lr, n_train=b.n_train, seed=seed,
    )  # fmt: skip
    c0 = time.process_time()
    model, state = train_hybrid(cfg)
    train_cpu = time.process_time() - c0
    scores = {
        str(w): evaluate(model, b.n_pairs, seed, guidance=w, decoder="fixed", steps=b.rounds)
        for w in b.guidance
    }
    shown = {str(w): examples(model, b, w, seed) for w in b.guidance}
    return {
        "encoder": encoder, "conditioning": conditioning, "seed": seed, "train": asdict(cfg),
        "params": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "train_cpu_s": train_cpu, "final_loss": state["losses"][-1][1],
        "notes": state["notes"], "scores": scores, "examples": shown,
    }  # fmt: skip


def palette_string(image) -> str:
    import numpy as np

    from generative.discrete.data.shapes import PALETTE

    px = image.reshape(-1, 3)
    idx = np.full(len(px), 9)
    idx[(px == 0).all(1)] = 0
    for k, colour in enumerate(PALETTE):
        idx[(px == colour).all(1)] = k + 1
    return "".join(map(str, idx))


def examples(model, b: Budget, w: float, seed: int, pairs: int = 6) -> dict:
    """The first swap pairs' images for lesson 15's widget: each image as 256 characters, one a
    pixel in raster order (0 black, 1-4 the palette colours, 9 anything else), and whether each
    is near-valid and binds."""
    from generative.hybrid.captions import swap_pairs
    from generative.hybrid.evaluate import sample
    from generative.hybrid.score import NEAR, snap

    caps = swap_pairs(pairs, seed=20_000 + seed)
    images, _ = sample(model, caps, guidance=w, decoder="fixed", steps=b.rounds, seed=seed)
    s, a = snap(images), caps.attrs.numpy()
    bind = ((s.labels[:, :, 0] == a[:, [0, 2]]) & (s.labels[:, :, 1] == a[:, [1, 3]])).all(1)
    return {
        "captions": caps.text,
        "pixels": [palette_string(img) for img in images],
        "near_valid": (s.distance <= NEAR).all(1).tolist(),
        "binding": bind.tolist(),
    }


def run_unified(job) -> dict:
    """The unified model (one transformer, both directions) trained on the same two-object
    scenes, then asked for the swap-pair captions."""
    import torch

    from generative.hybrid.captions import swap_pairs
    from generative.hybrid.score import score
    from generative.unified.evaluate import draw_images
    from generative.unified.train import UnifiedTrainConfig, train_unified
    from generative.unified.vocab import Vocab

    (mode, seed), b = job
    torch.set_num_threads(1)
    cfg = UnifiedTrainConfig(
        mode=mode, data="shapes-two", n_train=b.n_train, steps=b.unified_steps, batch_size=32,
        lr=b.lr, hidden=b.unified_hidden, depth=3, seed=seed,
    )  # fmt: skip
    c0 = time.process_time()
    model, state, _ = train_unified(cfg)
    train_cpu = time.process_time() - c0
    caps = swap_pairs(b.n_pairs, seed=10_000 + seed)
    t0 = time.perf_counter()
    images, spans_ok, nfe = draw_images(model, Vocab(), caps.text, mode=mode, steps=b.rounds)
    wall = time.perf_counter() - t0
    s = score(images, caps.attrs.numpy(), pairs=True)
    s.update(calls=nfe, s_per_1000=1000 * wall / len(caps), span_ok=float(spans_ok.float().mean()))
    return {
        "mode": mode, "seed": seed, "train": asdict(cfg), "params": model.num_params(),
        "train_cpu_s": train_cpu, "final_loss": state["losses"][-1][1], "scores": {"1.0": s},
    }  # fmt: skip


def bound(b: Budget) -> dict:
    """The decoder's ceiling: the exact posterior given the caption, decoded the same way."""
    from generative.hybrid.captions import swap_pairs
    from generative.hybrid.evaluate import oracle_bound

    caps = swap_pairs(b.n_pairs, seed=10_000)
    out = {f"fixed T={t}": oracle_bound(caps, steps=t) for t in sorted({8, 16, b.rounds})}
    out["adaptive 0.5 bits"] = oracle_bound(caps, decoder="adaptive", entropy_budget=0.5)
    return out


def _call(fn_job):
    fn, job = fn_job
    out = fn(job)
    s = out["scores"]["1.0"]
    who = out.get("mode") or f"{out['encoder']}/{out['conditioning']}"
    print(f"{who:22s} binding {s['binding']:.2f} swap colour {s['swap_colour']:.2f} "
          f"near-valid {s['near_valid']:.2f} strict {s['strict_valid']:.2f} "
          f"train {out['train_cpu_s']:.0f} CPU-s", flush=True)  # fmt: skip
    return out


def table(arms: list, unified: list) -> dict:
    """name -> the scores the lesson reads: 'ENCODER-CONDITIONING' for the pipelines (first
    seed; guidance weight -> scores), 'unified-MODE' for the unified model."""
    out = {}
    for a in arms + unified:
        if a["seed"] == 0:
            key = f"unified-{a['mode']}" if "mode" in a else f"{a['encoder']}-{a['conditioning']}"
            out[key] = {**a["scores"], "train_cpu_s": a["train_cpu_s"]}
    return out


def derive(res: dict) -> dict:
    """Fields computed from the recorded ones (idempotent): network calls per image. A pipeline
    decodes all captions in one batch, so its `calls` are per image already; the unified model
    draws in batches of DRAW_BATCH and its `calls` add up over them."""
    import math

    for name, scores in res["table"].items():
        for s in scores.values():
            if not isinstance(s, dict):
                continue
            batches = math.ceil(s["n"] / DRAW_BATCH) if name.startswith("unified") else 1
            s["calls_per_image"] = s["calls"] / batches
    return res


def figure(res: dict, path: Path):
    """Binding and swap-pair colour per arm (w = 1), the oracle encoder's and the exact
    posterior's levels, and the bag-of-words ceiling on swap pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(res["table"])
    bind = [res["table"][n]["1.0"]["binding"] for n in names]
    colour = [res["table"][n]["1.0"]["swap_colour"] for n in names]
    valid = [res["table"][n]["1.0"]["near_valid"] for n in names]
    x = range(len(names))
    fig, ax = plt.subplots(figsize=(13, 4.2))
    ax.bar([i - 0.27 for i in x], bind, 0.27, label="binding (both objects right)")
    ax.bar(x, colour, 0.27, label="colour on swap pairs")
    ax.bar([i + 0.27 for i in x], valid, 0.27, label="near-valid (within 2 pixels)")
    ax.axhline(0.5, color="k", ls="--", lw=1, label="bag-of-words ceiling on swap pairs")
    best = res["oracle_bound"][f"fixed T={res['budget']['rounds']}"]["near_valid"]
    ax.axhline(best, color="tab:green", ls=":", lw=1, label="exact posterior, same decoder")
    ax.set_xticks(list(x), names, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title("Two towers: which encoder lets the generator bind (guidance 1, one seed)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    b = BUDGETS[os.environ.get("GENERATIVE_HYBRID_BUDGET", "session")]
    t0, c0 = time.perf_counter(), time.process_time()
    jobs = [(run_unified, ((m, s), b)) for m in ("chameleon", "showo") for s in b.seeds]
    jobs += [(run_arm, ((e, c, s), b)) for e, c in ARMS for s in b.seeds]
    with ProcessPoolExecutor(b.workers, mp_context=get_context("spawn")) as pool:
        done = list(pool.map(_call, jobs))
        ceiling = bound(b)
    unified, arms = done[: 2 * len(b.seeds)], done[2 * len(b.seeds) :]
    out = {
        "name": NAME, "claim": CLAIM, "budget": asdict(b), "table": table(arms, unified),
        "arms": arms, "unified": unified,
        "oracle_bound": ceiling, "bow_ceiling": 0.5,
        "note": (
            "One training seed per arm at a reduced budget (the issue asks for 3 seeds and up "
            "to 20 CPU-minutes a model); the test captions are fresh swap pairs, most of which "
            "also occur in training (the caption grammar has 768 captions)."
        ),
        "cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - t0,
        "machine": platform.processor() or platform.machine(),
        "command": "nice -n 10 .venv/bin/python -m benchmarks.exp50_hybrid",
    }  # fmt: skip
    path = RESULTS / f"{NAME}.json"
    if b.name != "session":
        path = Path(os.environ.get("GENERATIVE_HYBRID_OUT", "/tmp")) / f"{NAME}_{b.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    derive(out)
    shown = {f"{a['encoder']}-{a['conditioning']}": a.pop("examples") for a in arms}
    path.write_text(json.dumps(out, indent=1))
    path.with_name(path.stem + "_examples.json").write_text(json.dumps(shown))
    figure(out, path.with_suffix(".png"))
    print(f"wrote {path} and its figure")


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--derive"]:  # recompute the derived fields and the figure
        path = Path(sys.argv[2]) if len(sys.argv) > 2 else RESULTS / f"{NAME}.json"
        res = derive(json.loads(path.read_text()))
        path.write_text(json.dumps(res, indent=1))
        figure(res, path.with_suffix(".png"))
    else:
        main()
