"""MLP against DiT on 2D points: parameters, training time, quality, for both methods."""

from __future__ import annotations

import json
import time

from benchmarks.lab import Result, compare_arms, median, run_path, scatter_figure, versus

NAME = "exp07_mlp_vs_dit"
CLAIM = (
    "On 2D points an MLP wins: a DiT's attention over two one-number tokens costs "
    "parameters and time without buying quality (lesson 08)"
)
ARMS = {
    f"{m.upper()} + {net.upper()}": {"cfg": {"method": m, "model": net}, "sampler": smp, "steps": k}
    for m, smp, k in (("fm", "rk4", 4), ("ddpm", "ddim", 50))
    for net in ("mlp", "dit")
}
# A DiT eps-net's output is bounded by its final LayerNorm, so at high
# noise, where eps-hat should equal x, deterministic samplers can run away; ancestral contracts.
ARMS["DDPM + DIT, ancestral x250"] = {
    "cfg": {"method": "ddpm", "model": "dit"},
    "sampler": "ancestral",
    "steps": 250,
}


def run(b):
    from generative.continuous.train_denoiser import TrainConfig, build_model

    t0 = time.perf_counter()
    numbers, first = compare_arms(b, ARMS)
    for label, spec in ARMS.items():
        net = build_model(TrainConfig(**spec["cfg"]), (2,), 0)
        numbers[label]["params"] = sum(p.numel() for p in net.parameters())
        # training CPU seconds (one thread): wall time on a shared machine measures its load too
        states = [
            json.loads((run_path(b.cfg(seed=s, **spec["cfg"]), b.quick) / "state.json").read_text())
            for s in b.train_seeds
        ]
        numbers[label]["train_cpu_s_median"] = median([st["cpu_s"] for st in states])
    numbers["mlp_width"], numbers["mlp_depth"] = TrainConfig().width, TrainConfig().depth
    anc = numbers["DDPM + DIT, ancestral x250"]
    parts, dit_better = [], []
    for m in ("FM", "DDPM"):
        a, d = numbers[f"{m} + MLP"], numbers[f"{m} + DIT"]
        c = versus(numbers, f"{m} + DIT", f"{m} + MLP")  # does the DiT buy quality?
        dit_better.append(c["verdict"] == f"{m} + DIT better")
        parts.append(
            f"{m}: MLP {a['params']:,} params, {a['train_cpu_s_median']:.0f} CPU-s, "
            f"{a['ratio_median']:.2f}x floor; DiT {d['params']:,} params, "
            f"{d['train_cpu_s_median']:.0f} CPU-s, {d['ratio_median']:.2f}x; "
            f"D DiT - MLP: {c['line']}"
        )
    parts.append(
        f"DDPM + DiT with 250 ancestral steps instead: {anc['ratio_median']:.2f}x floor "
        f"(DDIM off-data {100 * numbers['DDPM + DIT']['off_data_median']:.1f}%)"
    )
    verdict = (
        "does not hold" if all(dit_better) else "holds with caveat" if any(dit_better) else "holds"
    )
    scatter_figure(b, NAME, first, ncols=2)
    Result(
        NAME,
        CLAIM,
        "; ".join(parts),
        verdict,
        numbers,
        {
            "data": "moons",
            "samplers": {"fm": "rk4 x4", "ddpm": "ddim x50"},
            "note": "default training steps per model (see train_denoiser.DEFAULT_STEPS)",
        },
    ).write(b, t0)
