"""MaskGIT's decoders against network calls: the paper's fixed T rounds, the same followed by
corrector calls, and adaptive unmasking by an entropy budget, each run on the trained network
and on the exact oracle (the true posterior of shapes, enumerated), for class prompts and for
caption prompts, with the autoregressive model (64 calls, with and without its KV cache) on the
same axes and wall time beside every NFE. Also saves an unmasking trace for lesson 12's widget.

The oracle bounds what any network reaches with a decoder, so the gap to AR splits in two:
the cost of parallel decoding (AR versus the oracle) and the network's error (the oracle versus
the trained network). Trained networks: MaskGIT trained with the linear mask schedule (exp31),
for class prompts and for caption prompts (the caption also fixes the quadrant).

The corrector re-masks the tokens its critic scores lowest. By default the critic is each
token's draw-time log-probability (a MaskGIT network is trained only at masked positions and
cannot score a visible token); the "perfect critic" arms let the exact posterior choose what to
re-mask while the trained network re-samples: the bound of any critic (Token-Critic, say).
"""

from __future__ import annotations

import dataclasses
import json
import time

from benchmarks.lab import figure_path
from benchmarks.lab_discrete import ORACLE, ar_runs, budget, linear_trained_runs, score_arms, write

NAME = "exp30_maskgit_steps"
CLAIM = (
    "MaskGIT reaches the autoregressive model's sample quality in far fewer network calls: with "
    "a corrector or adaptive unmasking, at least 85% valid samples in at most 16 calls (AR: 64), "
    "and the NFE ratio overstates the wall-time ratio once AR uses a KV cache (lesson 12)"
)
DECODERS = {  # label -> generate() keyword arguments
    "fixed T=4": {"steps": 4},
    "fixed T=8": {"steps": 8},
    "fixed T=16": {"steps": 16},
    "fixed T=32": {"steps": 32},
    "T=4 + corrector 4": {"steps": 4, "corrector": 4},
    "T=4 + corrector 12": {"steps": 4, "corrector": 12},
    "T=8 + corrector 8": {"steps": 8, "corrector": 8},
    "T=4 + corrector 4, k=2": {"steps": 4, "corrector": 4, "corrector_k": 2},
    "T=8 + corrector 8, k=2": {"steps": 8, "corrector": 8, "corrector_k": 2},
    "adaptive 1 bit": {"decoder": "adaptive", "entropy_budget": 1.0},
    "adaptive 2 bits": {"decoder": "adaptive", "entropy_budget": 2.0},
    "adaptive 2 bits + corrector 4": {"decoder": "adaptive", "entropy_budget": 2.0, "corrector": 4},
}
MODELS = {  # label -> the lab's run key (or the oracle) it decodes
    "trained, class": "maskgit-linear",
    "oracle, class": ORACLE + "class",
    "trained, caption": "maskgit-linear-caption",
    "oracle, caption": ORACLE + "caption",
}
CRITIC = {  # the trained class network re-samples, the exact posterior picks what to re-mask
    f"{d}, perfect critic": DECODERS[d] | {"critic": "oracle"}
    for d in ("T=4 + corrector 4", "T=4 + corrector 12", "T=8 + corrector 8")
}
AR = {"AR (KV cache)": {"kv_cache": True}, "AR (no cache)": {"kv_cache": False}}


