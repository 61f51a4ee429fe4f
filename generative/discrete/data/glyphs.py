"""Digit images: procedural glyphs (exact tokenizer and checker) and scikit-learn's 8x8 digits.

Glyphs are numbers 0..99 drawn with a 3x5 bitmap font at scale 2 (each digit 6x10 pixels, two
digits 2 pixels apart) on a 16x16 black canvas, at a random offset (the jitter): one channel,
pixels 0 or 255. They give lesson 14 its arithmetic prompts ("3 + 4 =" -> an image of 7) with an
answer that can be checked exactly. Being one-colour images, they tokenize with the same exact
2x2 patch tokenizer as `shapes` (16 tokens, 64 per image); the checker enumerates every clean
glyph image (770 one-digit and 1890 two-digit ones) and looks images up by their bytes.

`sklearn_digits` is the real counterpart: 1797 handwritten 8x8 digits shipped inside
scikit-learn (no download), for learned tokenizers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from generative.discrete.data.checker import CheckResult
from generative.discrete.data.patch_tokenizer import PatchTokenizer
from generative.errors import UserError

SIZE = 16
SCALE = 2
GAP = 2  # pixels between two digits
FONT = {  # 3x5 bitmaps
    0: ["###", "#.#", "#.#", "#.#", "###"],
    1: [".#.", "##.", ".#.", ".#.", "###"],
    2: ["###", "..#", "###", "#..", "###"],
    3: ["###", "..#", ".##", "..#", "###"],
    4: ["#.#", "#.#", "###", "..#", "..#"],
    5: ["###", "#..", "###", "..#", "###"],
    6: ["###", "#..", "###", "#.#", "###"],
    7: ["###", "..#", "..#", ".#.", ".#."],
    8: ["###", "#.#", "###", "#.#", "###"],
    9: ["###", "#.#", "###", "..#", "###"],
}
GLYPH_H, GLYPH_W = 5 * SCALE, 3 * SCALE
PALETTE = np.array([[255]], dtype=np.uint8)  # one colour on black


def bitmap(value: int) -> np.ndarray:
    """bool (10, w) of a number 0..99 at scale 2 (w = 6 for one digit, 14 for two)."""
    parts = []
    for k, d in enumerate(str(value)):
        g = np.array([[c == "#" for c in row] for row in FONT[int(d)]], dtype=bool)
        if k:
            parts.append(np.zeros((5 * SCALE, GAP), dtype=bool))
        parts.append(g.repeat(SCALE, 0).repeat(SCALE, 1))
    return np.concatenate(parts, axis=1)


def offsets(value: int) -> tuple[int, int]:
    """Number of vertical and horizontal positions the number can take on the canvas."""
    h, w = bitmap(value).shape
    return SIZE - h + 1, SIZE - w + 1


def render_glyph(value: int, jy: int, jx: int) -> np.ndarray:
    """uint8 (16, 16, 1): the number with its top-left corner at (jy, jx)."""
    b = bitmap(value)
    img = np.zeros((SIZE, SIZE, 1), dtype=np.uint8)
    img[jy : jy + b.shape[0], jx : jx + b.shape[1], 0] = b * np.uint8(255)
    return img


@dataclass
class GlyphData:
    """images uint8 (N, 16, 16, 1); labels: value, jitter_y, jitter_x as int64 (N,)."""

    images: np.ndarray
    labels: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.images)


def make_glyphs(n: int, seed: int = 0, max_value: int = 9, values=None) -> GlyphData:
    """n glyph images of numbers uniform in 0..max_value (or the given values), random jitter."""
    if not 0 <= max_value <= 99:
        raise UserError(f"make_glyphs: max_value must be in 0..99, got {max_value}")
    rng = np.random.default_rng(seed)
    v = rng.integers(0, max_value + 1, n) if values is None else np.asarray(values, np.int64)
    if v.min(initial=0) < 0 or v.max(initial=0) > 99:
        raise UserError("make_glyphs: values must lie in 0..99")
    jy, jx = np.zeros(len(v), np.int64), np.zeros(len(v), np.int64)
    images = np.zeros((len(v), SIZE, SIZE, 1), dtype=np.uint8)
    for i, value in enumerate(v):
        ny, nx = offsets(int(value))
        jy[i], jx[i] = rng.integers(0, ny), rng.integers(0, nx)
        images[i] = render_glyph(int(value), jy[i], jx[i])
    return GlyphData(images, {"value": v, "jitter_y": jy, "jitter_x": jx})


def glyph_tokenizer() -> PatchTokenizer:
    """The exact 2x2 patch tokenizer for glyphs: vocabulary 16, 64 tokens per image."""
    return PatchTokenizer(palette=PALETTE, size=SIZE)


@cache
def _table() -> dict[bytes, tuple[int, int, int]]:
    table = {}
    for value in range(100):
        ny, nx = offsets(value)
        for jy in range(ny):
            for jx in range(nx):
                key = render_glyph(value, jy, jx).tobytes()
                assert key not in table, "two glyph images coincide"  # the font is unambiguous
                table[key] = (value, jy, jx)
    return table


def check_glyphs(images) -> CheckResult:
    """Validity and (value, jitter) of uint8 images (N, 16, 16, 1) against every clean glyph."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (SIZE, SIZE, 1) or images.dtype != np.uint8:
        raise UserError(
            f"check_glyphs expects uint8 images (N, {SIZE}, {SIZE}, 1), got {images.dtype} "
            f"{tuple(images.shape)}"
        )
    table = _table()
    attrs = np.full((len(images), 3), -1, dtype=np.int64)
    for i, img in enumerate(images):
        hit = table.get(np.ascontiguousarray(img).tobytes())
        if hit is not None:
            attrs[i] = hit
    keys = ("value", "jitter_y", "jitter_x")
    return CheckResult(attrs[:, 0] >= 0, {k: attrs[:, j] for j, k in enumerate(keys)})


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's handwritten digits: float32 images (1797, 8, 8) in [0, 1], labels (1797,)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)
