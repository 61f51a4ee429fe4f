"""Hybrid pipelines (issue 16, lesson 15): which text encoder and which conditioning interface let a
separate image generator bind attributes to objects, measured against an oracle encoder and the
exact-posterior ceiling of the decoder; then the same swap-pair captions drawn by the unified
model (both modes) for the decision table.

An arm is an encoder, a conditioning interface and a generator: the masked-token generator over
the exact 2x2 patch tokens of two-object `shapes` (Muse) or latent flow matching over a small
autoencoder's latents (SD3). Each is scored on 100 swap pairs (same bag of words, colours
exchanged between the shapes) by the snapping checker (generative/hybrid/score.py).

Budgets (GENERATIVE_HYBRID_BUDGET): `session` (default; a few CPU-minutes a model on a shared
two-core machine; the arms the targets name get three training seeds, the others one) and
`quick` (tests). Each arm's result is cached under benchmarks/.cache/exp50/ by its whole
configuration, so adding an arm or a seed trains only that one.

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

from benchmarks.exp50_report import derive, examples, figure

NAME = "exp50_hybrid"
RESULTS = Path(__file__).parent / "results"
CLAIM = (
    "With a separate text encoder, binding is decided by what the encoder keeps: a per-token "
    "encoder that learned word order from text reaches most of the oracle encoder's binding, "
    "while a bag of words (and a pooled contrastive vector) stays at the 50% swap-pair ceiling"
)
ARMS = (  # (encoder, conditioning, generator)
    ("oracle", "xattn", "masked"), ("oracle", "pooled", "masked"),
    ("pretrained", "xattn", "masked"), ("pretrained", "pooled", "masked"),
    ("bow", "xattn", "masked"), ("random", "xattn", "masked"), ("e2e", "xattn", "masked"),
    ("contrastive", "pooled", "masked"), ("unified", "xattn", "masked"),
    ("oracle", "xattn", "latent-fm"), ("pretrained", "xattn", "latent-fm"),
    ("oracle", "xattn", "half"), ("pretrained", "xattn", "half"), ("bow", "xattn", "half"),
    ("contrastive", "pooled", "half"), ("unified", "xattn", "half"),
)  # fmt: skip
GENERATORS = {  # exp50's generator slot -> HybridConfig fields
    "masked": {"generator": "masked"},  # MaskGIT over the 64 exact patch tokens
    "latent-fm": {"generator": "latent-fm"},  # flow matching over an autoencoder's latents
    "half": {"generator": "masked", "tokens": "half"},  # MaskGIT over 2 tokens, one a half
}
HALF_ROUNDS = 2  # two tokens an image: two rounds decode one at a time
SEEDED = (  # the arms the issue's targets name: every seed of the budget; the rest its first
    ("oracle", "xattn", "masked"), ("pretrained", "xattn", "masked"), ("bow", "xattn", "masked"),
    ("contrastive", "pooled", "masked"), ("oracle", "xattn", "half"),
    ("pretrained", "xattn", "half"), ("bow", "xattn", "half"), ("contrastive", "pooled", "half"),
)  # fmt: skip
CACHE = Path(__file__).parent / ".cache" / "exp50"  # GENERATIVE_HYBRID_CACHE moves it


def arm_name(encoder: str, conditioning: str, generator: str) -> str:
    """The table's key: ENCODER-CONDITIONING, with -latent-fm for the second generator and
    -half for MaskGIT over the half tokens (the reduced representation)."""
    return f"{encoder}-{conditioning}" + ("" if generator == "masked" else f"-{generator}")


@dataclass(frozen=True)
class Budget:
    name: str
    seeds: tuple = (0, 1, 2)
    steps: int = 1500
    pretrain_steps: int = 2000  # caption questions: 100% held-out accuracy at 2000
    batch: int = 64
    hidden: int = 64
    depth: int = 3
    lr: float = 2e-3
    n_train: int = 8192
    n_pairs: int = 100
    rounds: int = 32  # MaskGIT rounds: the exact posterior reaches >= 90% validity at 32
    ode_steps: int = 32  # latent flow: Heun steps (two network calls each)
    guidance: tuple = (1.0, 2.0, 4.0)
    unified_steps: int = 1000
    unified_hidden: int = 96
    workers: int = 2


BUDGETS = {
    "session": Budget("session"),
    "quick": Budget(
        "quick", seeds=(0, 1), steps=10, pretrain_steps=10, batch=8, hidden=16, depth=1,
        n_train=64, n_pairs=4, rounds=4, ode_steps=2, guidance=(1.0, 2.0), unified_steps=10,
        unified_hidden=32, workers=1,
    ),
}  # fmt: skip


def run_arm(job) -> dict:
    """Train one pipeline and score it at each guidance weight."""
    import torch

    from generative.hybrid.evaluate import evaluate
    from generative.hybrid.train import HybridConfig, train_hybrid

    (encoder, conditioning, generator, seed), b = job
    torch.set_num_threads(1)
    cfg = HybridConfig(
        encoder=encoder, conditioning=conditioning, **GENERATORS[generator], steps=b.steps,
        pretrain_steps=b.pretrain_steps, batch_size=b.batch, hidden=b.hidden, depth=b.depth,
        lr=b.lr, n_train=b.n_train, seed=seed,
    )  # fmt: skip
    c0 = time.process_time()
    model, state = train_hybrid(cfg)
    train_cpu = time.process_time() - c0
    how = decoding(b, generator)
    scores = {str(w): evaluate(model, b.n_pairs, seed, guidance=w, **how) for w in b.guidance}
    shown = {str(w): examples(model, w, seed, how) for w in b.guidance}
    return {
        "encoder": encoder, "conditioning": conditioning, "generator": generator, "seed": seed,
        "train": asdict(cfg),
        "params": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "train_cpu_s": train_cpu, "final_loss": state["losses"][-1][1],
        "notes": state["notes"], "scores": scores, "examples": shown,
    }  # fmt: skip


def decoding(b: Budget, generator: str) -> dict:
    """How an arm samples: MaskGIT's fixed rounds, or the latent flow's Heun steps."""
    if generator == "masked":
        return {"decoder": "fixed", "steps": b.rounds}
    if generator == "half":
        return {"decoder": "fixed", "steps": HALF_ROUNDS}
    return {"solver": "heun", "steps": b.ode_steps}


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
    from generative.hybrid.half_tokens import make_tokenizer

    caps = swap_pairs(b.n_pairs, seed=10_000)
    out = {f"fixed T={t}": oracle_bound(caps, steps=t) for t in sorted({8, 16, b.rounds})}
    out["adaptive 0.5 bits"] = oracle_bound(caps, decoder="adaptive", entropy_budget=0.5)
    half = make_tokenizer("half")
    out[f"half tokens, T={HALF_ROUNDS}"] = oracle_bound(caps, steps=HALF_ROUNDS, tok=half)
    return out


def cache_path(fn, job) -> Path:
    """Where one arm's result is kept: named by the arm, keyed by everything that decides it
    (the budget's fields but its name, seed list and worker count)."""
    import hashlib

    arm, b = job
    fields = {k: v for k, v in asdict(b).items() if k not in ("name", "seeds", "workers")}
    blob = json.dumps([fn.__name__, list(arm), fields], sort_keys=True)
    key = hashlib.sha256(blob.encode()).hexdigest()[:12]
    root = Path(os.environ.get("GENERATIVE_HYBRID_CACHE", CACHE))
    return root / b.name / f"{'-'.join(map(str, arm))}-{key}.json"


def _call(fn_job):
    fn, job = fn_job
    path = cache_path(fn, job)
    if path.exists():
        return json.loads(path.read_text())
    out = fn(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    s = out["scores"]["1.0"]
    who = out.get("mode") or f"{out['encoder']}/{out['conditioning']}/{out['generator']}"
    print(f"{who:22s} binding {s['binding']:.2f} swap colour {s['swap_colour']:.2f} "
          f"near-valid {s['near_valid']:.2f} strict {s['strict_valid']:.2f} "
          f"train {out['train_cpu_s']:.0f} CPU-s", flush=True)  # fmt: skip
    return out


def table(arms: list, unified: list) -> dict:
    """name -> the scores the lesson reads: arm_name(...) for the pipelines, 'unified-MODE' for
    the unified model; per guidance weight each score is the median over the arm's training
    seeds (with `by_seed` for binding and near-validity), and the first seed's notes."""
    import numpy as np

    groups: dict = {}
    for a in arms + unified:
        key = f"unified-{a['mode']}" if "mode" in a else arm_name(
            a["encoder"], a["conditioning"], a.get("generator", "masked"))  # fmt: skip
        groups.setdefault(key, []).append(a)
    out = {}
    for key, runs in groups.items():
        runs = sorted(runs, key=lambda a: a["seed"])
        entry = {"seeds": [a["seed"] for a in runs], "notes": runs[0].get("notes", {})}
        for w in runs[0]["scores"]:
            per = [a["scores"][w] for a in runs]
            entry[w] = {k: float(np.median([p[k] for p in per])) for k in per[0]}
            entry[w]["by_seed"] = {k: [p[k] for p in per] for k in ("binding", "near_valid")}
        entry["train_cpu_s"] = float(np.median([a["train_cpu_s"] for a in runs]))
        out[key] = entry
    return out


def main():
    b = BUDGETS[os.environ.get("GENERATIVE_HYBRID_BUDGET", "session")]
    t0, c0 = time.perf_counter(), time.process_time()
    jobs = [(run_unified, ((m, b.seeds[0]), b)) for m in ("chameleon", "showo")]
    jobs += [
        (run_arm, ((*a, s), b)) for a in ARMS for s in (b.seeds if a in SEEDED else b.seeds[:1])
    ]
    with ProcessPoolExecutor(b.workers, mp_context=get_context("spawn")) as pool:
        done = list(pool.map(_call, jobs))
        ceiling = bound(b)
    unified, arms = done[:2], done[2:]
    out = {
        "name": NAME, "claim": CLAIM, "budget": asdict(b), "table": table(arms, unified),
        "arms": arms, "unified": unified,
        "oracle_bound": ceiling, "bow_ceiling": 0.5,  # the proof's bound (lesson 15), not measured
        "note": (
            f"Medians over {len(b.seeds)} training seeds for the arms the targets name "
            f"({', '.join(arm_name(*a) for a in SEEDED)}), one seed for the others and the "
            "unified model, at a reduced budget (the issue allows up to 20 CPU-minutes a "
            "model); the test captions are fresh swap pairs, most of which also occur in "
            "training (the caption grammar has 768 captions)."
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
    shown = {
        arm_name(a["encoder"], a["conditioning"], a["generator"]): a.pop("examples")
        for a in arms
        if a["seed"] == b.seeds[0]
    }
    for a in arms:
        a.pop("examples", None)
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
