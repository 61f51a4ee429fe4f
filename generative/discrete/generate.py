"""Sampling and scoring a trained token generator: one entry point for every method, with the
NFE and wall time it took, the checker's verdicts, and each model's bits per token."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from generative.discrete.decoders import CHOICE_TEMPERATURE, CORRECTOR_K
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
    nfe: int  # network calls per batch (the most any batch took)
    wall_s: float
    trace: object = None  # maskgit.DecodeResult of the first batch, for the widget
    nfe_mean: float | None = None  # calls per sample, averaged (adaptive rows finish early)


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
    choice_temperature: float = CHOICE_TEMPERATURE,  # measured in exp32
    kv_cache: bool = True,
    seed: int = 0,
    batch: int = 500,
    decoder: str = "fixed",
    corrector: int = 0,
    corrector_k: int = CORRECTOR_K,
    entropy_budget: float = 2.0,
    oracle: bool = False,
    critic: str = "drawn",
) -> Samples:
    """n samples from a discrete run (cond: (n, P) or None). steps: MaskGIT rounds or MDLM
    steps (default 8 and 64); an AR model always takes N steps, a D3PM model its T. MaskGIT
    decoding: decoder fixed (T = steps rounds) or adaptive (entropy_budget bits a round), then
    `corrector` corrector calls re-sampling corrector_k tokens each. oracle: decode the exact
    posterior of the run's data set instead of its network (masked samplers only). critic: what
    the corrector re-masks by, "drawn" (each token's draw-time log-probability) or "oracle" (the
    exact posterior of the finished canvas: a perfect critic, the corrector's bound)."""
    method, net = run.cfg.method, run.net
    sampler = sampler or SAMPLERS[method][0]
    if sampler not in SAMPLERS[method]:
        raise unknown_choice(f"sampler for a {method} run", sampler, SAMPLERS[method])
    if oracle and sampler not in ("maskgit", "mdlm"):
        raise UserError("--oracle decodes masked tokens: use it with the maskgit or mdlm sampler")
    if critic not in CRITICS:
        raise unknown_choice("corrector critic", critic, CRITICS)
    model = net
    if oracle:
        from generative.discrete.oracle import Oracle

        model = Oracle.for_data(run.data)
    knobs = dict(
        decoder=decoder, corrector=corrector, corrector_k=corrector_k,
        entropy_budget=entropy_budget, schedule=schedule, temperature=temperature,
        choice_temperature=choice_temperature,
        critic=_critic(run, critic, model if oracle else None)
        if corrector and sampler == "maskgit"
        else None,
    )  # fmt: skip
    g = torch.Generator().manual_seed(seed)
    out, nfes, calls, trace = [], [], [], None
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        m = min(batch, n - i)
        c = None if cond is None else cond[i : i + m]
        toks, nfe, res = _sample_batch(run, model, sampler, m, c, steps, kv_cache, knobs, g)
        trace = trace or res
        out.append(toks)
        calls.append(nfe)
        nfes.append(res.row_nfe.double() if res is not None and res.row_nfe is not None
                    else torch.full((m,), float(nfe)))  # fmt: skip
    wall = time.perf_counter() - t0
    return Samples(torch.cat(out), max(calls), wall, trace, float(torch.cat(nfes).mean()))


CRITICS = ("drawn", "oracle")


def _critic(run, name: str, oracle=None):
    """None (draw-time scores) or critic(x, cond) -> (B, N) log-probabilities of the canvas
    (oracle: the one the decoder already built, if it decodes the oracle)."""
    if name == "drawn":
        return None
    from generative.discrete.objectives.maskgit import token_logp
    from generative.discrete.oracle import Oracle

    oracle = Oracle.for_data(run.data) if oracle is None else oracle
    return lambda x, c: token_logp(oracle(x, c), x).clamp_min(-1e9)  # -inf: no scene has it


def _sample_batch(run, model, sampler, m, c, steps, kv_cache, knobs, g):
    """One batch: (tokens (m, N), network calls, the DecodeResult for MaskGIT or None)."""
    from generative.discrete.decoders import decode_masked
    from generative.discrete.objectives.autoregressive import ar_sample
    from generative.discrete.objectives.mdlm import mdlm_sample

    N, V = run.data.seq_len, run.data.vocab_size
    mask_id = V  # the token transformer's MASK id; the oracle uses the same
    if sampler == "maskgit":
        start = torch.full((m, N), mask_id, dtype=torch.long)
        critic = knobs["critic"]  # bound to this batch's condition, as the network is
        bound = None if critic is None else (lambda x: critic(x, c))
        res = decode_masked(start, lambda x: model(x, c), mask_id, steps=steps or 8,
                            generator=g, **(knobs | {"critic": bound}))  # fmt: skip
        return res.tokens, res.nfe, res
    if sampler == "mdlm":
        res = mdlm_sample(lambda x: model(x, c), m, N, mask_id, steps or 64, knobs["temperature"],
                          g)  # fmt: skip
        return res.tokens, res.nfe, None
    if sampler == "ar":
        res = ar_sample(model, m, N, V + 1, c, knobs["temperature"], kv_cache, g)  # BOS = V + 1
        return res.tokens, res.nfe, None
    from generative.discrete.objectives.d3pm import d3pm_sample
    from generative.discrete.train_tokens import build_d3pm

    d = build_d3pm(run.cfg, V)
    return d3pm_sample(d, lambda x, t: model(x, c, t=t), m, N, g), d.T, None


# endregion


def score_samples(run, samples: Samples, labels=None) -> dict:
    """Validity and conditional accuracy (shares), NFE and wall time."""
    s = run.data.score(samples.tokens, labels)
    out = {"validity": float(np.mean(s["valid"])), "nfe": samples.nfe, "wall_s": samples.wall_s}
    if samples.nfe_mean is not None:
        out["nfe_mean"] = samples.nfe_mean
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
