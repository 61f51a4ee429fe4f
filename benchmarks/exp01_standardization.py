"""Gotcha #1: train on raw coordinates instead of per-axis standardized ones, same budget."""

from __future__ import annotations

import time

from benchmarks.lab import compare_arms, scatter_figure, write_result

NAME = "exp01_standardization"
CLAIM = (
    "Standardize the data per axis, or prior and data disagree in scale and training "
    "quietly fails (lesson 01)"
)


def run(b):
    t0 = time.perf_counter()
    arms = {
        label: {
            "cfg": {"method": "fm", "model": "mlp", "standardize": flag},
            "sampler": "rk4",
            "steps": 4,
        }
        for label, flag in (("standardized", True), ("raw", False))
    }
    numbers, first = compare_arms(b, arms)
    std, raw = numbers["standardized"]["ratio_median"], numbers["raw"]["ratio_median"]
    worse = raw / std
    verdict = "holds" if worse > 1.5 else "holds with caveat" if worse > 1.1 else "does not hold"
    from generative.continuous.data import load_dataset

    st = load_dataset("moons").standardizer
    numbers["raw_mean"], numbers["raw_std"] = st.mean.tolist(), st.std.tolist()
    measured = (
        f"FM + MLP, rk4 x4 (16 NFE): W2 {std:.2f}x floor standardized vs {raw:.2f}x raw "
        f"({worse:.2f}x worse); raw moons have per-axis mean ({st.mean[0]:.2f}, "
        f"{st.mean[1]:.2f}) and std ({st.std[0]:.2f}, {st.std[1]:.2f})"
    )
    scatter_figure(b, NAME, first, ncols=2)
    write_result(
        b,
        NAME,
        CLAIM,
        measured,
        verdict,
        numbers,
        {"method": "fm", "model": "mlp", "sampler": "rk4", "steps": 4, "data": "moons"},
        t0,
    )