def run(b):
    t0 = time.perf_counter()
    db = budget(b)
    first = dataclasses.replace(db, seeds=db.seeds[:1])  # caption prompts: one training seed
    runs = linear_trained_runs(db) | linear_trained_runs(first, "caption") | ar_runs(db)
    arms = {f"{m} | {d}": (MODELS[m], kw) for m in MODELS for d, kw in DECODERS.items()}
    arms |= {f"trained, class | {d}": ("maskgit-linear", kw) for d, kw in CRITIC.items()}
    arms |= {label: ("ar", kw) for label, kw in AR.items()}
    numbers = score_arms(arms, runs, db)
    summary = _summary(numbers)
    numbers["summary"] = summary
    ar = numbers["AR (KV cache)"]
    best85 = summary["fewest_calls_trained_85"]
    parts = [
        "validity, trained (oracle) at equal decoder: "
        + ", ".join(
            f"{d} {_pct(summary[d]['trained'])} ({_pct(summary[d]['oracle'])}; NFE "
            f"{summary[d]['nfe']:.1f} ({summary[d]['nfe_oracle']:.1f}))"
            for d in DECODERS
        ),
        f"AR (64 NFE) {_pct(ar['validity_median'])}",
        "caption prompts, trained (oracle): "
        + ", ".join(
            f"{d} {_pct(summary[d]['trained_caption'])} ({_pct(summary[d]['oracle_caption'])})"
            for d in DECODERS
        ),
        "trained network with a perfect critic: "
        + ", ".join(f"{d} {_pct(v)}" for d, v in summary["perfect_critic"].items()),
    ]
    mg_steps = numbers["trained, class | fixed T=8"]["trained_steps_by_seed"]
    ar_steps = ar["trained_steps_by_seed"]
    mg_total, ar_total = db.cfg("maskgit", 0).steps, db.cfg("ar", 0).steps
    if mg_steps != [mg_total] * len(mg_steps) or ar_steps != [ar_total] * len(ar_steps):
        parts.append(
            f"UNFINISHED TRAINING: MaskGIT scored at step(s) {mg_steps} of {mg_total}, AR at "
            f"{ar_steps} of {ar_total} (latest snapshots)"
        )
    if best85:
        m = numbers[f"trained, class | {best85}"]
        parts.append(
            f"fewest calls to 85% (trained): {best85}, {m['nfe_mean_median']:.1f} NFE, "
            f"{m['wall_s_median']:.1f}s for {db.n_samples} samples vs AR "
            f"{ar['wall_s_median']:.1f}s with KV cache, "
            f"{numbers['AR (no cache)']['wall_s_median']:.1f}s without"
        )
    else:
        parts.append("no trained decoder reaches 85%")
    t16 = [d for d in DECODERS if summary[d]["nfe"] <= 16]
    oracle85 = any(summary[d]["oracle"] >= 0.85 for d in t16)
    trained60 = any(summary[d]["trained"] >= 0.6 for d in t16)
    verdict = (
        "holds"
        if best85 and summary[best85]["nfe"] <= 16
        else "holds with caveat"
        if oracle85 and trained60
        else "does not hold"
    )
    _figure(b, numbers, summary)
    _trace(b, runs[("maskgit-linear", db.seeds[0])])
    extra = {
        "decoding": "generate()'s defaults: " + _defaults(),
        "trained": "MaskGIT trained with the linear mask schedule, class-conditional shapes",
        "oracle": "exact posterior over the enumerated clean scenes (no training, one draw set)",
        "seeds_note": f"{len(db.seeds)} training seed(s): {list(db.seeds)}; the caption-"
        f"prompt network: seed {db.seeds[0]} only",
        "timing": "one thread per run, two runs at a time on a shared two-core machine: "
        "wall times are pessimistic and noisy; compare ratios",
    }
    write(b, db, NAME, CLAIM, "; ".join(parts), verdict, numbers, extra, t0)


def _defaults() -> str:
    """generate()'s decoding defaults, read from its signature (so they cannot drift)."""
    import inspect

    from generative.discrete.generate import generate

    keys = ("schedule", "temperature", "choice_temperature", "corrector_k")
    params = inspect.signature(generate).parameters
    return ", ".join(f"{k} {params[k].default}" for k in keys)


def _pct(v: float) -> str:
    return f"{100 * v:.0f}%"


