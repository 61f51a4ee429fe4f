"""Lesson 15's widget data, cut from the claims lab's output (no training, no new numbers):
benchmarks/results/exp50_hybrid.json (scores per arm and guidance weight) and its
_examples.json (images of the first swap pairs) -> site/baked/hybrid/swap-pairs.json.

    python site/bake_hybrid.py            # write it
    python site/bake_hybrid.py --check    # fail if the baked file no longer matches the lab's
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
OUT = ROOT / "site" / "baked" / "hybrid" / "swap-pairs.json"
KEYS = ("binding", "swap_colour", "near_valid", "strict_valid", "pair_both", "calls")


def bake(results: Path = RESULTS) -> dict:
    """The widget's JSON from the lab's two files."""
    from generative.discrete.data.shapes import PALETTE

    res = json.loads((results / "exp50_hybrid.json").read_text())
    shown = json.loads((results / "exp50_hybrid_examples.json").read_text())
    rounds = res["budget"]["rounds"]
    return {
        "source": "benchmarks/results/exp50_hybrid.json (+ _examples.json)",
        "palette": [[0, 0, 0]] + PALETTE.tolist(),
        "guidance": [str(w) for w in res["budget"]["guidance"]],
        "rounds": rounds,
        "oracle_near_valid": res["oracle_bound"][f"fixed T={rounds}"]["near_valid"],
        "arms": {
            name: {
                "scores": {w: {k: s[w][k] for k in KEYS} for w in s if w in shown[name]},
                "examples": shown[name],
            }
            for name, s in res["table"].items()
            if name in shown
        },
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare instead of writing")
    p.add_argument("--results", type=Path, default=RESULTS, help="the lab's results folder")
    a = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    data = bake(a.results)
    text = json.dumps(data, separators=(",", ":"))
    if a.check:
        if not OUT.is_file() or json.loads(OUT.read_text()) != data:
            print(f"{OUT} is stale: run python site/bake_hybrid.py", file=sys.stderr)
            return 1
        print(f"{OUT.name} matches the lab's results")
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text + "\n")
    print(f"wrote {OUT} ({len(text) // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
