"""Documents: text and image tokens in one sequence, both directions in one training mixture.

    text -> image   BOS caption BOI image EOI EOS
    image -> text   BOS BOI image EOI caption EOS

The loss is next-token cross-entropy on every token after BOS (caption words, markers and image
tokens alike); only PAD is excluded. A batch is right-padded with PAD, so a causal model never
sees the padding of a row before that row's own last token.

The image -> text documents also teach the unconditional image model: their prefix `BOS BOI
image` is exactly what classifier-free guidance asks for with the caption dropped, so guidance
needs no extra caption dropout (`drop_caption` adds it anyway, as `BOS BOI image EOI EOS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from generative.unified.vocab import Vocab

T2I, I2T = 0, 1  # document directions


# region: documents
def t2i_document(v: Vocab, caption: list[int], image: list[int]) -> list[int]:
    return [v.BOS, *caption, v.BOI, *image, v.EOI, v.EOS]


def i2t_document(v: Vocab, caption: list[int], image: list[int]) -> list[int]:
    return [v.BOS, v.BOI, *image, v.EOI, *caption, v.EOS]


# endregion


@dataclass
class Documents:
    """tokens (N, L) right-padded with PAD; direction (N,) T2I or I2T; boi (N,) the position of
    each row's BOI (the image span is boi + 1 .. boi + image_len; -1: a text-only row);
    no_loss (N, L) True on tokens that are never targets (a counterfactual trace's answer)."""

    tokens: torch.Tensor
    direction: torch.Tensor
    boi: torch.Tensor
    image_len: int
    no_loss: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    def targets(self, pad: int) -> torch.Tensor:
        """bool (N, L): the tokens the loss predicts (neither BOS, PAD nor no_loss)."""
        keep = self.tokens != pad
        keep[:, 0] = False
        return keep if self.no_loss is None else keep & ~self.no_loss

    def inputs_targets(self, pad: int):
        """(inputs, targets, loss_mask) for next-token prediction: position i predicts token
        i + 1; loss on every target that is not PAD (nor marked no_loss)."""
        x, y = self.tokens[:, :-1], self.tokens[:, 1:]
        return x, y, self.targets(pad)[:, 1:]

    def image_span(self) -> torch.Tensor:
        """bool (N, L): the image tokens of every row (between BOI and EOI)."""
        pos = torch.arange(self.tokens.shape[1])[None]
        start = self.boi[:, None] + 1
        return (pos >= start) & (pos < start + self.image_len) & (self.boi[:, None] >= 0)

    def take(self, rows) -> Documents:
        """The given rows (an index or a slice: a process's shard of the batch)."""
        nl = None if self.no_loss is None else self.no_loss[rows]
        return Documents(
            self.tokens[rows], self.direction[rows], self.boi[rows], self.image_len, nl
        )


def pad_rows(rows: list[list[int]], pad: int, length: int | None = None) -> torch.Tensor:
    """Right-pad lists of ids to one length: LongTensor (N, L)."""
    length = max(len(r) for r in rows) if length is None else length
    out = torch.full((len(rows), length), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out


def make_documents(
    v: Vocab,
    captions: list,
    codes: torch.Tensor,
    directions: np.ndarray,
    drop_caption: np.ndarray | None = None,
) -> Documents:
    """One document per (caption, image codes (N, image_len)) pair in the given directions (a
    caption is a string or its ids); drop_caption (bool (N,)) empties the caption of those
    text -> image rows."""
    image = v.encode_image(codes)  # (N, image_len) vocabulary ids
    rows, boi = [], []
    for i, (text, d) in enumerate(zip(captions, directions, strict=True)):
        cap = v.encode_text(text) if isinstance(text, str) else list(text)
        if drop_caption is not None and drop_caption[i] and d == T2I:
            cap = []
        img = image[i].tolist()
        rows.append(t2i_document(v, cap, img) if d == T2I else i2t_document(v, cap, img))
        boi.append(1 + len(cap) if d == T2I else 1)
    return Documents(
        pad_rows(rows, v.PAD),
        torch.as_tensor(np.asarray(directions), dtype=torch.long),
        torch.tensor(boi, dtype=torch.long),
        image.shape[1],
    )


def mixture(
    v: Vocab,
    captions: list[str],
    codes: torch.Tensor,
    p_t2i: float = 0.5,
    p_drop: float = 0.0,
    seed: int = 0,
) -> Documents:
    """Both directions in one set: each pair becomes a text -> image document with probability
    p_t2i, else an image -> text one; p_drop drops the caption of text -> image documents."""
    rng = np.random.default_rng(seed)
    n = len(captions)
    directions = np.where(rng.random(n) < p_t2i, T2I, I2T)
    drop = rng.random(n) < p_drop
    return make_documents(v, captions, codes, directions, drop)


def prompts_t2i(v: Vocab, captions: list[str]) -> list[list[int]]:
    """`BOS caption BOI`: the model writes the image, then EOI and EOS."""
    return [[v.BOS, *v.encode_text(c), v.BOI] for c in captions]


def prompts_i2t(v: Vocab, codes: torch.Tensor) -> list[list[int]]:
    """`BOS BOI image EOI`: the model writes the caption, then EOS."""
    image = v.encode_image(codes)
    return [[v.BOS, v.BOI, *row.tolist(), v.EOI] for row in image]
