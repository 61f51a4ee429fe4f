"""A residual MLP denoiser: model(x, t, y) -> a tensor shaped like x.

Works for any input shape by flattening (points (B, D) or images (B, C, H, W)); for 2D points it
is the strong baseline, for images it shows what a DiT's attention buys.
"""

from __future__ import annotations

import math

from torch import nn

from generative.layers.embeddings import LabelEmbedder, TimestepEmbedder, condition


class ResidualBlock(nn.Module):
    """h + W2 silu(W1 silu(h) + c): the condition enters every block."""

    def __init__(self, width: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(width, width), nn.Linear(width, width)
        self.act = nn.SiLU()

    def forward(self, h, c):
        return h + self.fc2(self.act(self.fc1(self.act(h)) + c))


# region: mlp
class MLP(nn.Module):
    """x -> Linear -> residual blocks (conditioned on time and label) -> Linear -> shape of x."""

    def __init__(self, shape, width=256, depth=3, num_classes=0, t_scale=1000.0):
        super().__init__()
        self.shape = tuple(shape)  # one sample's shape, e.g. (2,) or (1, 8, 8)
        dim = math.prod(self.shape)
        self.t_embedder = TimestepEmbedder(width, t_scale=t_scale)
        self.y_embedder = LabelEmbedder(num_classes, width) if num_classes else None
        self.inp = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(ResidualBlock(width) for _ in range(depth))
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(width, dim))

    def forward(self, x, t, y=None):
        c = condition(self.t_embedder, self.y_embedder, t, y)  # (B or 1, width)
        h = self.inp(x.flatten(1))  # (B, width)
        for block in self.blocks:
            h = block(h, c)
        return self.out(h).view_as(x)  # back to x's shape


# endregion


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
