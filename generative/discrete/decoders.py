"""Decoders for masked-token models beyond MaskGIT's fixed schedule: adaptive unmasking by an
entropy budget, and a corrector that re-masks and re-samples the least likely tokens. Like
objectives/maskgit.decode they take tokens_to_logits(x) -> (B, N, V) and a mask id, never a
model, so the same code decodes a trained network and the exact oracle; NFE counts every call.

- Adaptive (the EB-sampler, Ben-Hamu et al. 2025): each round, sort the masked positions by
  the entropy of their predicted distribution and fix the longest run, lowest entropy first,
  whose entropies before the last one sum to at most the budget (bits). Fixing tokens in
  parallel samples them independently; the sum of their entropies bounds how much coupling that
  can miss, so uncertain canvases advance a token or two a round and settled ones many.
- Corrector (in the spirit of ReMDM and Token-Critic): re-mask the k least likely tokens and
  re-sample them in the next call. "Least likely" needs a critic. By default each token keeps
  the log-probability it was drawn with (a re-sampled token gets its new one): a MaskGIT network
  is trained only at masked positions, so its logits at a visible position score nothing, and
  reading them (as an earlier version did) re-masked tokens at random. `critic(x) -> (B, N)`
  replaces that with scores of the whole canvas, e.g. a trained Token-Critic or the exact
  oracle's posterior (exp30 measures that perfect critic: the bound of the corrector).
  A token the prompt gave is never re-masked.
"""

from __future__ import annotations

import math

import torch

from generative.discrete.objectives.categorical import gumbel, sample_logits
from generative.discrete.objectives.maskgit import DecodeResult, decode, token_logp
from generative.errors import UserError, unknown_choice

DECODERS = ("fixed", "adaptive")
# exp32 (benchmarks/results/exp32_choice_temperature.json): 9 beat the paper's 4.5 at T = 8 and
# 16, on the trained network and on the exact oracle; 0 (pure confidence) collapses both
CHOICE_TEMPERATURE = 9.0
# tokens a corrector call re-samples: 4 beat 2 at 8 calls (T = 4 + 4) on the trained networks
# and the oracle; at 16 calls (T = 8 + 8) 2 did better on the trained networks (exp30's "k=2")
CORRECTOR_K = 4


# region: adaptive-decode
@torch.no_grad()
def decode_adaptive(
    inputs: torch.Tensor,
    tokens_to_logits,
    mask_id: int,
    entropy_budget: float = 2.0,
    temperature: float = 1.0,
    generator=None,
) -> DecodeResult:
    """Unmask by an entropy budget (bits a round) until nothing is masked; every round fixes at
    least one token of each unfinished row, so a row takes at most as many calls as it has
    masked positions."""
    x = inputs.clone()
    B, N = x.shape
    fixed_round = torch.zeros_like(x)
    row_nfe = torch.zeros(B, dtype=torch.long)
    rounds, nfe, s = [], 0, 0
    drawn = torch.zeros(x.shape, device=x.device)  # log p of each token when it was fixed
    while (masked := x == mask_id).any():
        s += 1
        logits = tokens_to_logits(x).float()  # (B, N, V)
        nfe += 1
        row_nfe += masked.any(1)
        sampled = torch.where(masked, sample_logits(logits, temperature, generator), x)
        logp = token_logp(logits, sampled)  # (B, N)
        probs = (logits / temperature).softmax(-1)
        h = torch.special.entr(probs).sum(-1) / math.log(2)  # (B, N) bits
        h = h.masked_fill(~masked, float("inf"))
        order = h.argsort(dim=1, stable=True)  # lowest entropy first; fixed positions last
        h_sorted = h.gather(1, order)
        before = h_sorted.cumsum(1) - h_sorted  # entropy of the positions ahead in the order
        take_sorted = (before <= entropy_budget) & torch.isfinite(h_sorted)
        take = torch.zeros_like(masked).scatter(1, order, take_sorted)
        x = torch.where(take, sampled, x)
        fixed_round[take] = s
        drawn = torch.where(take, logp, drawn)
        rounds.append(x.clone())
    return DecodeResult(x, nfe, fixed_round, rounds, drawn, row_nfe)


# endregion


# region: corrector
@torch.no_grad()
def correct(
    res: DecodeResult,
    given: torch.Tensor,
    tokens_to_logits,
    mask_id: int,
    steps: int,
    k: int = CORRECTOR_K,
    temperature: float = 1.0,
    generator=None,
    critic=None,
) -> DecodeResult:
    """steps corrector calls after a decode: each re-masks the k least likely tokens that the
    prompt did not give (given: bool (B, N)) and re-samples them. Scores: the log-probability
    each token was drawn with, or critic(x) -> (B, N) of the whole canvas when one is given
    (the critic's own calls are not counted: the oracle's cost nothing, a network's would)."""
    x = res.tokens.clone()
    scores = res.scores if critic is None else critic(x)
    if scores is None:
        raise UserError("the corrector needs the decoder's token scores (DecodeResult.scores)")
    free = (~given).sum(1, keepdim=True)  # (B, 1) tokens the corrector may touch
    nfe = res.nfe
    for _ in range(steps):
        key = scores + 1e-3 * gumbel(scores.shape, generator)  # break ties at random
        key = key.masked_fill(given, float("inf"))
        remask = key.argsort(1).argsort(1) < torch.clamp(free, max=k)  # (B, N)
        logits = tokens_to_logits(x.masked_fill(remask, mask_id))  # (B, N, V)
        nfe += 1
        x = torch.where(remask, sample_logits(logits, temperature, generator), x)
        scores = torch.where(remask, token_logp(logits, x), scores) if critic is None else critic(x)
    row_nfe = None if res.row_nfe is None else res.row_nfe + steps
    return DecodeResult(x, nfe, res.fixed_round, res.rounds, scores, row_nfe)


# endregion


def decode_masked(
    inputs: torch.Tensor,
    tokens_to_logits,
    mask_id: int,
    decoder: str = "fixed",
    steps: int = 8,
    corrector: int = 0,
    corrector_k: int = CORRECTOR_K,
    entropy_budget: float = 2.0,
    schedule: str = "cosine",
    temperature: float = 1.0,
    choice_temperature: float = CHOICE_TEMPERATURE,
    generator=None,
    critic=None,
) -> DecodeResult:
    """A decoder (fixed: MaskGIT's T = steps rounds; adaptive: the entropy budget), then
    `corrector` corrector calls scored by `critic` (None: draw-time scores); NFE counts both."""
    if decoder not in DECODERS:
        raise unknown_choice("decoder", decoder, DECODERS)
    if corrector < 0 or corrector_k < 1 or entropy_budget < 0:
        raise UserError("--corrector must be >= 0, corrector k >= 1, the entropy budget >= 0")
    if decoder == "fixed":
        res = decode(
            inputs, tokens_to_logits, mask_id, steps, schedule, temperature, choice_temperature,
            generator,
        )  # fmt: skip
    else:
        res = decode_adaptive(
            inputs, tokens_to_logits, mask_id, entropy_budget, temperature, generator
        )
    if corrector:
        given = inputs != mask_id
        res = correct(res, given, tokens_to_logits, mask_id, corrector, corrector_k,
                      temperature, generator, critic)  # fmt: skip
    return res
