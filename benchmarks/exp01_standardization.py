"""Gotcha #1: train on raw coordinates instead of per-axis standardized ones, same budget."""

from __future__ import annotations

import time

from benchmarks.lab import ensure_runs, figure_path, median, pmap, score, write_result

NAME = "exp01_standardization"
CLAIM = ("Standardize the data per axis, or prior and data disagree in scale and training "
         "quietly fails (lesson 01)")


def run(b):
    t0 = time.perf_counter()
    arms = {"standardized": True, "raw": False}
    cfgs = {(arm, s): b.cfg(method=m, model="mlp", seed=s, standardize=flag)
            for arm, flag in arms.items() for s in b.train_seeds for m in ("fm",)}
    paths = dict(zip(cfgs, ensure_runs(list(cfgs.values()), b.quick), strict=True))
    keys = list(paths)
    scores = pmap(score, [{"run": paths[k], "sampler": "rk4", "steps": 4,
                           "eval_seeds": b.eval_seeds, "keep_samples": k[1] == 0} for k in keys])
    by = dict(zip(keys, scores, strict=True))
    numbers = {}
    for arm in arms:
        runs = [by[(arm, s)] for s in b.train_seeds]
        numbers[arm] = {"ratio_median": median([r["ratio"] for r in runs]),
                        "w2_median": median([r["w2"] for r in runs]),
                        "floor_median": median([r["floor"] for r in runs]),
                        "off_data_median": median([r["off_data"] for r in runs]),
                        "ratio_by_seed": [r["ratio"] for r in runs]}
    std, raw = numbers["standardized"]["ratio_median"], numbers["raw"]["ratio_median"]
    worse = raw / std
    verdict = "holds" if worse > 1.5 else "holds with caveat" if worse > 1.1 else "does not hold"
    from generative.continuous.data import load_dataset

    raw_std = load_dataset("moons").standardizer.std
    measured = (f"FM + MLP, rk4 x4 (16 NFE): W2 {std:.2f}x floor standardized vs {raw:.2f}x raw "
                f"({worse:.2f}x worse); moons' raw per-axis std is "
                f"{raw_std[0]:.2f} and {raw_std[1]:.2f}, so the prior's scale is not far off")
    numbers["raw_std"] = raw_std.tolist()
    _figure(b, [by[(a, b.train_seeds[0])] for a in arms], list(arms))
    write_result(b, NAME, CLAIM, measured, verdict, numbers,
                 {"method": "fm", "model": "mlp", "sampler": "rk4", "steps": 4,
                  "data": "moons"}, t0)


def _figure(b, results, titles):
    from generative.plots import grid_figure

    panels = [{"samples": r["samples"],
               "title": f"{t}: W2 {r['ratio']:.2f}x floor (standardized units)"}
              for r, t in zip(results, titles, strict=True)]
    grid_figure(panels, figure_path(b, NAME), ncols=2)
