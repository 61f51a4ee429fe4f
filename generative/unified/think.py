"""Think then draw on digit glyphs (lesson 14): documents, prompts and the trace surgery.

The corpus mixes three kinds of documents (a, b operands, c = a + b <= 99):

    arithmetic   BOS a + b = c EOS                                   every pair
    drawing      BOS draw c BOI image(c) EOI EOS                     every number
    composite    BOS draw a + b [THINK a + b = c ENDTHINK] BOI image(c) EOI EOS
                                                                      the trained pairs only

THINK documents carry the bracketed trace, DIRECT ones do not. The counterfactual recipe puts a
wrong c' in the trace of some composite documents and draws c' (the c' token itself is not a
target, so the model is not taught to get sums wrong, only to draw what its trace says).
Held-out pairs appear only in arithmetic documents: drawing "a + b" for them needs the model to
compose what it learned from text with what it learned from drawing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from generative.discrete.data.glyphs import glyph_tokenizer, make_glyphs
from generative.unified.documents import T2I, Documents, pad_rows
from generative.unified.vocab import Vocab

VARIANTS = ("direct", "think", "counterfactual")
IMAGE_CODES = 16  # the one-colour glyph tokenizer's codes: the first 16 image ids


@dataclass
class PairSplit:
    """Operand pairs (M, 2) whose composite documents are trained, and the held-out ones."""

    trained: np.ndarray
    held_out: np.ndarray


def split_pairs(max_operand: int = 9, held_out: float = 0.5, seed: int = 0) -> PairSplit:
    """Every (a, b) with a, b in 0..max_operand and a + b <= 99, split at random."""
    pairs = np.array(
        [(a, b) for a in range(max_operand + 1) for b in range(max_operand + 1) if a + b <= 99]
    )
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(pairs))
    k = int(round(held_out * len(pairs)))
    return PairSplit(pairs[np.sort(perm[k:])], pairs[np.sort(perm[:k])])


# region: think-documents
def trace(v: Vocab, a: int, b: int, c: int) -> list[int]:
    """THINK a + b = c ENDTHINK."""
    return [v.THINK, *v.encode_text(f"{a} + {b} = {c}"), v.ENDTHINK]


def composite_prompt(v: Vocab, a: int, b: int, variant: str, c: int | None = None) -> list[int]:
    """What the model is given: `BOS draw a + b` then THINK (it writes the trace) or BOI
    (DIRECT); with c, a forced trace `THINK a + b = c ENDTHINK BOI` (trace surgery)."""
    head = [v.BOS, *v.encode_text(f"draw {a} + {b}")]
    if c is not None:
        return [*head, *trace(v, a, b, c), v.BOI]
    return [*head, v.BOI] if variant == "direct" else [*head, v.THINK]


def composite_document(v: Vocab, a, b, image, variant: str, drawn: int) -> tuple[list, int]:
    """(ids, position of the answer in the trace, -1 if none) of a composite document whose
    image shows `drawn` (a + b, or a counterfactual c')."""
    head = [v.BOS, *v.encode_text(f"draw {a} + {b}")]
    if variant == "direct":
        return [*head, v.BOI, *image, v.EOI, v.EOS], -1
    ids = [*head, *trace(v, a, b, drawn), v.BOI, *image, v.EOI, v.EOS]
    return ids, len(head) + 5  # THINK a + b = [c]


# endregion


def think_corpus(
    v: Vocab,
    split: PairSplit,
    variant: str,
    n: int,
    p_counterfactual: float = 0.3,
    seed: int = 0,
    kinds: tuple = (0, 1, 2),
) -> Documents:
    """n documents of the given kinds (0 arithmetic, 1 drawing, 2 composite) in equal shares,
    glyph images at random jitter."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(np.asarray(kinds), n)
    ab = np.concatenate([split.trained, split.held_out])
    rows, boi, no_loss = [], [], []
    values = np.zeros(n, np.int64)
    plan = []
    for k in kinds:
        if k == 0:
            a, b = ab[rng.integers(len(ab))]
            plan.append((0, a, b, a + b))
        elif k == 1:
            plan.append((1, 0, 0, rng.integers(0, 100)))
        else:
            a, b = split.trained[rng.integers(len(split.trained))]
            c = a + b
            if variant == "counterfactual" and rng.random() < p_counterfactual:
                c = (c + rng.integers(1, 100)) % 100  # any other number
            plan.append((2, a, b, c))
        values[len(plan) - 1] = plan[-1][3]
    codes = v.encode_image(
        glyph_tokenizer().encode(make_glyphs(n, seed=seed, values=values).images)
    )
    for (k, a, b, c), img in zip(plan, codes.tolist(), strict=True):
        answer = -1
        if k == 0:
            ids, start = [v.BOS, *v.encode_text(f"{a} + {b} = {c}"), v.EOS], -1
        elif k == 1:
            ids = [v.BOS, *v.encode_text(f"draw {c}"), v.BOI, *img, v.EOI, v.EOS]
            start = 3
        else:
            ids, answer = composite_document(v, a, b, img, variant, c)
            start = ids.index(v.BOI)
            answer = answer if c != a + b else -1  # only a counterfactual answer is no target
        rows.append(ids)
        boi.append(start)
        no_loss.append(answer)
    tokens = pad_rows(rows, v.PAD)
    mask = torch.zeros_like(tokens, dtype=torch.bool)
    for i, p in enumerate(no_loss):
        if p >= 0:
            mask[i, p] = True
    direction = torch.full((n,), T2I, dtype=torch.long)
    return Documents(tokens, direction, torch.tensor(boi), codes.shape[1], mask)
