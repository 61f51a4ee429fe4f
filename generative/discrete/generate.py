"""Sampling and scoring a trained token generator: one entry point for every method, with the
NFE and wall time it took, the checker's verdicts, and each model's bits per token."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from generative.errors import UserError, unknown_choice

SAMPLERS = {
    "maskgit": ("maskgit", "mdlm"),
    "mdlm": ("mdlm", "maskgit"),
    "ar": ("ar",),
    "d3pm": ("d3pm",),
}


@dataclass
class Samples:
    tokens: torch.Tensor  # (n, N)
    nfe: int
    wall_s: float
    trace: object = None  # maskgit.DecodeResult of the first batch, for the widget


# region: generate
@torch.no_grad()
def generate(
    run,
    n: int,
    steps: int | None = None,
    cond=None,
    sampler: str | None = None,
    schedule: str = "cosine",
    temperature: float = 1.0,
    choice_temperature: float = 4.5,
    kv_cache: bool = True,
    seed: int = 0,
    batch: int = 500,
) -> Samples:
    """n samples from a discrete run (cond: (n, P) or None). steps: MaskGIT rounds or MDLM
    steps (default 8 and 64); an AR model always takes N steps, a D3PM model its T."""
    from generative.discrete.objectives.autoregressive import ar_sample
    from generative.discrete.objectives.maskgit import decode
    from generative.discrete.objectives.mdlm import mdlm_sample

    method, net = run.cfg.method, run.net
    sampler = sampler or SAMPLERS[method][0]
    if sampler not in SAMPLERS[method]:
        raise unknown_choice(f"sampler for a {method} run", sampler, SAMPLERS[method])
    g = torch.Generator().manual_seed(seed)
    out, nfe, trace = [], 0, None
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        m = min(batch, n - i)
        c = None if cond is None else cond[i : i + m]
        if sampler == "maskgit":
            res = decode(net, m, c, steps or 8, schedule, temperature, choice_temperature, None, g)
            toks, nfe, trace = res.tokens, res.nfe, trace or res
        elif sampler == "mdlm":
            res = mdlm_sample(net, m, c, steps or 64, temperature, g)
            toks, nfe = res.tokens, res.nfe
        elif sampler == "ar":
            res = ar_sample(net, m, c, temperature, kv_cache, g)
            toks, nfe = res.tokens, res.nfe
        else:
            from generative.discrete.objectives.d3pm import d3pm_sample
            from generative.discrete.train_tokens import build_d3pm

            d = build_d3pm(run.cfg, run.data.vocab_size)
            toks, nfe = d3pm_sample(d, net, m, c, g), d.T
        out.append(toks)
    return Samples(torch.cat(out), nfe, time.perf_counter() - t0, trace)


# endregion


def score_samples(run, samples: Samples, labels=None) -> dict:
    """Validity and conditional accuracy (shares), NFE and wall time."""
    s = run.data.score(samples.tokens, labels)
    out = {"validity": float(np.mean(s["valid"])), "nfe": samples.nfe, "wall_s": samples.wall_s}
    if "cond_ok" in s:
        out["cond_accuracy"] = float(np.mean(s["cond_ok"]))
    return out


def bits_per_token(run, n: int = 500, passes: int = 4) -> float:
    """Held-out bits per token: exact for AR, the diffusion bound (NELBO) otherwise; a MaskGIT
    network is scored under the MDLM bound, since it is the same kind of x0-predictor."""
    from generative.discrete.objectives import autoregressive, mdlm
    from generative.discrete.train_tokens import build_d3pm

    x = run.data.test_tokens[:n]
    c = None if run.data.test_cond is None else run.data.test_cond[:n]
    if run.cfg.method == "ar":
        return autoregressive.bits_per_token(run.net, x, c)
    if run.cfg.method == "d3pm":
        return build_d3pm(run.cfg, run.data.vocab_size).bits_per_token(run.net, x, c, passes)
    return mdlm.bits_per_token(run.net, x, c, passes=2 * passes)


def parse_caption(text: str, n: int) -> torch.Tensor:
    """A caption string -> (n, 7) word ids, with a clear error for unknown words."""
    from generative.discrete.data.token_data import caption_words

    words, index = text.split(), {w: i for i, w in enumerate(caption_words())}
    bad = [w for w in words if w not in index]
    if bad or len(words) != 7:
        raise UserError(
            f"caption '{text}': use 7 words like 'a red square in the top left' "
            f"(known words: {', '.join(caption_words())})"
        )
    return torch.tensor([index[w] for w in words]).expand(n, -1)
