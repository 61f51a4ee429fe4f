"""Editing as token surgery on two-object scenes (Show-o mode).

A two-object scene has one object in each half (left: pixel columns 0-7, right: 8-15), and the
exact 2x2 patch tokenizer maps each half to its own tokens (patch columns 0-3 and 4-7 of every
patch row). An edit changes one object's words in the caption, re-masks only that half's image
tokens and lets masked parallel decoding rewrite them under the edited caption: every token of
the other half is given to the decoder and never touched, so that half stays pixel-identical by
construction. Regeneration, the baseline, writes the whole image again from the edited caption.
"""

from __future__ import annotations

import itertools
import re

import torch

from generative.discrete.data import shapes as S
from generative.errors import UserError
from generative.unified.showo import showo_generate
from generative.unified.vocab import Vocab

GRID = S.SIZE // 2  # patches per side


def half_positions(half: int) -> torch.Tensor:
    """bool (64,): the image tokens of the left (0) or right (1) half, raster order."""
    col = torch.arange(GRID * GRID) % GRID
    return col // (GRID // 2) == half


# region: instruction
SIDES = ("left", "right")
FILLERS = ("make", "turn", "change", "paint", "the", "object", "one", "colour", "shape", "to",
           "into", "a", "an", "be", "it")  # fmt: skip
GRAMMAR = """An edit instruction names a side and one new colour or shape; other words are fillers:
    [make|turn|change|paint] [the] SIDE [object|one|colour|shape] [to|into|a|an|be] WORD
    SIDE: left | right      WORD: a colour (red green blue yellow) or a shape (square circle
    triangle cross); e.g. "make the left object blue", "left square", "turn the right one
    into a cross"."""


def parse_instruction(text: str) -> tuple[int, str]:
    """(half: 0 left, 1 right; the new colour or shape word) of an edit instruction (GRAMMAR);
    an unknown word, or not exactly one side and one colour or shape, is a UserError."""
    words = re.sub(r"[,.;:!?]", " ", text.lower()).split()  # "make the left one blue." too
    attrs = S.COLOURS + S.SHAPES
    for w in words:
        if w not in SIDES + attrs + FILLERS:
            raise UserError(
                f"unknown word '{w}' in the instruction '{text}'; the instruction's words are: "
                f"sides {' '.join(SIDES)}; colours {' '.join(S.COLOURS)}; shapes "
                f"{' '.join(S.SHAPES)}; fillers {' '.join(FILLERS)}"
            )
    sides = [w for w in words if w in SIDES]
    new = [w for w in words if w in attrs]
    if len(sides) != 1 or len(new) != 1:
        what = "side (left or right)" if len(sides) != 1 else "colour or shape"
        raise UserError(f"the instruction '{text}' needs exactly one {what}.\n{GRAMMAR}")
    return SIDES.index(sides[0]), new[0]


def pair_captions() -> set[str]:
    """Every caption of a two-object scene (shapes-two): both objects' words, their relation."""
    n, k = range(len(S.SHAPES)), range(len(S.COLOURS))
    rows = [(0, 1), (0, 3), (2, 1)]  # level with, above, below (the left object's quadrant first)
    return {
        S.caption_pair(s, c, q)
        for s in itertools.product(n, n)
        for c in itertools.product(k, k)
        for q in rows
    }


# endregion


# region: caption-surgery
def edit_caption(v: Vocab, ids: list[int], half: int, word: str) -> list[int]:
    """Replace the colour or shape word of object `half` (0 left, 1 right) of a two-object
    caption by `word`, a colour or a shape: the objects' words come in order, left first."""
    if word in S.COLOURS:
        kind = S.COLOURS
    elif word in S.SHAPES:
        kind = S.SHAPES
    else:
        raise UserError(
            f"an edit word must be a colour or a shape ({S.COLOURS + S.SHAPES}), got '{word}'"
        )
    where = [i for i, t in enumerate(ids) if v.text[t] in kind]
    if len(where) != 2:
        raise UserError("edit_caption needs a two-object caption (two colours, two shapes)")
    out = list(ids)
    out[where[half]] = v.ids[word]
    return out


# endregion


# region: token-surgery
def surgery(
    model,
    v: Vocab,
    captions: list[list[int]],
    codes: torch.Tensor,
    half: torch.Tensor,
    steps: int = 8,
    guidance: float = 1.0,
    generator=None,
    temperature: float = 1.0,
):
    """Re-write the image tokens of the given half (B,) of every image codes (B, 64) under the
    (edited) captions, keeping the other half's tokens: (codes (B, 64), network calls)."""
    redo = torch.stack([half_positions(int(h)) for h in half])  # (B, 64)
    known = codes.masked_fill(redo, v.image_codes)  # the code-space mask id
    prompts = [[v.BOS, *c, v.BOI] for c in captions]
    return showo_generate(
        model,
        v,
        prompts,
        codes.shape[1],
        steps=steps,
        guidance=guidance,
        known=known,
        generator=generator,
        temperature=temperature,
    )


# endregion
