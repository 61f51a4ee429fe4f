"""Where a generated `shapes` sequence first goes wrong, exactly.

A partial sequence (some positions still masked) is *consistent* if at least one clean scene of
the requested class agrees with every token fixed so far: decoding can still end in a clean
scene of that class. The clean scenes are few (64 per class, 1024 in all), so this is an exact
test, not a learned critic. Replaying a decoder's rounds through it finds the round after which
a sample could no longer succeed, how much of the canvas was fixed around it, and whether the
tokens that broke it were background or object tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch

N_CLASSES = 16  # shape x colour


@cache
def _clean_tokens() -> tuple[torch.Tensor, torch.Tensor]:
    from generative.discrete.data.registry import get_dataset

    shapes = get_dataset("shapes")
    scenes = shapes.scenes()  # the enumeration the exact oracle uses too
    return shapes.tokenizer().encode(scenes.images), torch.from_numpy(scenes.classes)


def clean_tokens() -> tuple[torch.Tensor, torch.Tensor]:
    """Every clean single-object scene as tokens (1024, 64) and its class 4 * shape + colour."""
    tokens, classes = _clean_tokens()
    return tokens.clone(), classes.clone()  # the cache stays untouched by callers


@cache
def _by_class() -> torch.Tensor:
    tokens, cls = _clean_tokens()
    return torch.stack([tokens[cls == k] for k in range(N_CLASSES)])  # (16, 64, N)


def class_scenes(classes: torch.Tensor) -> torch.Tensor:
    """The clean scenes of each requested class: (B, 64 scenes, 64 tokens) for classes (B,)."""
    return _by_class()[classes]  # advanced indexing copies: the cache stays untouched


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
    """Per sample: the round (1-based) after which no clean scene of its class fits, 0 if none
    did; tokens fixed before and after that round; whether every token that round fixed was
    background (token 0): a hole punched in the object to come, rather than a wrong object part."""

    round: torch.Tensor  # (B,) long
    fixed_before: torch.Tensor  # (B,) long
    fixed_after: torch.Tensor  # (B,) long
    background: torch.Tensor  # (B,) bool


def first_error(rounds: list[torch.Tensor], mask_id: int, scenes: torch.Tensor) -> FirstError:
    """Replay decoding rounds (each (B, N), mask_id where masked) against the clean scenes each
    sample may end in, scenes (B, S, N). The canvas starts fully masked (no inpainting), and
    fixed tokens must stay fixed (true of MaskGIT and AR, not of a uniform-kernel D3PM)."""
    B, N = rounds[0].shape
    err, before, after = (torch.zeros(B, dtype=torch.long) for _ in range(3))
    background = torch.zeros(B, dtype=torch.bool)
    prev = torch.full((B, N), mask_id, dtype=torch.long)
    for r, x in enumerate(rounds, start=1):
        broke = (err == 0) & ~consistent(x, mask_id, scenes)  # (B,) inconsistent from now on
        new = (x != mask_id) & (prev == mask_id)  # (B, N) fixed in this round
        err[broke] = r
        before[broke] = (prev != mask_id).sum(1)[broke]
        after[broke] = (x != mask_id).sum(1)[broke]
        background[broke] = ((x == 0) | ~new).all(1)[broke]
        prev = x
    return FirstError(err, before, after, background)
