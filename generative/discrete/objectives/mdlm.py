"""Masked diffusion (MDLM, Sahoo et al. 2024): the absorbing-state D3PM in continuous time.

Each token is masked independently with probability 1 - alpha_t; under the log-linear schedule
alpha_t = 1 - t, so a token is masked with probability t. The network predicts x_0 at masked
positions with two constraints (the SUBS parameterization): it never predicts MASK (our head has
no MASK output), and it copies every unmasked token ("carry-over"), so unmasked positions cost
nothing. The negative ELBO is then a weighted MaskGIT loss,

    NELBO = E_{t ~ U(0, 1)} [ w(t) * sum over masked i of -log p(x_0^i | x_t) ],
    w(t) = -alpha'_t / (1 - alpha_t) = 1 / t  under the log-linear schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from generative.discrete.objectives.categorical import sample_logits


# region: mdlm-schedule
def alpha(t):
    """Log-linear schedule: the chance a token is still unmasked at time t."""
    return 1 - t


def weight(t):
    """w(t) = -alpha'(t) / (1 - alpha(t)): exactly 1 / t for the log-linear schedule."""
    with torch.enable_grad():  # differentiate the schedule itself, whatever it is
        t = torch.as_tensor(t, dtype=torch.float64).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(alpha(t).sum(), t)
    return (-grad / (1 - alpha(t))).detach()


# endregion


# region: mdlm-loss
def token_nll(logits, x0, xt, mask_id: int):
    """-log p(x_0^i | x_t) per position under SUBS: carried-over positions are exactly 0."""
    masked = xt == mask_id
    nll = -logits.log_softmax(-1).gather(-1, x0[..., None])[..., 0]  # (B, N)
    return torch.where(masked, nll, torch.zeros_like(nll))


def mdlm_terms(net, x0, mask_id: int, cond=None, t=None, generator=None):
    """Per-row NELBO terms w(t) * sum_i nll_i, in nats, for given or drawn times t (B,)."""
    xt = x0.masked_fill(torch.rand(x0.shape, generator=generator) < t[:, None], mask_id)
    logits = net(xt, cond)  # (B, N, V); no time input: the mask count reveals t
    return weight(t).float() * token_nll(logits, x0, xt, mask_id).sum(1)


def mdlm_loss(net, x0, mask_id: int, cond=None, generator=None, t_min: float = 1e-3):
    """The NELBO per token, t stratified over the batch (lower variance, same expectation)."""
    B = x0.shape[0]
    u = (torch.rand(1, generator=generator) + torch.arange(B) / B) % 1
    t = t_min + (1 - t_min) * u  # (B,)
    return mdlm_terms(net, x0, mask_id, cond, t, generator).mean() / x0.shape[1]


# endregion


@torch.no_grad()
def bits_per_token(net, x0, cond=None, passes: int = 8, seed: int = 0) -> float:
    """The MDLM bound on held-out data in bits per token (Monte Carlo over t, stratified)."""
    g = torch.Generator().manual_seed(seed)
    B, total = x0.shape[0], 0.0
    for _ in range(passes):
        t = ((torch.rand(1, generator=g) + torch.arange(B) / B) % 1).clamp_min(1e-4)
        total += mdlm_terms(net, x0, net.cfg.mask_id, cond, t, g).sum().item() / passes
    return total / x0.numel() / math.log(2)


@dataclass
class MDLMSample:
    tokens: torch.Tensor
    nfe: int


# region: mdlm-sample
@torch.no_grad()
def mdlm_sample(
    tokens_to_logits,
    n: int,
    seq_len: int,
    mask_id: int,
    steps: int = 64,
    temperature: float = 1.0,
    generator=None,
) -> MDLMSample:
    """Ancestral sampling from t = 1 (all masked) to 0: going from t to s, each masked token is
    revealed with probability (t - s) / t, drawn from p(x_0 | x_t); revealed tokens stay.
    tokens_to_logits(x) -> (B, N, V): the network with its condition bound (or the oracle)."""
    x = torch.full((n, seq_len), mask_id, dtype=torch.long)
    nfe = 0
    for k in range(steps, 0, -1):
        t, s = k / steps, (k - 1) / steps
        masked = x == mask_id
        if not masked.any():
            break
        logits = tokens_to_logits(x)
        nfe += 1
        reveal = masked & (torch.rand(x.shape, generator=generator) < (t - s) / t)
        x = torch.where(reveal, sample_logits(logits, temperature, generator), x)
    return MDLMSample(x, nfe)


# endregion
