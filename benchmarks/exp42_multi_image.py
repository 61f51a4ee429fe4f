"""Reasoning over two input images, with and without a trace (issue 15, item 5).

Two Chameleon-mode models, one per variant (DIRECT, THINK), on the mixture of
generative/unified/multi_image.py: single-image documents plus two-image compositions ("draw the
shape of the first in the colour of the second", or the other way round) whose answer (shape,
colour) is one of 12 trained combinations; 4 are held out (never the answer of a training
composition). Both are scored by the exact `shapes` checker on fresh tasks with trained and with
held-out answers, greedy decoding. Floors: copying the first (or second) image, scored by the
same checker, and chance (a valid scene of a random shape and colour: 1/16); ceiling: the true
answers (1.0, the checker's sanity).

Budgets (GENERATIVE_EXP42_BUDGET): cpu5, the default, trains each model in about 4-5 CPU-minutes
on one thread; quick is for the tests (results go to GENERATIVE_EXP42_OUT, default /tmp).

    nice -n 15 env OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.exp42_multi_image
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

NAME = "exp42_multi_image"
RESULTS = Path(__file__).parent / "results"
CLAIM = (
    "One unified model answers an instruction about two input images by drawing; naming the "
    "attributes in a THINK trace first is compared with drawing directly, on trained and on "
    "held-out (shape, colour) answers"
)
COMMAND = "nice -n 15 env OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.exp42_multi_image"


@dataclass(frozen=True)
class Budget:
    name: str
    seed: int = 0
    steps: int = 600  # each variant
    batch: int = 32
    hidden: int = 96
    depth: int = 3
    lr: float = 2e-3
    warmup: int = 100
    p_single: float = 0.3  # share of single-image documents in the mixture
    n_eval: int = 80  # tasks per set (trained answers, held-out answers)


BUDGETS = {
    "cpu5": Budget("cpu5"),
    "quick": Budget("quick", steps=6, batch=8, hidden=32, depth=1, warmup=0, n_eval=6),
}


def out_dir(b: Budget) -> Path:
    return RESULTS if b.name == "cpu5" else Path(os.environ.get("GENERATIVE_EXP42_OUT", "/tmp"))


def train(b: Budget, split, variant: str) -> tuple:
    """(model, training record) of one variant."""
    from generative.unified.multi_image import train_multi
    from generative.unified.train import UnifiedTrainConfig

    cfg = UnifiedTrainConfig(
        steps=b.steps, batch_size=b.batch, lr=b.lr, warmup=b.warmup, hidden=b.hidden,
        depth=b.depth, seed=b.seed,
    )  # fmt: skip
    c0 = time.process_time()
    model, state = train_multi(cfg, split, variant, b.p_single)
    return model, {
        "params": model.num_params(),
        "steps": state["step"],
        "train_cpu_s": time.process_time() - c0,
        "final_loss": state["losses"][-1][1],
        "losses": state["losses"][:: max(1, len(state["losses"]) // 20)],
    }


def floors(sets: dict) -> dict:
    """What answers that ignore the instruction score, and the true answers (the ceiling)."""
    from generative.unified.multi_image import score_drawings

    out = {k: {} for k in sets}
    for k, tasks in sets.items():
        for name, which in (
            ("copy_first", "first"),
            ("copy_second", "second"),
            ("truth", "answer"),
        ):
            out[k][name] = score_drawings(tasks.images(which), tasks)
    out["chance_given_valid"] = 1 / 16  # a valid scene of a uniformly random shape and colour
    return out


def main():
    from generative.unified.multi_image import make_tasks, score_model, split_combos
    from generative.unified.vocab import Vocab

    torch.set_num_threads(1)
    b = BUDGETS[os.environ.get("GENERATIVE_EXP42_BUDGET", "cpu5")]
    t0, c0 = time.perf_counter(), time.process_time()
    v, split = Vocab(), split_combos(b.seed)
    sets = {  # fresh tasks (scenes may recur from training; held-out answers never do)
        "trained": make_tasks(b.n_eval, split.trained, seed=10_000 + b.seed),
        "held_out": make_tasks(b.n_eval, split.held_out, seed=20_000 + b.seed),
    }
    record, results, drawn = {}, {}, {}
    for variant in ("direct", "think"):
        model, record[variant] = train(b, split, variant)
        c1 = time.process_time()
        results[variant] = {}
        for k, tasks in sets.items():
            results[variant][k], drawn[(variant, k)] = score_model(model, v, tasks, variant)
        record[variant]["eval_cpu_s"] = time.process_time() - c1
        print(variant, {k: results[variant][k]["correct"] for k in sets})
    out = {
        "name": NAME,
        "claim": CLAIM,
        "budget": asdict(b),
        "combos": {"trained": split.trained.tolist(), "held_out": split.held_out.tolist()},
        "training": record,
        "results": results,
        "floors": floors(sets),
        "max_train_cpu_s": max(r["train_cpu_s"] for r in record.values()),
        "note": (
            "One seed, one budget: differences of a few points are within sampling noise "
            f"({b.n_eval} tasks per set). Greedy decoding. correct: the drawing is a valid scene "
            "with the asked shape and colour; in_place: also at the source image's position "
            "(what the training answers do). Combinations are (shape, colour) index pairs in "
            "the order of generative/discrete/data/shapes.py."
        ),
        "cpu_s": time.process_time() - c0,
        "wall_s": time.perf_counter() - t0,
        "machine": platform.processor() or platform.machine(),
        "command": COMMAND,
    }
    d = out_dir(b)
    d.mkdir(parents=True, exist_ok=True)
    suffix = "" if b.name == "cpu5" else f"_{b.name}"
    (d / f"{NAME}{suffix}.json").write_text(json.dumps(out, indent=1))
    figure(sets["held_out"], drawn, results, d / f"{NAME}{suffix}.png")
    print(f"wrote {d / (NAME + suffix)}.json/.png")


def figure(tasks, drawn: dict, results: dict, path: Path, k: int = 6):
    """The first k held-out tasks: both inputs, the true answer, DIRECT's and THINK's drawings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from generative.unified.multi_image import INSTRUCTIONS

    k = min(k, len(tasks))
    cols = [
        ("first", tasks.images("first")),
        ("second", tasks.images("second")),
        ("answer", tasks.images("answer")),
        ("DIRECT", drawn[("direct", "held_out")]),
        ("THINK", drawn[("think", "held_out")]),
    ]
    fig, ax = plt.subplots(k, len(cols), figsize=(1.5 * len(cols), 1.6 * k + 0.6), squeeze=False)
    for i in range(k):
        for j, (name, images) in enumerate(cols):
            ax[i, j].imshow(images[i], interpolation="nearest")
            ax[i, j].set_xticks([])
            ax[i, j].set_yticks([])
            if i == 0:
                ax[i, j].set_title(name, fontsize=9)
        source = INSTRUCTIONS[tasks.instruction[i]].split()[5]  # draw the shape of the <first>
        ax[i, 0].set_ylabel(f"shape of the {source}", fontsize=7)
    r = {v: results[v]["held_out"]["correct"] for v in ("direct", "think")}
    fig.suptitle(
        f"held-out answers: DIRECT {r['direct']:.0%} correct, THINK {r['think']:.0%}", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