def _summary(numbers: dict) -> dict:
    """Per decoder: trained and oracle validity, mean NFE, and the gap to AR split in two."""
    ar = numbers["AR (KV cache)"]["validity_median"]
    out = {}
    for d in DECODERS:
        tr, orc = numbers[f"trained, class | {d}"], numbers[f"oracle, class | {d}"]
        out[d] = {
            "trained": tr["validity_median"],
            "oracle": orc["validity_median"],
            "trained_caption": numbers[f"trained, caption | {d}"]["validity_median"],
            "oracle_caption": numbers[f"oracle, caption | {d}"]["validity_median"],
            "trained_share_of_oracle": tr["validity_median"] / max(orc["validity_median"], 1e-9),
            "nfe": tr["nfe_mean_median"],
            "nfe_oracle": orc["nfe_mean_median"],
            "cost_of_parallel_decoding": ar - orc["validity_median"],  # AR vs the oracle
            "network_error": orc["validity_median"] - tr["validity_median"],  # oracle vs ours
        }
    ok = [d for d in DECODERS if out[d]["trained"] >= 0.85]
    out["fewest_calls_trained_85"] = min(ok, key=lambda d: out[d]["nfe"]) if ok else None
    out["perfect_critic"] = {d: numbers[f"trained, class | {d}"]["validity_median"] for d in CRITIC}
    return out


def _figure(b, numbers, summary):
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 3.8))
    styles = {"fixed": "o-", "T=4 +": "s", "T=8 +": "s", "adaptive": "^"}
    colours = ("tab:blue", "0.3", "tab:green", "0.6")
    for model, colour in zip(MODELS, colours, strict=True):
        for kind, st in styles.items():
            ds = [d for d in DECODERS if d.startswith(kind)]
            xs = [numbers[f"{model} | {d}"]["nfe_mean_median"] for d in ds]
            ys = [100 * numbers[f"{model} | {d}"]["validity_median"] for d in ds]
            a1.plot(xs, ys, st, color=colour, label=f"{model}, {kind}", ms=4, lw=1)
    for d in CRITIC:
        m = numbers[f"trained, class | {d}"]
        a1.plot(m["nfe_mean_median"], 100 * m["validity_median"], "*", color="tab:purple", ms=7,
                label="trained, perfect critic" if d == next(iter(CRITIC)) else None)  # fmt: skip
    a1.axhline(100 * numbers["AR (KV cache)"]["validity_median"], color="tab:red", label="AR")
    a1.set_xscale("log", base=2)
    a1.set_xlabel("network calls per sample (NFE)")
    a1.set_ylabel("valid samples, %")
    a1.legend(fontsize=5, ncol=2)
    for label, d in numbers.items():  # the class-prompt network beside AR (caption: same cost)
        if label.startswith("trained, class") or label.startswith("AR"):
            big = label.startswith("AR")
            short = label.replace("trained, class | ", "")
            a2.scatter(d["nfe_mean_median"], d["wall_s_median"], s=40 if big else 14,
                       marker="*" if big else "o", label=short)  # fmt: skip
    a2.set_xscale("log", base=2)
    a2.set_yscale("log")
    a2.set_xlabel("NFE")
    a2.set_ylabel("wall time for the batch, s")
    a2.legend(fontsize=5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(figure_path(b, NAME), dpi=130)
    plt.close(fig)


def _trace(b, run_dir):
    """Unmasking rounds for four class prompts over a grid of knobs (T in 4, 8, 16; choice
    temperature on and off) for the lesson-12 widget, with each token's 2x2 patch colours."""
    import torch

    from benchmarks.lab_discrete import load_run
    from generative.discrete.generate import generate
    from generative.discrete.objectives.maskgit import trace_json

    run = load_run(run_dir)
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
            trace = trace_json(s.trace, run.data.vocab_size, rows=4)
            trace["valid"] = run.data.score(s.tokens)["valid"].tolist()
            out["traces"][f"T={T}, choice temperature {ct}"] = trace
    (b.results / f"{NAME}_trace.json").write_text(json.dumps(out))
