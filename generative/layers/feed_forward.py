"""The transformer block's position-wise MLP, shared by the token models: hidden -> 4 hidden ->
hidden with tanh-approximated GELU (as GPT-2 and DiT)."""

from __future__ import annotations

from torch import nn


def feed_forward(hidden: int) -> nn.Sequential:
    """(B, L, hidden) -> (B, L, hidden)."""
    return nn.Sequential(
        nn.Linear(hidden, 4 * hidden),
        nn.GELU(approximate="tanh"),
        nn.Linear(4 * hidden, hidden),
    )
