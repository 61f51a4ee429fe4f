"""MaskGIT quality versus decoding rounds T, against the autoregressive model's N = 64 steps,
with NFE and wall time (AR timed with and without its KV cache); also saves an unmasking trace
for the lesson-12 widget."""

from __future__ import annotations

import json
import time

from benchmarks.lab import figure_path
from benchmarks.lab_discrete import budget, main_runs, score_arms, write

NAME = "exp30_maskgit_steps"
CLAIM = (
    "MaskGIT's parallel decoding matches the autoregressive model's sample quality in far fewer "
    "network calls (T of about 8-16 rounds versus N = 64 steps), and the NFE ratio overstates "
    "the wall-time ratio once AR uses a KV cache (lesson 12)"
)
STEPS = (1, 2, 4, 8, 16, 32)


def run(b):
    t0 = time.perf_counter()
    db = budget(b)
    runs = main_runs(db)
    arms = {f"maskgit T={T}": ("maskgit", {"steps": T}) for T in STEPS}
    arms["AR (KV cache)"] = ("ar", {"kv_cache": True})
    arms["AR (no cache)"] = ("ar", {"kv_cache": False})
    numbers = score_arms(arms, runs, db)
    ar, ar_slow = numbers["AR (KV cache)"], numbers["AR (no cache)"]
    match = next(  # the fewest rounds that reach the AR's validity (a 0% AR matches nothing)
        (
            T
            for T in STEPS
            if ar["validity_median"] > 0
            and numbers[f"maskgit T={T}"]["validity_median"] >= ar["validity_median"]
        ),
        None,
    )
    parts = [
        "validity T=1..32: "
        + ", ".join(f"{100 * numbers[f'maskgit T={T}']['validity_median']:.0f}%" for T in STEPS),
        f"AR (64 NFE) {100 * ar['validity_median']:.0f}%",
    ]
    if match:
        m = numbers[f"maskgit T={match}"]
        parts.append(
            f"MaskGIT first reaches AR at T={match}: NFE ratio {64 / match:.0f}x, wall-time ratio "
            f"{ar['wall_s_median'] / m['wall_s_median']:.1f}x vs cached AR, "
            f"{ar_slow['wall_s_median'] / m['wall_s_median']:.1f}x vs uncached"
        )
    else:
        parts.append("no T up to 32 reaches the AR validity")
    n = db.n_samples
    parts.append(
        f"wall time for {n} samples: MaskGIT T=8 {numbers['maskgit T=8']['wall_s_median']:.1f}s, "
        f"T=16 {numbers['maskgit T=16']['wall_s_median']:.1f}s; AR {ar['wall_s_median']:.1f}s "
        f"with KV cache, {ar_slow['wall_s_median']:.1f}s without"
    )
    close = numbers["maskgit T=16"]["validity_median"] >= ar["validity_median"] - 0.05
    verdict = (
        "holds" if match and match <= 16 else "holds with caveat" if close else "does not hold"
    )
    _figure(b, numbers)
    _trace(b, runs[("maskgit", db.seeds[0])])
    write(b, db, NAME, CLAIM, "; ".join(parts), verdict, numbers, _settings(), t0)


def _settings():
    return {
        "maskgit": "cosine schedule, choice temperature 4.5 annealed, token temperature 1",
        "ar": "ancestral, temperature 1",
        "timing": "one thread per run, two runs at a time on a shared two-core machine: "
        "wall times are pessimistic and noisy; compare ratios",
    }


def _figure(b, numbers):
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    mg = [numbers[f"maskgit T={T}"] for T in STEPS]
    a1.plot(STEPS, [100 * m["validity_median"] for m in mg], "o-", label="MaskGIT validity")
    a1.plot(STEPS, [100 * m["cond_accuracy_median"] for m in mg], "s--", label="MaskGIT cond. acc.")
    ar = numbers["AR (KV cache)"]
    a1.axhline(100 * ar["validity_median"], color="tab:red", label="AR validity (64 NFE)")
    a1.set_xscale("log", base=2)
    a1.set_xlabel("MaskGIT rounds T (= NFE)")
    a1.set_ylabel("% of samples")
    a1.legend(fontsize=7)
    for label, d in numbers.items():
        a2.scatter(d["nfe"], d["wall_s_median"], label=label, s=18)
    a2.set_xscale("log", base=2)
    a2.set_yscale("log")
    a2.set_xlabel("NFE")
    a2.set_ylabel("wall time for the batch, s")
    a2.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(figure_path(b, NAME), dpi=130)
    plt.close(fig)


def _trace(b, run_dir):
    """Unmasking rounds for four class prompts over a grid of knobs (T in 4, 8, 16; choice
    temperature on and off) for the lesson-12 widget, with each token's 2x2 patch colours."""
    import torch

    from generative.discrete.generate import generate
    from generative.discrete.objectives.maskgit import trace_json
    from generative.discrete.train_tokens import load_discrete_run

    run = load_discrete_run(run_dir, data=False)
    cond, _ = run.data.prompts(4)
    ids = torch.arange(run.data.vocab_size)[:, None].expand(-1, run.data.seq_len)
    out = {
        "patches": run.data.decode(ids)[:, :2, :2].tolist(),  # token id -> 2x2x3 pixels
        "classes": cond[:, 0].tolist(),
        "grid": 8,
        "traces": {},
    }
    for T in (4, 8, 16):
        for ct in (4.5, 0.0):
            s = generate(run, 4, T, cond, choice_temperature=ct, seed=0)
            trace = trace_json(s.trace, run.net.cfg.mask_id, rows=4)
            trace["valid"] = run.data.score(s.tokens)["valid"].tolist()
            out["traces"][f"T={T}, choice temperature {ct}"] = trace
    (b.results / f"{NAME}_trace.json").write_text(json.dumps(out))
