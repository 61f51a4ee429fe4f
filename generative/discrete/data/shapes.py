"""`shapes`: 16x16 RGB scenes of one (or two) coloured shapes, generated exactly, with captions.

A scene is black except for one object: a 5x5 shape (square, circle, triangle, cross) in one of
four pure colours, inside one 8x8 quadrant, shifted by a jitter of 0..3 pixels on each axis.
Every pixel is black or one palette colour, and an object never crosses its quadrant, so every
2x2 patch (patches start at even coordinates) holds at most one colour: the exact patch tokenizer
(`patch_tokenizer.py`) needs only 1 + 15 x 4 = 61 tokens, and the whole set of clean scenes is
small enough to enumerate (`checker.py`): 4 x 4 x 4 x 16 = 1024 single-object images.

The two-object variant puts one object in each half (left: columns 0-7, right: columns 8-15),
each in the top or bottom quadrant of its half, so captions can talk about binding ("the red
square") and relations ("above", "left of"). Attributes of the two objects are drawn independently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generative.errors import UserError

SIZE = 16  # image side
QUAD = 8  # quadrant side
SHAPE = 5  # shape bounding box
JITTER = QUAD - SHAPE + 1  # offsets 0..3 on each axis

SHAPES = ("square", "circle", "triangle", "cross")
COLOURS = ("red", "green", "blue", "yellow")
PALETTE = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]], dtype=np.uint8)
QUADRANTS = ("top left", "top right", "bottom left", "bottom right")  # index = 2 * row + col


def _mask(rows: list[str]) -> np.ndarray:
    return np.array([[c == "#" for c in r] for r in rows], dtype=bool)


# 25, 21, 13 and 9 pixels: no two shapes can produce the same image at any position
MASKS = np.stack(
    [
        _mask(["#####", "#####", "#####", "#####", "#####"]),
        _mask([".###.", "#####", "#####", "#####", ".###."]),
        _mask(["..#..", "..#..", ".###.", ".###.", "#####"]),
        _mask(["..#..", "..#..", "#####", "..#..", "..#.."]),
    ]
)  # (4, 5, 5)


@dataclass
class ShapesData:
    """images uint8 (N, 16, 16, 3); labels: name -> int64 array, (N,) for one object and
    (N, 2) for two (object 0 on the left, 1 on the right); captions: one string per image."""

    images: np.ndarray
    labels: dict[str, np.ndarray]
    captions: list[str]

    def __len__(self) -> int:
        return len(self.images)


def draw(image: np.ndarray, shape: int, colour: int, quadrant: int, jy: int, jx: int):
    """Paint one object into image (16, 16, 3) in place."""
    y = (quadrant // 2) * QUAD + jy
    x = (quadrant % 2) * QUAD + jx
    image[y : y + SHAPE, x : x + SHAPE][MASKS[shape]] = PALETTE[colour]


def render(shape, colour, quadrant, jy, jx) -> np.ndarray:
    """Images (N, 16, 16, 3) from label arrays of shape (N,) or (N, k) for k objects each."""
    cols = [np.asarray(v).reshape(len(np.asarray(shape)), -1) for v in (shape, colour, quadrant)]
    jit = [np.asarray(v).reshape(len(cols[0]), -1) for v in (jy, jx)]
    images = np.zeros((len(cols[0]), SIZE, SIZE, 3), dtype=np.uint8)
    for i in range(len(images)):
        for k in range(cols[0].shape[1]):
            draw(images[i], cols[0][i, k], cols[1][i, k], cols[2][i, k], jit[0][i, k], jit[1][i, k])
    return images


def caption(shape: int, colour: int, quadrant: int) -> str:
    return f"a {COLOURS[colour]} {SHAPES[shape]} in the {QUADRANTS[quadrant]}"


def caption_pair(shape, colour, quadrant) -> str:
    """Two objects (left, right): both described, then their vertical relation."""
    a, b = (f"a {COLOURS[colour[k]]} {SHAPES[shape[k]]}" for k in (0, 1))
    rows = [q // 2 for q in quadrant]
    if rows[0] == rows[1]:
        rel = "level with"
    else:
        rel = "above" if rows[0] < rows[1] else "below"
    return f"{a} on the left, {rel} {b} on the right"


def make_shapes(n: int, seed: int = 0, two_objects: bool = False) -> ShapesData:
    """n scenes drawn uniformly over shape x colour x quadrant x jitter (per object)."""
    if n < 1:
        raise UserError(f"make_shapes: n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    k = 2 if two_objects else 1
    shape = rng.integers(0, len(SHAPES), (n, k))
    colour = rng.integers(0, len(COLOURS), (n, k))
    if two_objects:  # left object in quadrant 0 or 2, right object in 1 or 3
        quadrant = 2 * rng.integers(0, 2, (n, k)) + np.array([0, 1])
    else:
        quadrant = rng.integers(0, len(QUADRANTS), (n, k))
    jy, jx = rng.integers(0, JITTER, (n, k)), rng.integers(0, JITTER, (n, k))
    images = render(shape, colour, quadrant, jy, jx)
    squeeze = (lambda a: a[:, 0]) if k == 1 else (lambda a: a)
    labels = {
        "shape": squeeze(shape),
        "colour": squeeze(colour),
        "quadrant": squeeze(quadrant),
        "jitter_y": squeeze(jy),
        "jitter_x": squeeze(jx),
    }
    if two_objects:
        captions = [caption_pair(shape[i], colour[i], quadrant[i]) for i in range(n)]
    else:
        captions = [caption(shape[i, 0], colour[i, 0], quadrant[i, 0]) for i in range(n)]
    return ShapesData(images, labels, captions)


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [0, 1], the layout conv nets take."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
