"""Lesson 09's few-step widget data, cut from the claims lab's output (no training, no new
numbers): benchmarks/results/exp14_few_step.json (W2/floor, D, straightness and training CPU per
arm and NFE, medians over training seeds) and its _examples.json (samples and trajectories of
the first training seed's runs) -> site/baked/few-step.json.

    python site/bake_few_step.py            # write it
    python site/bake_few_step.py --check    # fail if the baked file no longer matches the lab's
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
OUT = ROOT / "site" / "baked" / "few-step.json"
PER_NFE = ("ratio", "w2", "divergence")  # keyed by NFE in exp14's numbers
PER_ARM = ("floor", "straightness", "cpu_vs_base", "train_cpu_s", "divergence_band")


def _read(path: Path) -> dict:
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run python -m benchmarks.exp14_examples (or exp14)")
    return json.loads(path.read_text())


def bake(results: Path = RESULTS) -> dict:
    """The widget's JSON from exp14's two files. A number exp14 did not record (D, before the
    run that added it) is null, and the widget says so instead of showing one."""
    res = _read(results / "exp14_few_step.json")
    shown = _read(results / "exp14_few_step_examples.json")
    nfes = list(next(iter(shown["arms"].values())))
    missing = [a for a in shown["arms"] if a not in res["numbers"]]
    if missing:
        raise SystemExit(f"examples of {missing} lack numbers in exp14_few_step.json: re-run exp14")
    arms = {}
    for name, ex in shown["arms"].items():
        n = res["numbers"][name]
        arms[name] = {
            "sampler": shown["samplers"][name],
            **{k: ({f: n[k][f] for f in nfes} if k in n else None) for k in PER_NFE},
            **{k: n.get(k) for k in PER_ARM},
            "examples": {f: {"samples": ex[f]["samples"], "paths": ex[f]["paths"]} for f in nfes},
        }
    return {
        "source": "benchmarks/results/exp14_few_step.json (+ _examples.json)",
        "training_seeds": res["training_seeds"],
        "eval_seeds": res["eval_seeds"],
        "examples_seed": shown["training_seed"],
        "nfes": nfes,
        "data": shown["data"],
        "arms": arms,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare instead of writing")
    p.add_argument("--results", type=Path, default=RESULTS, help="the lab's results folder")
    a = p.parse_args(argv)
    data = bake(a.results)
    text = json.dumps(data, separators=(",", ":"))
    if a.check:
        if not OUT.is_file() or json.loads(OUT.read_text()) != data:
            print(f"{OUT} is stale: run python site/bake_few_step.py", file=sys.stderr)
            return 1
        print(f"{OUT.name} matches the lab's results")
        return 0
    OUT.write_text(text + "\n")
    print(f"wrote {OUT} ({len(text) // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
