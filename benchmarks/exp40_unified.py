"""One transformer, both directions, on `shapes` (issue 15, lessons 13-14): the unified model
is trained on a mixture of text -> image and image -> text documents and scored by the exact
checker in both directions, in Chameleon mode (causal, raster order) and in Show-o mode (full
attention inside the image span, MaskGIT decoding), one model each, same size.

Budgets (GENERATIVE_UNIFIED_BUDGET): cpu10, the default, keeps the whole experiment (both
models' training) within about 10 CPU-minutes on one thread; quick is for the tests.

    nice -n 10 .venv/bin/python -m benchmarks.exp40_unified
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

NAME = "exp40_unified"
RESULTS = Path(__file__).parent / "results"
CLAIM = (
    "One transformer with one vocabulary writes images from captions and captions from images; "
    "the grammar guarantees every image span has exactly 64 image tokens"
)


@dataclass(frozen=True)
class Budget:
    name: str
    seeds: tuple = (0,)
    chameleon_steps: int = 1400
    showo_steps: int = 1000
    batch: int = 32
    hidden: int = 96
    depth: int = 3
    lr: float = 2e-3
    n_train: int = 4096
    n_eval: int = 200
    showo_rounds: int = 8
    guidance: float = 1.0


BUDGETS = {
    "cpu10": Budget("cpu10"),
    "quick": Budget(
        "quick", chameleon_steps=20, showo_steps=20, hidden=32, depth=1, n_train=64, n_eval=8
    ),
}


def run_arm(mode: str, seed: int, b: Budget) -> dict:
    from generative.discrete.data.shapes import make_shapes
    from generative.unified.evaluate import score_i2t, score_t2i
    from generative.unified.train import UnifiedTrainConfig, train_unified
    from generative.unified.vocab import Vocab

    steps = b.chameleon_steps if mode == "chameleon" else b.showo_steps
    cfg = UnifiedTrainConfig(
        mode=mode,
        n_train=b.n_train,
        steps=steps,
        batch_size=b.batch,
        lr=b.lr,
        hidden=b.hidden,
        depth=b.depth,
        seed=seed,
    )
    c0 = time.process_time()
    model, state, _ = train_unified(cfg)
    train_cpu = time.process_time() - c0
    v, scenes = Vocab(), make_shapes(b.n_eval, seed=10_000 + seed)  # fresh prompts and images
    c0 = time.process_time()
    t2i = score_t2i(
        model, v, scenes, mode=mode, guidance=b.guidance, steps=b.showo_rounds, seed=seed
    )
    i2t = score_i2t(model, v, scenes, mode=mode)
    return {
        "mode": mode,
        "seed": seed,
        "params": model.num_params(),
        "train": asdict(cfg),
        "train_cpu_s": train_cpu,
        "final_loss": state["losses"][-1][1],
        "losses": state["losses"][:: max(1, len(state["losses"]) // 20)],
        "text_to_image": t2i,
        "image_to_text": i2t,
        "eval_cpu_s": time.process_time() - c0,
    }


def main():
    torch.set_num_threads(1)
    b = BUDGETS[os.environ.get("GENERATIVE_UNIFIED_BUDGET", "cpu10")]
    t0, c0 = time.perf_counter(), time.process_time()
    arms = [run_arm(m, s, b) for m in ("chameleon", "showo") for s in b.seeds]
    for a in arms:
        t, i = a["text_to_image"], a["image_to_text"]
        print(
            f"{a['mode']:9s} seed {a['seed']}: t2i valid {t['valid']:.3f} agree "
            f"{t['caption_agreement']:.3f} span_ok {t['span_ok']:.3f} nfe {t['nfe']}; "
            f"i2t exact {i['exact_caption']:.3f}; train {a['train_cpu_s']:.0f} CPU-s"
        )
    out = {
        "name": NAME,
        "claim": CLAIM,
        "budget": asdict(b),
        "arms": arms,
        "span_always_exact": all(a["text_to_image"]["span_ok"] == 1.0 for a in arms),
        "note": (
            "Evaluation prompts and images are fresh draws (seed 10000 + seed), but shapes has "
            "only 64 single-object captions and 1024 clean images, so most were seen in training: "
            "this measures fitting both directions in one model, not generalization. One seed "
            "per mode (the issue's targets ask for medians over 3 seeds at 10 CPU-minutes each)."
        ),
        "cpu_s": time.process_time() - c0,
        "wall_s": time.perf_counter() - t0,
        "machine": platform.processor() or platform.machine(),
        "command": "nice -n 10 .venv/bin/python -m benchmarks.exp40_unified",
    }
    path = RESULTS / f"{NAME}.json" if b.name == "cpu10" else RESULTS / f"{NAME}_{b.name}.json"
    if b.name != "cpu10":
        path = Path(os.environ.get("GENERATIVE_UNIFIED_OUT", "/tmp")) / path.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
