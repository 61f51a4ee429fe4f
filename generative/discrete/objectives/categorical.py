"""Drawing tokens from logits with an explicit generator, so that a seed fixes every draw."""

from __future__ import annotations

import torch


def gumbel(shape, generator=None) -> torch.Tensor:
    """Standard Gumbel noise, -log(-log u)."""
    u = torch.rand(shape, generator=generator).clamp(1e-20, 1 - 1e-7)
    return -torch.log(-torch.log(u))


def sample_logits(logits: torch.Tensor, temperature: float = 1.0, generator=None):
    """One draw per row of softmax(logits / temperature) (Gumbel-max); temperature 0: argmax."""
    if temperature == 0:
        return logits.argmax(-1)
    return (logits / temperature + gumbel(logits.shape, generator)).argmax(-1)
