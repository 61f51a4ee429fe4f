"""Where a generated `shapes` sequence first goes wrong, exactly.

A partial sequence (some positions still masked) is *consistent* if at least one clean scene of
the requested class agrees with every token fixed so far: decoding can still end in a valid
image. The clean scenes are few (64 per class, 1024 in all), so this is an exact test, not a
learned critic. Replaying a decoder's rounds through it finds the round at which a sample became
impossible, and which tokens were fixed then: one that contradicts tokens already on the canvas,
or one that is fine alone but leaves no scene that fits them all.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from generative.discrete import shapes as S


@cache
def clean_tokens() -> tuple[torch.Tensor, torch.Tensor]:
    """Every clean single-object scene as tokens (1024, 64) and its class 4 * shape + colour."""
    from generative.discrete.patch_tokenizer import PatchTokenizer

    images, classes = [], []
    for s, c, q, jy, jx in itertools.product(
        range(len(S.SHAPES)), range(len(S.COLOURS)), range(4), range(S.JITTER), range(S.JITTER)
    ):
        img = np.zeros((S.SIZE, S.SIZE, 3), dtype=np.uint8)
        S.draw(img, s, c, q, jy, jx)
        images.append(img)
        classes.append(4 * s + c)
    return PatchTokenizer().encode(np.stack(images)), torch.tensor(classes)


def consistent(partial: torch.Tensor, mask_id: int, scenes: torch.Tensor) -> torch.Tensor:
    """bool (B,): does some row of scenes (S, N) agree with every fixed token of partial (B, N)?
    scenes may also be per sample, (B, S, N)."""
    fixed = partial != mask_id  # (B, N)
    if scenes.dim() == 2:
        scenes = scenes[None]  # (1, S, N)
    agree = (scenes == partial[:, None]) | ~fixed[:, None]  # (B, S, N)
    return agree.all(-1).any(-1)


@dataclass
class FirstError:
    """Per sample: the round (1-based) after which no clean scene fits, 0 if the sample stayed
    consistent; how many tokens were fixed before that round; whether the tokens fixed in that
    round were all background (token 0)."""

    round: torch.Tensor  # (B,) long
    fixed_before: torch.Tensor  # (B,) long
    background: torch.Tensor  # (B,) bool


def first_error(rounds: list[torch.Tensor], mask_id: int, scenes: torch.Tensor) -> FirstError:
    """Replay decoding rounds (each (B, N), mask_id where masked) against the clean scenes each
    sample may end in, scenes (B, S, N) (its class's scenes)."""
    B, N = rounds[0].shape
    err = torch.zeros(B, dtype=torch.long)
    before = torch.zeros(B, dtype=torch.long)
    background = torch.zeros(B, dtype=torch.bool)
    prev = torch.full((B, N), mask_id, dtype=torch.long)
    for r, x in enumerate(rounds, start=1):
        broke = (err == 0) & ~consistent(x, mask_id, scenes)  # (B,) first inconsistent now
        new = (x != mask_id) & (prev == mask_id)  # (B, N) fixed in this round
        err[broke] = r
        before[broke] = (prev != mask_id).sum(1)[broke]
        background[broke] = ((x == 0) | ~new).all(1)[broke]
        prev = x
    return FirstError(err, before, background)


def class_scenes(classes: torch.Tensor) -> torch.Tensor:
    """The clean scenes of each requested class: (B, 64, 64) for classes (B,)."""
    tokens, cls = clean_tokens()
    table = torch.stack([tokens[cls == k] for k in range(16)])  # (16, 64 scenes, 64 tokens)
    return table[classes]
