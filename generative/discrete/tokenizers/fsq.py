"""Finite scalar quantization (FSQ, Mentzer et al. 2023): round each dimension to a few levels.

Dimension i has L_i levels; the implicit codebook is their product grid, K = prod L_i, with no
learned codes, so there is nothing to collapse and no auxiliary loss. Each coordinate is first
squashed into range by a bounded tanh, then rounded with the straight-through gradient:

    h_i = tanh(z_i + s_i) * a_i - o_i,   a_i = (L_i - 1)(1 + eps) / 2,
    o_i = 1/2 if L_i is even else 0,     s_i = atanh(o_i / a_i)
    q_i = round(h_i) / floor(L_i / 2)                          (codes in [-1, 1])

For odd L the levels are the integers -(L-1)/2 .. (L-1)/2. For even L no symmetric set of
integers has L members, so the range is shifted down by half a step (the offset o), giving
-L/2 .. L/2 - 1; the shift s makes z = 0 land on h = 0 all the same. eps (1e-3) widens the range
by a hair; it is the value vector-quantize-pytorch uses, so exp23 can compare bit for bit.

Index <-> code: the level index d_i = q_i floor(L_i/2) + floor(L_i/2) lies in 0..L_i - 1, and
the index is sum_i d_i b_i with mixed-radix basis b = (1, L_1, L_1 L_2, ...).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from generative.discrete.tokenizers.code_stats import QuantizerOutput
from generative.errors import UserError


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """round(x) forward, identity backward."""
    return x + (x.round() - x).detach()


class FSQ(nn.Module):
    """Finite scalar quantizer over the last dimension (its size is len(levels))."""

    def __init__(self, levels, eps: float = 1e-3, straight_through: bool = True):
        super().__init__()
        levels = [int(v) for v in levels]
        if not levels or min(levels) < 2:
            raise UserError(f"FSQ levels must each be at least 2, got {levels}")
        self.dim, self.num_codes, self.eps = len(levels), math.prod(levels), eps
        self.straight_through = straight_through
        L = torch.tensor(levels, dtype=torch.float32)
        self.register_buffer("levels", L, persistent=False)
        self.register_buffer("half_width", (L // 2), persistent=False)
        basis = torch.cumprod(torch.tensor([1] + levels[:-1], dtype=torch.int64), 0)
        self.register_buffer("basis", basis, persistent=False)

    # region: fsq
    def bound(self, z: torch.Tensor) -> torch.Tensor:
        """The bounded tanh: h in (-L/2, L/2) shaped so rounding gives exactly L values."""
        half_l = (self.levels - 1) * (1 + self.eps) / 2
        offset = torch.where(self.levels % 2 == 0, 0.5, 0.0)
        shift = torch.atanh(offset / half_l)
        return torch.tanh(z + shift) * half_l - offset

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        if z.shape[-1] != self.dim:
            raise UserError(f"FSQ with {self.dim} levels got vectors of size {z.shape[-1]}")
        h = self.bound(z)
        r = round_ste(h) if self.straight_through else h.round()
        codes = r / self.half_width
        error = ((h.detach() - h.detach().round()) / self.half_width).pow(2).sum(-1).mean()
        idx = self.codes_to_indices(codes.detach())
        return QuantizerOutput(codes, idx, torch.zeros((), device=z.device), error)

    # endregion

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """(..., D) codes on the grid -> int64 (...) indices in 0..K-1."""
        digits = (codes * self.half_width + self.half_width).round().long()  # (..., D)
        return (digits * self.basis).sum(-1)

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """int64 (...) -> (..., D) codes in [-1, 1]."""
        digits = (indices[..., None] // self.basis) % self.levels.long()  # (..., D)
        return (digits - self.half_width) / self.half_width

    def codes(self, indices: torch.Tensor) -> torch.Tensor:
        return self.indices_to_codes(indices)

    @property
    def codebook(self) -> torch.Tensor:
        """Every code, (K, D), in index order."""
        return self.indices_to_codes(torch.arange(self.num_codes, device=self.basis.device))
