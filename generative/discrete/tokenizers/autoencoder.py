"""A small convolutional autoencoder with a swappable quantizer: a learned image tokenizer.

16x16 images go down to a grid of latent vectors (4x4 with two stride-2 convolutions, 8x8 with
one), each quantized to one token by VQ, EMA-VQ with dead-code restart, or FSQ; the decoder
mirrors the encoder. An image becomes grid^2 integers in 0..K-1, the tokens of Part B.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from generative.discrete.tokenizers.code_stats import QuantizerOutput
from generative.discrete.tokenizers.fsq import FSQ
from generative.discrete.tokenizers.vq import VectorQuantizer
from generative.errors import UserError, unknown_choice

QUANTIZERS = ("vq", "ema", "fsq")


def make_quantizer(
    name: str,
    K: int = 256,
    levels=(8, 6, 5),
    dim: int = 8,
    beta: float = 0.25,
    decay: float = 0.99,
    dead_threshold: float = 0.0,
    straight_through: bool = True,
) -> nn.Module:
    """vq: codebook + commitment losses; ema: EMA codebook, k-means init, dead-code restart;
    fsq: the levels' product grid (K = prod(levels), dim = len(levels))."""
    if name == "vq":
        return VectorQuantizer(K, dim, beta=beta, straight_through=straight_through)
    if name == "ema":
        return VectorQuantizer(
            K,
            dim,
            beta=beta,
            update="ema",
            decay=decay,
            dead_threshold=dead_threshold,
            init="kmeans",
            straight_through=straight_through,
        )
    if name == "fsq":
        return FSQ(levels, straight_through=straight_through)
    raise unknown_choice("quantizer", name, QUANTIZERS)


def block(c_in: int, c_out: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.SiLU())


class ConvAutoencoder(nn.Module):
    """(B, C, 16, 16) -> tokens (B, grid, grid) -> (B, C, 16, 16)."""

    def __init__(self, quantizer: nn.Module, channels: int = 3, grid: int = 4, width: int = 64):
        super().__init__()
        if grid not in (4, 8):
            raise UserError(f"grid must be 4 or 8 (tokens per side of a 16x16 image), got {grid}")
        n_down = int(math.log2(16 // grid))
        d = quantizer.dim
        w = [width // 2] + [width] * n_down  # channels at 16x16, then after each downsampling
        enc = [block(channels, w[0])]
        for i in range(n_down):
            enc += [nn.Conv2d(w[i], w[i + 1], 4, stride=2, padding=1), nn.SiLU()]
        enc += [block(w[-1], w[-1]), nn.Conv2d(w[-1], d, 1)]
        dec = [nn.Conv2d(d, w[-1], 1), nn.SiLU(), block(w[-1], w[-1])]
        for i in reversed(range(n_down)):
            dec += [nn.ConvTranspose2d(w[i + 1], w[i], 4, stride=2, padding=1), nn.SiLU()]
        dec += [nn.Conv2d(w[0], channels, 3, padding=1)]
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)
        self.quantizer, self.grid, self.channels = quantizer, grid, channels

    def _check(self, x: torch.Tensor):
        if x.ndim != 4 or x.shape[1:] != (self.channels, 16, 16):
            raise UserError(
                f"this tokenizer takes images (N, {self.channels}, 16, 16), got {tuple(x.shape)}"
            )

    def quantize(self, x: torch.Tensor) -> QuantizerOutput:
        self._check(x)
        z = self.encoder(x).permute(0, 2, 3, 1)  # (B, g, g, D): the quantizer works on the last
        return self.quantizer(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, QuantizerOutput]:
        out = self.quantize(x)
        return self.decoder(out.z_q.permute(0, 3, 1, 2)), out  # (B, C, 16, 16)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens, int64 (B, grid, grid)."""
        return self.quantize(x).indices

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Images (B, C, 16, 16), clamped to [0, 1], from tokens (B, grid, grid)."""
        if tokens.min() < 0 or tokens.max() >= self.quantizer.num_codes:
            raise UserError(f"tokens must lie in 0..{self.quantizer.num_codes - 1}")
        z = self.quantizer.codes(tokens).permute(0, 3, 1, 2)  # (B, D, g, g)
        return self.decoder(z).clamp(0, 1)
