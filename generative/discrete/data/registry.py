"""The token data sets by name. Each is a generator of random scenes, an exact tokenizer, an
exact checker and, since its clean scenes are few, their enumeration (which the exact oracle
needs). Adding a data set means adding one entry to DATASETS; nothing else switches on names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from generative.errors import unknown_choice


@dataclass
class Scenes:
    """Images with what a condition can say about them: a class id and (maybe) a caption;
    prob: each scene's probability under the generator (enumerations only, else None)."""

    images: np.ndarray  # uint8 (M, 16, 16, C)
    classes: np.ndarray  # int64 (M,)
    captions: list[str] | None = None
    prob: np.ndarray | None = None  # float64 (M,), sums to 1
    labels: dict | None = None  # the generator's attributes, name -> int64 (M,)


@dataclass(frozen=True)
class TokenSet:
    """One data set: make(n, seed) draws n scenes; scenes() lists every clean one once."""

    name: str
    num_classes: int
    make: Callable[[int, int], Scenes]
    scenes: Callable[[], Scenes]
    tokenizer: Callable[[], object]  # -> a tokenizer with encode/decode, vocab_size, seq_len
    check: Callable[[np.ndarray], object]  # uint8 images -> checker.CheckResult
    class_labels: Callable[[np.ndarray], dict]  # class ids -> the attributes they ask for
    captions: bool = False


# region: shapes-set
def _shapes_make(n: int, seed: int) -> Scenes:
    from generative.discrete.data.shapes import make_shapes

    d = make_shapes(n, seed=seed)
    return Scenes(d.images, 4 * d.labels["shape"] + d.labels["colour"], d.captions, None, d.labels)


def _shapes_scenes() -> Scenes:
    """The 1024 clean single-object scenes; make_shapes draws each with the same probability."""
    from generative.discrete.data.checker import clean_scenes
    from generative.discrete.data.shapes import caption

    images, labels = clean_scenes()  # labels (M, 5): shape, colour, quadrant, jy, jx
    caps = [caption(*(int(v) for v in lab[:3])) for lab in labels]
    prob = np.full(len(images), 1.0 / len(images))
    return Scenes(images, 4 * labels[:, 0] + labels[:, 1], caps, prob)


def _shapes_check(images):
    from generative.discrete.data.checker import check

    return check(images)


def _patch_tokenizer():
    from generative.discrete.data.patch_tokenizer import PatchTokenizer

    return PatchTokenizer()


# endregion


# region: glyphs-set
GLYPH_MAX = 9  # the token generators learn one-digit numbers (classes 0..9)


def _glyphs_make(n: int, seed: int) -> Scenes:
    from generative.discrete.data.glyphs import make_glyphs

    d = make_glyphs(n, seed=seed, max_value=GLYPH_MAX)
    return Scenes(d.images, d.labels["value"], None, None, d.labels)


def _glyphs_scenes() -> Scenes:
    """Every number 0..9 at every offset: value uniform, then offset uniform given the value."""
    from generative.discrete.data.glyphs import offsets, render_glyph

    images, classes, prob = [], [], []
    for v in range(GLYPH_MAX + 1):
        ny, nx = offsets(v)
        for jy in range(ny):
            for jx in range(nx):
                images.append(render_glyph(v, jy, jx))
                classes.append(v)
                prob.append(1.0 / ((GLYPH_MAX + 1) * ny * nx))
    return Scenes(np.stack(images), np.array(classes, np.int64), None, np.array(prob))


def _glyphs_check(images):
    from generative.discrete.data.glyphs import check_glyphs

    return check_glyphs(images)


def _glyph_tokenizer():
    from generative.discrete.data.glyphs import glyph_tokenizer

    return glyph_tokenizer()


# endregion

DATASETS = {
    "shapes": TokenSet(
        "shapes",
        num_classes=16,  # shape x colour; quadrant and jitter left free
        make=_shapes_make,
        scenes=_shapes_scenes,
        tokenizer=_patch_tokenizer,
        check=_shapes_check,
        class_labels=lambda c: {"shape": c // 4, "colour": c % 4},
        captions=True,
    ),
    "digits-glyphs": TokenSet(
        "digits-glyphs",
        num_classes=GLYPH_MAX + 1,
        make=_glyphs_make,
        scenes=_glyphs_scenes,
        tokenizer=_glyph_tokenizer,
        check=_glyphs_check,
        class_labels=lambda c: {"value": c},
    ),
}


def get_dataset(name: str) -> TokenSet:
    if name not in DATASETS:
        raise unknown_choice("token data set", name, DATASETS)
    return DATASETS[name]
