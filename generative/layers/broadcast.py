"""The one broadcasting helper: a per-sample coefficient against a batch of any shape."""

from __future__ import annotations

import torch


def per_sample(coef: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) coefficient -> (B, 1, ...) to broadcast against x (B, ...), in x's device and dtype."""
    coef = coef.to(like.device, like.dtype)
    return coef.reshape(coef.shape + (1,) * (like.dim() - coef.dim()))
