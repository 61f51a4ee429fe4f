"""What the issue-7 prototype's set-up reaches with this code: MaskGIT on class-conditional
`shapes`, one training seed, scored by the exact checker at T = 4, 8, 16, 32 (1000 samples).

Two runs of the same 0.36M-parameter network (hidden 96, depth 3, batch 128, lr 1e-3):
- `prototype`: the issue's 10k steps (close to an hour of CPU here, one thread);
- `prototype net, 2000 steps`: the same network cut to fit the issue's 15-CPU-minute limit, its
  cosine learning-rate schedule fitted to the shorter run (each run's wall time is in the JSON).
Against the cpu15 budget's smaller network (hidden 64, depth 2, 8000 steps of 64), it says
whether the targets are a matter of compute alone. Runs are cached in benchmarks/.cache/<name>.

    python -m benchmarks.partb_prototype_check     # over an hour of CPU on a fresh machine
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from benchmarks import lab_discrete as ld
from benchmarks.lab import RESULTS, close_pool, pmap, versions

ROUNDS = (4, 8, 16, 32)
BUDGETS = {
    "prototype": dataclasses.replace(ld.PROTOTYPE, seeds=(0,)),
    "prototype net, 2000 steps": dataclasses.replace(
        ld.PROTOTYPE, name="probe", steps=2000, seeds=(0,)
    ),
}


def main():
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    ).parse_args()
    t0 = time.perf_counter()
    runs = {
        name: ld.ensure_runs(db, [db.cfg("maskgit", 0, schedule="cosine")])[0]
        for name, db in BUDGETS.items()
    }
    keys = [(name, T) for name in BUDGETS for T in ROUNDS]
    jobs = [
        {"run": runs[name], "n": BUDGETS[name].n_samples, "seed": 0, "steps": T} for name, T in keys
    ]
    scores = dict(zip(keys, pmap(ld.score, jobs), strict=True))
    out = {}
    for name, db in BUDGETS.items():
        out[name] = {
            "budget": db.describe(),
            "train_wall_s": scores[(name, ROUNDS[0])]["train_s"],
            "validity": {T: scores[(name, T)]["validity"] for T in ROUNDS},
        }
        v = out[name]["validity"]
        print(f"{name:28s} " + ", ".join(f"T={T} {100 * v[T]:.0f}%" for T in ROUNDS))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "partb_prototype_check.json"
    path.write_text(
        json.dumps(
            {
                "runs": out,
                "training_seeds": [0],
                "samples": BUDGETS["prototype"].n_samples,
                "reference": "the issue's prototype: T = 8 about 73%, T = 16 about 83%, AR 82%",
                "versions": versions(),
                "command": "python -m benchmarks.partb_prototype_check",
                "wall_s": round(time.perf_counter() - t0, 1),
            },
            indent=1,
        )
    )
    print(f"-> {path}")


if __name__ == "__main__":
    main()
    close_pool()
