"""Conditioning inputs shared by every denoiser: the timestep and the class label."""

from __future__ import annotations

import math

import torch
from torch import nn


# region: sinusoid
def sinusoidal(t: torch.Tensor, dim: int, t_scale: float = 1000.0) -> torch.Tensor:
    """Transformer-style features of the scalar time: cos and sin of t * t_scale at geometric
    frequencies from 1 to 1/10000. t_scale = 1000 spreads t in [0, 1] over the frequencies the
    embedding was designed for (integer DDPM steps); at t_scale = 1 the high-frequency features
    barely change across the whole interval and the network struggles to tell times apart."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = (t.float() * t_scale)[:, None] * freqs[None]  # (B, half)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (B, dim)


# endregion


class TimestepEmbedder(nn.Module):
    """Scalar time -> sinusoid -> two-layer MLP -> a hidden-size vector."""

    def __init__(self, hidden: int, freq_dim: int = 64, t_scale: float = 1000.0):
        super().__init__()
        self.freq_dim, self.t_scale = freq_dim, t_scale
        self.mlp = nn.Sequential(nn.Linear(freq_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, t):
        return self.mlp(sinusoidal(t, self.freq_dim, self.t_scale))  # (B, hidden)


# region: label-embedder
class LabelEmbedder(nn.Module):
    """Class label -> vector. Index num_classes is the null label: the unconditional model that
    classifier-free guidance contrasts against (training drops labels to it at random)."""

    def __init__(self, num_classes: int, hidden: int):
        super().__init__()
        self.num_classes = num_classes
        self.table = nn.Embedding(num_classes + 1, hidden)

    def forward(self, y):
        return self.table(y)  # (B, hidden)


def condition(t_embedder, y_embedder, t, y):
    """c = embed(t) + embed(y); with no label given, a class model gets the null label.
    When every sample shares t and label (as in sampling) c is one row, (1, hidden): the layers
    broadcast it, so the conditioning MLPs run once per step instead of once per sample."""
    if len(t) > 1 and bool((t == t[0]).all()) and (y is None or bool((y == y[0]).all())):
        t, y = t[:1], None if y is None else y[:1]
    c = t_embedder(t)
    if y_embedder is not None:
        if y is None:
            y = torch.full((t.shape[0],), y_embedder.num_classes, dtype=torch.long, device=t.device)
        c = c + y_embedder(y)
    return c


# endregion
