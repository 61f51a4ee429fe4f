"""What bounds the 2D metric's resolution of a mode split (issue 22's 55/45 target)?

metric_noise.py finds W2/floor and D resolve a 55/45 split of two moons equally (a perfect
sampler's band about 0.29 of the gap, for both): not the one third of W2's the issue asks for.
Here the bound and the way past it:

  - the exact oracle: a statistic that reads the split itself from known labels, |share - 0.5|,
    under the same protocol (n points a seed, median over 5 seeds): a perfect sampler's own split
    is Binomial(n, 1/2) / n, the noise no metric computed from n points escapes;
  - the energy distance (D's coarse half) at 10x the points: its noise shrinks with n, while
    exact OT at 20000 x 20000 points is out of reach.

Band and gap as in metric_noise.py: band = central 95% of a perfect sampler's protocol scores,
gap = the 55/45 sampler's median minus the perfect one's, relative width = band / gap. Caveat
measured here: band / gap is not invariant to a monotone change of the statistic (the energy
distance grows like the square of the split's error, which narrows its band against its gap, so
it scores below the oracle's linear |share - 0.5|). The invariant figure is the power: the share
of the flawed sampler's protocol scores above the perfect band, also reported.

    nice -n 10 python -m benchmarks.split_resolution     # ~3 CPU-minutes, one thread
"""

from __future__ import annotations

import json
import time

import numpy as np

from benchmarks.lab import RESULTS, versions
from benchmarks.metric_noise import POOL_SEED, protocol
from generative.continuous import metrics
from generative.continuous.data import make_toy
from generative.continuous.divergences import energy_distance
from generative.continuous.metrics import Reference
from generative.continuous.uncertainty import LEVEL, quantile_band

SEEDS = metrics.EVAL_SEEDS
SIZES = (2000, 20000)
ORACLE_DRAWS = 4000  # per seed: the oracle is a binomial draw, free
PERFECT_PER_SEED, SPLIT_PER_SEED = 6, 2  # energy distance at 20000 points: ~2 s a draw
SPLIT = 0.55
CMD = "nice -n 10 python -m benchmarks.split_resolution"


def relative_width(perfect: np.ndarray, flawed: np.ndarray) -> dict:
    """(SEEDS, draws) single-seed scores of both samplers -> band, gap, band / gap."""
    p, f = protocol(perfect), protocol(flawed, seed=1)
    lo, hi = quantile_band(p, LEVEL)
    gap = float(np.median(f) - np.median(p))
    power = float(np.mean(f > hi))  # detected: scored above a perfect sampler's band
    return {"band": [lo, hi], "gap": gap, "relative_width": (hi - lo) / gap, "power": power}


def oracle(n: int, rng) -> dict:
    """|share of the upper moon - 1/2| read from the labels: a perfect sampler's share is
    Binomial(n, 1/2) / n, the split sampler's is SPLIT exactly (as metric_noise draws it)."""
    perfect = np.abs(rng.binomial(n, 0.5, size=(SEEDS, ORACLE_DRAWS)) / n - 0.5)
    flawed = np.full((SEEDS, ORACLE_DRAWS), SPLIT - 0.5)
    return relative_width(perfect, flawed)


def draw(pool, ref: Reference, n: int, split: bool, rng) -> np.ndarray:
    """n standardized points: i.i.d. from the pool, or exactly SPLIT on the upper moon."""
    if not split:
        return ref.enc(pool.x[rng.choice(len(pool.x), n)]).astype(np.float64)
    up, low = pool.x[pool.labels == 0], pool.x[pool.labels == 1]
    k = int(SPLIT * n)
    x = np.concatenate([up[rng.choice(len(up), k)], low[rng.choice(len(low), n - k)]])
    return ref.enc(x).astype(np.float64)


def energy(n: int, ref: Reference, pool) -> dict:
    """The energy distance of n points to the protocol's fixed reference, both samplers."""
    y, yy, _ = ref.divergence_reference()
    scores = {}
    for split, per in ((False, PERFECT_PER_SEED), (True, SPLIT_PER_SEED)):
        rng = np.random.default_rng(7 + split)
        scores[split] = np.array(
            [
                [energy_distance(draw(pool, ref, n, split, rng), y, yy) for _ in range(per)]
                for _ in range(SEEDS)
            ]
        )
    return relative_width(scores[False], scores[True])


def main():
    import torch

    torch.set_num_threads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    ref = Reference("moons")
    pool = make_toy("moons", metrics.POOL, seed=POOL_SEED)
    rng = np.random.default_rng(0)
    result = {f"oracle, n = {n}": oracle(n, rng) for n in SIZES}
    result.update({f"energy distance, n = {n}": energy(n, ref, pool) for n in SIZES})
    noise = json.loads((RESULTS / "metric_noise.json").read_text())["result"]
    w2_width = noise["w2_ratio"]["split 55/45"]["relative_width"]  # W2/floor at 2000 points
    result["w2_ratio, n = 2000 (metric_noise)"] = {"relative_width": w2_width}
    best = result[f"energy distance, n = {SIZES[-1]}"]["relative_width"]
    result["target"] = {"D_over_W2": best / w2_width, "met": bool(best / w2_width <= 1 / 3)}
    out = {
        "what": __doc__.split("\n\n")[1].replace("\n", " "),
        "result": result,
        "settings": {"sizes": SIZES, "split": SPLIT, "eval_seeds": SEEDS},
        "command": CMD,
        "versions": versions(),
        "wall_s": round(time.perf_counter() - t0, 1),
        "cpu_s": round(time.process_time() - c0, 1),
    }
    (RESULTS / "split_resolution.json").write_text(json.dumps(out, indent=1))
    for k, v in result.items():
        if k != "target":
            print(f"{k}: band / gap {v['relative_width']:.3f}, power {v.get('power', 'n/a')}")
    print("target (band/gap <= 1/3 of W2's):", json.dumps(result["target"]))
    print(f"{out['wall_s']:.0f}s wall, {out['cpu_s']:.0f}s CPU; reproduce with: {CMD}")


if __name__ == "__main__":
    main()
