"""MaskGIT (Chang et al. 2022): a bidirectional transformer learns to fill in masked tokens;
sampling starts fully masked and, over T rounds, keeps the most confident predictions.

Training: draw r ~ U(0, 1), mask ceil(gamma(r) * N) random positions, cross-entropy on those.
Decoding, round s = 1..T: predict every masked position, sample a token for each, then re-mask
the n_s = floor(gamma(s / T) * N_0) least confident of the new ones (N_0: the positions masked at
the start). Confidence is the sampled token's log-probability plus annealed Gumbel noise, the
"choice temperature": without it the ordering is greedy and the rounds pile up the same safe
tokens. Tokens given at the start stay fixed, which is all inpainting and editing need.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from generative.discrete.objectives.categorical import gumbel, sample_logits
from generative.discrete.objectives.schedules import gamma


# region: maskgit-loss
def mask_tokens(x, ratio, mask_id: int, generator=None):
    """Mask ceil(ratio * N) random positions per row (at least one): (x_masked, mask)."""
    B, N = x.shape
    n_mask = (ratio * N).ceil().long().clamp(1, N)  # (B,)
    rank = torch.rand(B, N, generator=generator).argsort(1).argsort(1)  # random order per row
    mask = rank < n_mask[:, None]  # (B, N)
    return x.masked_fill(mask, mask_id), mask


def maskgit_loss(net, x, mask_id: int, cond=None, schedule: str = "cosine", generator=None):
    """Cross-entropy on the masked positions, mask ratio gamma(r) with r ~ U(0, 1). The mask id
    comes as an argument: under torchrun `net` is a DDP wrapper, which has no config."""
    r = torch.rand(x.shape[0], generator=generator)
    ratio = gamma(schedule, r, x.shape[1]).float()
    xm, mask = mask_tokens(x, ratio, mask_id, generator)
    logits = net(xm, cond)  # (B, N, V)
    return F.cross_entropy(logits[mask], x[mask])


# endregion


@dataclass
class DecodeResult:
    """Decoded tokens, network calls, and the trace: the round at which each position was fixed
    (0 for tokens given at the start), the partial sequence after every round, each token's
    log-probability at the last call (what a corrector re-masks by) and per-row calls (rows of a
    batch may finish at different rounds under adaptive decoding)."""

    tokens: torch.Tensor  # (B, N)
    nfe: int
    fixed_round: torch.Tensor  # (B, N), 1..T; 0: given
    rounds: list = field(default_factory=list)  # (B, N) after each round, mask_id where masked
    scores: torch.Tensor | None = None  # (B, N) log p of each token when it was drawn
    row_nfe: torch.Tensor | None = None  # (B,) calls made while the row was unfinished


def token_logp(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x_i) under logits (B, N, V) at every position: (B, N)."""
    return logits.float().log_softmax(-1).gather(-1, x[..., None])[..., 0]


# region: maskgit-decode
@torch.no_grad()
def decode(
    inputs: torch.Tensor,
    tokens_to_logits,
    mask_id: int,
    steps: int = 8,
    schedule: str = "cosine",
    temperature: float = 1.0,
    choice_temperature: float = 4.5,
    generator=None,
) -> DecodeResult:
    """MaskGIT's parallel decoding, as google-research/maskgit's decode(): inputs (B, N) hold
    mask_id where tokens are to be generated (all of them for plain sampling; a hole for
    inpainting or editing); tokens_to_logits(x) -> (B, N, V) is the network with its condition
    bound (or the exact oracle)."""
    x = inputs.clone()
    n0 = (x == mask_id).sum(1)  # (B,) positions to generate
    fixed_round = torch.zeros_like(x)
    drawn = torch.zeros(x.shape, device=x.device)  # log p of each token when fixed (why: below)
    rounds, nfe = [], 0
    for s in range(1, steps + 1):
        masked = x == mask_id  # (B, N)
        if not masked.any():
            break
        logits = tokens_to_logits(x)  # (B, N, V)
        nfe += 1
        sampled = torch.where(masked, sample_logits(logits, temperature, generator), x)
        logp = token_logp(logits, sampled)  # (B, N)
        r = s / steps
        # keep n_mask positions masked; at least one fewer than now, so every round fixes one
        n_mask = (gamma(schedule, torch.tensor(r), x.shape[1]) * n0).floor().long()  # (B,)
        n_mask = torch.minimum(n_mask, masked.sum(1) - 1).clamp_min(0)
        if s == steps:
            n_mask.zero_()
        conf = logp + choice_temperature * (1 - r) * gumbel(logp.shape, generator)
        conf = conf.masked_fill(~masked, float("inf"))  # fixed tokens are never re-masked
        remask = conf.argsort(1).argsort(1) < n_mask[:, None]  # the n_mask least confident
        x = sampled.masked_fill(remask, mask_id)
        fixed_round[masked & ~remask] = s
        # a token is scored by the call that drew it: the network is trained only at masked
        # positions, so its logits at a visible position are not a probability of anything
        drawn = torch.where(masked & ~remask, logp, drawn)
        rounds.append(x.clone())
    return DecodeResult(x, nfe, fixed_round, rounds, drawn, torch.full((len(x),), nfe))


# endregion


def trace_json(result: DecodeResult, mask_id: int, rows: int = 4) -> dict:
    """The first rows' unmasking rounds for the lesson-12 widget: tokens after each round (-1
    where still masked) and the round at which each position was fixed (0: given)."""
    return {
        "nfe": result.nfe,
        "fixed_round": result.fixed_round[:rows].tolist(),
        "rounds": [torch.where(x[:rows] == mask_id, -1, x[:rows]).tolist() for x in result.rounds],
    }
