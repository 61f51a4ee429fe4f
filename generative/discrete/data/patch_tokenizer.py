"""An exact, lossless tokenizer for palette images: each 2x2 patch becomes one token.

It works for any image whose pixels are black or one colour of a fixed palette, with at most one
non-black colour per 2x2 patch (patches start at even coordinates). Such a patch is described
exactly by which of its four pixels are lit (a 4-bit mask, 15 non-empty values) and their colour:

    token = 0                              for an empty patch
    token = 1 + colour * 15 + (mask - 1)   otherwise,  mask = tl + 2 tr + 4 bl + 8 br

so the vocabulary has 1 + 15 P tokens for a palette of P colours (61 for `shapes`, 16 for the
one-colour `glyphs`). Tokens are read in raster order over the patch grid: a 16x16 image gives
64 tokens. Decoding is the inverse map, so encode -> decode is the identity on every valid image
and decode -> encode is the identity on every token sequence: generators can be studied with a
perfect tokenizer, and a token edit is an exact pixel edit.
"""

from __future__ import annotations

import numpy as np
import torch

from generative.discrete.data import shapes
from generative.errors import UserError

BITS = np.array([1, 2, 4, 8])  # pixel order inside a patch: tl, tr, bl, br


class PatchTokenizer:
    """encode: uint8 (N, S, S, C) -> LongTensor (N, (S/2)^2); decode: the inverse."""

    def __init__(self, palette: np.ndarray = shapes.PALETTE, size: int = shapes.SIZE):
        self.palette = np.asarray(palette, dtype=np.uint8)  # (P, C), black excluded
        if size % 2:
            raise UserError(f"PatchTokenizer: image size must be even, got {size}")
        self.size = size
        self.grid = size // 2  # patches per side
        self.vocab_size = 1 + 15 * len(self.palette)
        self.seq_len = self.grid * self.grid

    def _check_shape(self, images: np.ndarray):
        c = self.palette.shape[1]
        if images.ndim != 4 or images.shape[1:] != (self.size, self.size, c):
            raise UserError(
                f"expected uint8 images of shape (N, {self.size}, {self.size}, {c}), "
                f"got {tuple(images.shape)}; convert float images with (x * 255).round()"
            )

    def encode(self, images) -> torch.Tensor:
        """Tokens (N, grid * grid); raises UserError on a pixel off the palette or a patch
        holding two colours (the image is then not one this tokenizer can represent)."""
        images = np.asarray(images)
        self._check_shape(images)
        n, g = len(images), self.grid
        # each pixel -> palette index, -1 for black, -2 for anything else
        match = (images[:, :, :, None, :] == self.palette[None, None, None]).all(-1)
        idx = np.where(match.any(-1), match.argmax(-1), -2)
        idx[(images == 0).all(-1)] = -1
        if (idx == -2).any():
            i = int(np.argwhere(idx == -2)[0, 0])
            raise UserError(f"image {i} has a pixel that is neither black nor a palette colour")
        patches = idx.reshape(n, g, 2, g, 2).transpose(0, 1, 3, 2, 4).reshape(n, g * g, 4)
        colour = patches.max(-1)  # (N, T): the patch's colour, -1 if empty
        lit = patches >= 0
        if (lit & (patches != colour[..., None])).any():
            i = int(np.argwhere((lit & (patches != colour[..., None])).any(-1))[0, 0])
            raise UserError(f"image {i} has a 2x2 patch with two colours; not representable")
        mask = (lit * BITS).sum(-1)  # (N, T) in 0..15
        tokens = np.where(mask == 0, 0, 1 + colour * 15 + mask - 1)
        return torch.from_numpy(tokens.astype(np.int64))

    # region: patch-decode
    def decode(self, tokens) -> np.ndarray:
        """uint8 images (N, S, S, C) from tokens (N, grid * grid); any valid token sequence
        decodes (the result need not be a clean scene: that is the checker's job)."""
        t = torch.as_tensor(tokens).cpu().numpy().astype(np.int64)
        if t.ndim != 2 or t.shape[1] != self.seq_len:
            raise UserError(f"expected tokens of shape (N, {self.seq_len}), got {t.shape}")
        if t.size and (t.min() < 0 or t.max() >= self.vocab_size):
            raise UserError(f"tokens must lie in 0..{self.vocab_size - 1}")
        n, g, c = len(t), self.grid, self.palette.shape[1]
        colour, mask = (t - 1) // 15, (t - 1) % 15 + 1
        lit = (mask[..., None] & BITS) > 0  # (N, T, 4)
        lit &= (t > 0)[..., None]
        rgb = self.palette[np.clip(colour, 0, None)]  # (N, T, C)
        pix = np.where(lit[..., None], rgb[:, :, None, :], 0).astype(np.uint8)  # (N, T, 4, C)
        return pix.reshape(n, g, g, 2, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, 2 * g, 2 * g, c)

    # endregion
