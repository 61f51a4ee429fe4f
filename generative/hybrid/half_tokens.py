"""The reduced representation: an exact tokenizer with one token per half of a two-object scene.

A two-object scene holds one object in each half (16 x 8 pixels), and each half is one of 512
clean halves (shape x colour x row x jitter_y x jitter_x = 4 x 4 x 2 x 4 x 4; the enumeration of
discrete/data/checker.py that score.py snaps to). So an image is 2 tokens, each half's index
among its clean halves, instead of 64 patch tokens:

    encode   snap each half to its nearest clean half (score.snap): exact on clean scenes, and
             a noisy scene becomes the scene the checker reads in it
    decode   paste the two clean halves

Every token pair decodes to a clean scene, so a generator over these tokens cannot draw an
invalid pixel: what is left to learn is which half goes with which caption, the binding. The
index order is the enumeration's, the same on both sides, so token t means the same (shape,
colour, row, jitter) on the left as on the right.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from generative.discrete.data import shapes as S
from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.errors import UserError, unknown_choice
from generative.hybrid.score import _clean_halves, snap

TOKENS = {
    "patch": "64 exact 2x2 patch tokens, 61 codes (PatchTokenizer)",
    "half": "2 tokens, each half's index among its 512 clean halves (HalfTokenizer)",
}
# the enumeration's axes (discrete/data/checker.clean_scenes): shape, colour, row, jy, jx
AXES = (len(S.SHAPES), len(S.COLOURS), 2, S.JITTER, S.JITTER)


@cache
def _lookup(half: int) -> dict[bytes, int]:
    """bytes of every clean half -> its index: the exact fast path of encode."""
    clean, _ = _clean_halves(half)
    return {np.ascontiguousarray(h).tobytes(): i for i, h in enumerate(clean)}


class HalfTokenizer:
    """encode: uint8 (N, 16, 16, 3) -> LongTensor (N, 2); decode: the clean scene of each pair."""

    vocab_size = int(np.prod(AXES))  # 512 clean halves per side
    seq_len = 2  # left half, right half

    def __init__(self):
        for h in (0, 1):  # the enumeration the indices name
            _, labels = _clean_halves(h)
            if not (self.index(labels) == np.arange(self.vocab_size)).all():
                raise RuntimeError("the clean-half enumeration changed order; update AXES")

    @staticmethod
    def index(labels: np.ndarray) -> np.ndarray:
        """Token of a clean half from its labels (..., 5): (shape, colour, quadrant, jy, jx)."""
        labels = np.asarray(labels)
        row = labels[..., 2] // 2  # quadrant -> row
        axes = (labels[..., 0], labels[..., 1], row, labels[..., 3], labels[..., 4])
        return np.ravel_multi_index(axes, AXES)

    def encode(self, images) -> torch.Tensor:
        """Tokens (N, 2): each half's clean half, looked up exactly, or snapped when no clean
        half matches (the nearest by pixels that differ, as score.snap reads it)."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:] != (S.SIZE, S.SIZE, 3):
            raise UserError(f"expected uint8 images of shape (N, {S.SIZE}, {S.SIZE}, 3), got "
                            f"{tuple(images.shape)}")  # fmt: skip
        tokens = np.full((len(images), 2), -1, dtype=np.int64)
        for h in (0, 1):
            table = _lookup(h)
            halves = np.ascontiguousarray(images[:, :, h * S.QUAD : (h + 1) * S.QUAD])
            tokens[:, h] = [table.get(x.tobytes(), -1) for x in halves]
        miss = (tokens < 0).any(1)
        if miss.any():  # off the clean set: snap both halves of those images
            tokens[miss] = self.index(snap(images[miss]).labels)
        return torch.from_numpy(tokens)

    def decode(self, tokens) -> np.ndarray:
        """uint8 images (N, 16, 16, 3): the two clean halves pasted side by side."""
        t = torch.as_tensor(tokens).long().numpy()
        if t.ndim != 2 or t.shape[1] != 2:
            raise UserError(f"half tokens are (N, 2), got {tuple(t.shape)}")
        if ((t < 0) | (t >= self.vocab_size)).any():
            raise UserError(f"half tokens lie in 0..{self.vocab_size - 1}; a MASK or another "
                            "tokenizer's code was passed")  # fmt: skip
        halves = [_clean_halves(h)[0][t[:, h]].reshape(len(t), S.SIZE, S.QUAD, 3) for h in (0, 1)]
        return np.concatenate(halves, axis=2)


def make_tokenizer(name: str):
    """The image tokenizer a masked generator works over: 'patch' or 'half'."""
    if name not in TOKENS:
        raise unknown_choice("tokens", name, TOKENS)
    return PatchTokenizer() if name == "patch" else HalfTokenizer()
